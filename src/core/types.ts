/**
 * Core types shared by every stage of the one path:
 * source -> parse -> normalize -> fan out -> per output: queue -> batch -> send -> classify.
 *
 * Sources produce {@link RawRecord}s in {@link RecordBatch}es, the parser turns the kernel
 * message text into a {@link ParsedMessage}, the assembler combines both into an
 * {@link LkrgEvent}, normalizers encode that event (ECS, CEF, ...) and outputs deliver it.
 */

/** Which container the kernel message was read from. */
export type ContainerFormat =
  | 'logger'          // lkrg-logger store record: recv,send,send_uptime,prio,seq,event_uptime,flag;msg
  | 'journal-json'    // journalctl --output=json
  | 'journal-export'  // journalctl --output=export
  | 'journal-short'   // journalctl short / short-iso / short-precise
  | 'dmesg'           // "[ 1234.567890] msg", optionally with caller id, -x prefix
  | 'dmesg-t'         // "[Mon Oct 14 09:58:23 2024] msg"
  | 'syslog'          // RFC 3164 "Mon DD HH:MM:SS host kernel: msg"
  | 'syslog-5424'     // RFC 5424 / RFC 3339 timestamped syslog lines
  | 'logctl'          // lkrg-logctl output "YYYY-MM-DDTHH:MM:SSZ - msg"
  | 'console'         // serial console capture "[ 1.234][T1] msg"
  | 'bare'            // the message text alone
  | 'ecs';            // an ECS document an upstream lkrg-siem wrote (forwarded unchanged)

/**
 * An ECS document written by an upstream lkrg-siem (its kafka output), read back by the kafka
 * source and forwarded unchanged: no parsing, no normalizing, the same event.id. Built by
 * forwardedDocument() (src/parse/forwarded-document.ts).
 */
export interface ForwardedDocument {
  /** The document's compact JSON text exactly as received: what every ECS output sends. */
  readonly json: string;
  readonly id: string;
  readonly dataset: string;
  readonly namespace: string;
  /** Its `event.severity` (0 when it has none): per-output filters read it. */
  readonly severity: number;
  /** A non-LKRG kernel line (`event.action: kernel-message`): per-output filters read it. */
  readonly kernelLine: boolean;
  /** What the document says about the LKRG message (for the run summary and metrics). */
  readonly parsed: ParsedMessage;
  readonly forged: boolean;
}

/**
 * Where a record came from and how to resume after it. JSON-serializable; opaque to
 * everything but the source that produced it. Stored in the state database together with
 * whatever the record produced (see StateStore).
 */
export type SourcePosition = Readonly<Record<string, unknown>>;

/** Host identity as far as the container tells it. */
export interface HostIdentity {
  /** Host name (journald _HOSTNAME, syslog host field). */
  readonly name?: string;
  /** Client IPv4 of an lkrg-logger store file (the file name). */
  readonly ip?: string;
  /** Boot id: journald _BOOT_ID, or synthesised per boot for logger store files. */
  readonly bootId?: string;
  /** Machine id (journald _MACHINE_ID). */
  readonly id?: string;
}

/** Things a source noticed about the stream itself rather than about one message. */
export type StreamNoticeType =
  | 'gap'          // kmsg sequence numbers missing inside one boot
  | 'reboot'       // a new boot started (uptime and seq went back)
  | 'duplicate'    // a reconnect resend (same boot and seq) was dropped
  | 'quiet'        // no LKRG heartbeat for longer than expected (live mode)
  | 'truncated'    // a followed file shrank or was replaced
  | 'journal-missed'; // journald's "Missed N kernel messages"

/** A notice about the stream (gap, reboot, ...), carried by a synthetic record. */
export interface StreamNotice {
  readonly type: StreamNoticeType;
  /** For gaps: number of records missing. */
  readonly missing?: number;
  /** For gaps: last seq seen before and first seq after. */
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** Previous boot id for reboots. */
  readonly previousBootId?: string;
  /**
   * For duplicates: how many records were dropped (one notice per run of consecutive
   * duplicates); fromSeq/toSeq then give the seq range. Set by the logger-store source.
   */
  readonly count?: number;
  /** Free text for the summary and the ECS message. */
  readonly detail: string;
}

/**
 * One kernel log record (or a synthetic stream notice) as read by a source, before the
 * kernel message text is interpreted. Produced by sources; consumed by the assembler.
 */
export interface RawRecord {
  /** Identity of the stream (file identity, journal, stdin), stable across restarts. */
  readonly streamId: string;
  /** Human-readable origin for reports, e.g. the file path or "journald". */
  readonly origin: string;
  /** Byte offset (or line number for non-file streams) where the record starts. */
  readonly offset: number;
  /** 1-based line number inside the stream when known. */
  readonly line?: number;
  readonly container: ContainerFormat;
  /** The exact original line(s) as read, escapes kept. */
  readonly original: string;
  /** The kernel message text with transport prefixes removed and \xNN escapes decoded. */
  readonly text: string;
  readonly host: HostIdentity;
  /** Event time, epoch microseconds, rebuilt from the container (null: unknown). */
  readonly timeUs: number | null;
  /** When the record was received/stored (logger recv_usec, journald realtime), epoch µs. */
  readonly receivedUs?: number;
  /** Kernel monotonic timestamp of the record, µs since boot. */
  readonly uptimeUs?: number;
  /** kmsg sequence number, where the container has one. */
  readonly seq?: number;
  /** Syslog facility/severity and identifier as the container states them. */
  readonly facility?: number;
  readonly severity?: number;
  readonly identifier?: string;
  /** journald _TRANSPORT. */
  readonly transport?: string;
  /** lkrg-logger flag: '-' or 'c' (continuation fragment). */
  readonly flag?: '-' | 'c';
  /**
   * False when the container proves the line did not come from the kernel (facility != 0,
   * identifier != kernel, transport != kernel). Undefined when the container cannot tell.
   */
  readonly kernelOrigin?: boolean;
  /** Set on synthetic records that report a stream condition instead of a message. */
  readonly notice?: StreamNotice;
  /** Set when the record is a finished ECS document from an upstream lkrg-siem (container `ecs`). */
  readonly document?: ForwardedDocument;
  /** Further fields the container carried (journald cursor etc.), kept for ECS labels. */
  readonly extra?: Readonly<Record<string, string>>;
}

/** A record the source could not read: kept in the dead-letter store, never dropped silently. */
export interface MalformedRecord {
  readonly streamId: string;
  readonly origin: string;
  readonly offset: number;
  readonly line?: number;
  readonly reason: string;
  /** The raw bytes as text (latin1 for binary junk), truncated to a sane size by the source. */
  readonly raw: string;
}

/**
 * What a source hands to the pipeline: records in input order, malformed input, and the
 * positions to store once everything in this batch has been committed. Positions are
 * keyed by streamId; a batch may advance several streams (live tail of many files).
 */
export interface RecordBatch {
  readonly records: readonly RawRecord[];
  readonly malformed: readonly MalformedRecord[];
  readonly positions: Readonly<Record<string, SourcePosition>>;
  /** Bytes consumed by this batch (progress reporting). */
  readonly bytes: number;
}

/** Context the pipeline gives a source when it starts. */
export interface SourceContext {
  /** Saved position per streamId (from the state database), undefined on first run. */
  readonly positions: ReadonlyMap<string, SourcePosition>;
  /** Aborted on shutdown; sources stop reading and return. */
  readonly signal: AbortSignal;
  /** Diagnostic log (one line per condition, never per record). */
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /**
   * Sets a gauge of this source for the monitoring endpoint (`/metrics`); a null value removes
   * the series. Optional: absent when nothing serves metrics (parse, tests).
   */
  readonly gauge?: (family: SourceGaugeFamily, labels: Readonly<Record<string, string>>, value: number | null) => void;
  /**
   * Reports a condition that keeps the source from reading its input (journalctl keeps exiting,
   * the store directory is missing, no file matches the paths, the Kafka consumer restarts), or
   * null once it reads again. While a problem is set, `/health` answers 503 naming the source and
   * `lkrg_siem_source_up` is 0. Optional: absent in `parse` and in tests.
   */
  readonly health?: (problem: string | null) => void;
}

/**
 * Gauges a source can set through {@link SourceContext.gauge}. The pipeline adds a `source`
 * label (the source's state id) to the file families; the Kafka lag is labelled by group, topic
 * and partition.
 */
export type SourceGaugeFamily = 'kafka_consumer_lag' | 'file_unread_bytes' | 'files_followed';

/**
 * A source of kernel records. Called by the pipeline once; it yields batches until its
 * input ends (replay) or the signal aborts (live). The pipeline commits each batch's
 * positions in the same transaction as what the batch produced, so a source never writes
 * state itself. Errors: throwing a {@link ConfigError} or an I/O error ends the run with
 * that message; malformed input must be reported in `malformed`, never thrown.
 */
export interface Source {
  readonly id: string;
  /** Total bytes to read, when known (replay progress bar). */
  totalBytes?(): Promise<number | undefined>;
  read(ctx: SourceContext): AsyncIterable<RecordBatch>;
}

/** LKRG message levels (current format) plus legacy and raw families. */
export type LkrgLevel =
  | 'ALERT' | 'ALIVE' | 'STATE' | 'DYING' | 'FAULT' | 'FATAL' | 'ISSUE' | 'WATCH' | 'DEBUG' | 'FLOOD'
  | 'CRIT' | 'ERR' | 'WARN' | 'INFO' | 'DBG' | 'PANIC' | 'RAWCRIT' | 'RAW';

/** Result of interpreting one kernel message text. Produced by the message parser. */
export interface ParsedMessage {
  /** True for lines LKRG printed (current, legacy, or companion raw lines of an alert). */
  readonly isLkrg: boolean;
  /** Catalog template id, 'unknown' for an LKRG line matching no template, null for non-LKRG. */
  readonly templateId: string | null;
  readonly style: 'current' | 'legacy' | 'raw' | null;
  readonly level: LkrgLevel | null;
  readonly action: 'DETECT' | 'BLOCK' | 'ALLOW' | null;
  readonly category: string | null;
  /** Named fields extracted by the template, as text (typed by the normalizer). */
  readonly fields: Readonly<Record<string, string>>;
  /** The message text after the `LKRG: <LEVEL>: ` / `[p_lkrg] ` prefix. */
  readonly body: string;
}

/**
 * The one event shape mappings and outputs start from. Built by the assembler from a
 * RawRecord (+ companion records) and its ParsedMessage. Immutable once built.
 */
export interface LkrgEvent {
  /** Deterministic id: host + boot + kmsg seq where known, else stream + offset. */
  readonly id: string;
  readonly record: RawRecord;
  readonly parsed: ParsedMessage;
  /** Companion lines attached to this alert (hidden-module block, panic line), originals. */
  readonly companions: readonly RawRecord[];
  /** A line that claims to be LKRG but did not come from the kernel. */
  readonly forged: boolean;
  /** When the forwarder read it, epoch ms. */
  readonly readAtMs: number;
}

/** Per-event answer of an output's send(). */
export type DeliveryResult =
  | { readonly status: 'delivered' }
  | { readonly status: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly status: 'rejected'; readonly reason: string };

/** A configuration problem: names the key, the bad value and the fix. Exit code 2. */
/**
 * A source cannot go on for a reason outside lkrg-siem (a broker refused the login, a server is
 * unreachable): thrown by a source's read(); the CLI prints the message, which names the source
 * and what failed, without a stack trace, and exits 1.
 */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly fix: string,
  ) {
    super(`${key}: ${formatValue(value)} is not valid: ${fix}`);
    this.name = 'ConfigError';
  }
}

function formatValue(value: unknown): string {
  if (value === undefined) return 'missing value';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
