/**
 * One `journalctl --output=json` entry → container fields (reference/lkrg.md §7).
 *
 * Values are strings; a value that is not printable UTF-8 comes as an array of byte values
 * (decoded losslessly: bytes → UTF-8 text with U+FFFD, `original` keeps a `\xNN`-escaped
 * form); multi-valued fields come as arrays of values (the first is used). Event time =
 * __REALTIME_TIMESTAMP − (__MONOTONIC_TIMESTAMP − _SOURCE_MONOTONIC_TIMESTAMP) when all are
 * present and in the same boot, else __REALTIME_TIMESTAMP. kernelOrigin = _TRANSPORT is
 * kernel, SYSLOG_FACILITY absent or 0, SYSLOG_IDENTIFIER absent or `kernel`. A user-space
 * write to /dev/kmsg (identifier parsed from the text by journald, e.g. `LKRG`) gets its text
 * reconstructed as `<identifier>: <MESSAGE>` so it reads as the kernel line it imitates.
 */
import { escapeBytes, isValidUtf8 } from './escape.js';

/** MESSAGE_ID of journald's "Missed N kernel messages". */
export const MISSED_KMSG_MESSAGE_ID = 'e9bf28e6e834481bb6f48f548ad13606';

/** A decoded journal entry. */
export interface JournalEntry {
  readonly cursor?: string;
  /** Message text (forged kernel records: `identifier: MESSAGE`). */
  readonly text: string;
  /** MESSAGE as stored: the string, or `\xNN`-escaped bytes when it was a byte array. */
  readonly original: string;
  /** True when MESSAGE was a byte array. */
  readonly binary: boolean;
  readonly hostName?: string;
  readonly bootId?: string;
  readonly machineId?: string;
  readonly timeUs: number | null;
  readonly receivedUs?: number;
  readonly uptimeUs?: number;
  readonly facility?: number;
  readonly severity?: number;
  readonly identifier?: string;
  readonly transport?: string;
  readonly kernelOrigin: boolean;
  /** For journald's "Missed N kernel messages": N. */
  readonly missed?: number;
  /** Kept for labels: cursor, seqnum, device dictionary. */
  readonly extra: Readonly<Record<string, string>>;
}

type JsonValue = string | number | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** Field value as bytes-or-string; undefined when absent/null. */
function field(v: JsonValue | undefined): { s: string; bytes?: Buffer } | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return { s: v };
  if (typeof v === 'number') return { s: String(v) };
  if (Array.isArray(v)) {
    if (v.length === 0) return { s: '' };
    if (typeof v[0] === 'number') {
      const b = Buffer.from((v as number[]).map((n) => n & 255));
      return { s: b.toString('utf8'), bytes: b };
    }
    return field(v[0] as JsonValue); // multi-valued field: first value
  }
  return undefined;
}

function str(o: Readonly<Record<string, JsonValue>>, k: string): string | undefined {
  return field(o[k])?.s;
}

function num(o: Readonly<Record<string, JsonValue>>, k: string): number | undefined {
  const s = str(o, k);
  if (s === undefined || !/^\d{1,16}$/.test(s)) return undefined;
  return Number(s);
}

const MISSED_RE = /^Missed (\d+) kernel messages?/;

/**
 * Decodes one parsed JSON object. Returns null when it has no MESSAGE (nothing to
 * forward). Called by the journald and stdin sources; never throws.
 */
export function parseJournalEntry(o: Readonly<Record<string, JsonValue>>): JournalEntry | null {
  const m = field(o.MESSAGE);
  if (!m) return null;
  const transport = str(o, '_TRANSPORT');
  const identifier = str(o, 'SYSLOG_IDENTIFIER');
  const facility = num(o, 'SYSLOG_FACILITY');
  const severity = num(o, 'PRIORITY');
  const realtime = num(o, '__REALTIME_TIMESTAMP');
  const mono = num(o, '__MONOTONIC_TIMESTAMP');
  const srcMono = num(o, '_SOURCE_MONOTONIC_TIMESTAMP');
  const kernelOrigin = transport === 'kernel' && (facility === undefined || facility === 0) && (identifier === undefined || identifier === 'kernel');
  let timeUs: number | null = realtime ?? null;
  if (realtime !== undefined && mono !== undefined && srcMono !== undefined && mono >= srcMono) timeUs = realtime - (mono - srcMono);
  let text = m.s;
  if (transport === 'kernel' && !kernelOrigin && identifier !== undefined && identifier !== 'kernel') {
    const pid = str(o, 'SYSLOG_PID');
    text = `${identifier}${pid !== undefined ? `[${pid}]` : ''}: ${m.s}`;
  }
  const original = m.bytes ? (isValidUtf8(m.bytes) && !/[\x00-\x08\x0b-\x1f\x7f]/.test(m.s) ? m.s : escapeBytes(m.bytes)) : m.s;
  const extra: Record<string, string> = {};
  const cursor = str(o, '__CURSOR');
  if (cursor !== undefined) extra.cursor = cursor;
  for (const k of ['__SEQNUM', '__SEQNUM_ID', '_KERNEL_SUBSYSTEM', '_KERNEL_DEVICE', 'MESSAGE_ID'] as const) {
    const v = str(o, k);
    if (v !== undefined) extra[k] = v;
  }
  let missed: number | undefined;
  if (str(o, 'MESSAGE_ID') === MISSED_KMSG_MESSAGE_ID || (transport === 'driver' && MISSED_RE.test(m.s))) {
    const mm = MISSED_RE.exec(m.s);
    missed = mm ? Number(mm[1]) : 0;
  }
  const hostName = str(o, '_HOSTNAME');
  const bootId = str(o, '_BOOT_ID');
  const machineId = str(o, '_MACHINE_ID');
  return {
    ...(cursor !== undefined ? { cursor } : {}),
    text, original, binary: m.bytes !== undefined,
    ...(hostName !== undefined ? { hostName } : {}),
    ...(bootId !== undefined ? { bootId } : {}),
    ...(machineId !== undefined ? { machineId } : {}),
    timeUs,
    ...(realtime !== undefined ? { receivedUs: realtime } : {}),
    ...(srcMono !== undefined ? { uptimeUs: srcMono } : {}),
    ...(facility !== undefined ? { facility } : {}),
    ...(severity !== undefined ? { severity } : {}),
    ...(identifier !== undefined ? { identifier } : {}),
    ...(transport !== undefined ? { transport } : {}),
    kernelOrigin,
    ...(missed !== undefined ? { missed } : {}),
    extra,
  };
}

/** Parses a JSON line; returns null for invalid JSON or non-object values. Never throws. */
export function parseJournalJsonLine(line: string): Readonly<Record<string, JsonValue>> | null {
  try {
    const v = JSON.parse(line) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, JsonValue>) : null;
  } catch {
    return null;
  }
}
