/**
 * Turns store lines of one lkrg-logger client into RawRecords, notices and malformed
 * reports, with boot/seq tracking. Shared by the logger-store source (replay and live) and
 * the stdin source. The tracker state it mutates is what goes into the position.
 */
import type { HostIdentity, RawRecord } from '../core/types.js';
import { rawForReport } from '../parse/containers/escape.js';
import { completeLoggerRecord, newLoggerFields, scanLoggerFields } from '../parse/containers/logger-record.js';
import type { BatchBuilder } from './batch-builder.js';
import { LoggerBootTracker, recordHash, type BootStreamState, type BootTrackerState } from './logger-boot-tracker.js';

/** Options shared by sources that read logger records. */
export interface LoggerLineOptions {
  /**
   * Cheap LKRG-ness test on the decoded message text; records for which it returns false
   * are not yielded (their seq/uptime still feed boot and gap tracking). Notices and
   * malformed lines are always reported. Ignored when `includeNonLkrg` is true.
   */
  readonly prefilter?: (text: string) => boolean;
  /**
   * The same test on the raw line bytes of the message (`buf[start,end)`, escapes kept), run
   * before the message is decoded so ordinary kernel lines cost no allocation; it must be
   * at least as permissive as `prefilter`. A factory: each reader gets its own (stateful) test.
   */
  readonly prefilterBytes?: () => (buf: Buffer, start: number, end: number) => boolean;
  /** Yield every record, whatever the prefilter says. */
  readonly includeNonLkrg?: boolean;
  /** |recv − send| above this (µs) adds `extra.recvDelayUs` (resend/replay/clock skew). Default 5 s. */
  readonly skewWarnUs?: number;
}

/** Per-client line handler; see module doc. */
export class LoggerLineHandler {
  readonly tracker: LoggerBootTracker;
  /** Malformed lines seen (for logs/metrics). */
  malformedCount = 0;
  /** Duplicates dropped. */
  duplicateCount = 0;
  /** The header of the line being handled; callers of {@link scanned} fill it first. */
  readonly f = newLoggerFields();
  private readonly prefilter: ((text: string) => boolean) | undefined;
  private readonly prefilterBytes: ((buf: Buffer, start: number, end: number) => boolean) | undefined;
  private readonly skewWarnUs: number;
  /** host of the records of the current boot: one shared object while the boot id stays the same. */
  private host: HostIdentity | undefined;
  private dupRun: { from: number; to: number; count: number; offset: number; line: number; bootId: string } | null = null;

  constructor(
    readonly client: string,
    readonly streamId: string,
    public origin: string,
    opts: LoggerLineOptions,
    state?: BootTrackerState,
  ) {
    this.tracker = new LoggerBootTracker(client, state);
    this.prefilter = opts.includeNonLkrg ? undefined : opts.prefilter;
    this.prefilterBytes = opts.includeNonLkrg || !opts.prefilterBytes ? undefined : opts.prefilterBytes();
    this.skewWarnUs = opts.skewWarnUs ?? 5_000_000;
  }

  /**
   * Handles one complete line `buf[start,end)` found at stream `offset` (1-based `line`).
   * `overlong` lines are reported as malformed. Never throws.
   */
  line(b: BatchBuilder, buf: Buffer, start: number, end: number, offset: number, line: number, overlong: boolean): void {
    if (overlong) {
      this.flushDuplicates(b);
      this.malformedCount++;
      b.malformed.push({ streamId: this.streamId, origin: this.origin, offset, line, reason: 'line longer than the line cap (cut)', raw: rawForReport(buf, start, end, 1024) });
      return;
    }
    const err = start === end ? 'empty line' : scanLoggerFields(buf, start, end, this.f);
    if (err !== null) {
      this.flushDuplicates(b);
      this.malformedCount++;
      b.malformed.push({ streamId: this.streamId, origin: this.origin, offset, line, reason: `malformed store record: ${err}`, raw: rawForReport(buf, start, end) });
      return;
    }
    this.scanned(b, buf, start, end, offset, line, undefined);
  }

  /**
   * The rest of {@link line} for a line whose header is already in {@link f} (the
   * WebAssembly line scanner reads headers of whole runs). `candidate`: the byte prefilter's
   * answer when the caller has it, undefined to ask the prefilter. Never throws.
   */
  scanned(b: BatchBuilder, buf: Buffer, start: number, end: number, offset: number, line: number, candidate: boolean | undefined): void {
    const f = this.f;
    // identity of the kernel record within its boot: event uptime, prio, message length and
    // first bytes. Identical for reconnect resends and replayed sessions (a duplicate is the
    // same record), computed from numbers already scanned: no pass over the line bytes
    const v = this.tracker.track(f, recordHash(f, buf, end));
    if (v.duplicate) {
      const r = this.dupRun;
      if (r && r.bootId === v.bootId) {
        r.count++;
        r.from = Math.min(r.from, f.seq);
        r.to = Math.max(r.to, f.seq);
      } else {
        this.flushDuplicates(b);
        this.dupRun = { from: f.seq, to: f.seq, count: 1, offset, line, bootId: v.bootId };
      }
      this.duplicateCount++;
      return;
    }
    this.flushDuplicates(b);
    for (const n of v.notices) {
      b.records.push({
        streamId: this.streamId, origin: this.origin, offset, line, container: 'logger', original: '', text: n.detail,
        host: { ip: this.client, bootId: v.bootId }, timeUs: f.sendUs - (f.sendUptimeUs - f.eventUptimeUs), receivedUs: f.recvUs, notice: n,
      });
    }
    if (this.prefilterBytes && !(candidate ?? this.prefilterBytes(buf, f.msgStart, end))) return;
    const rec = completeLoggerRecord(buf, start, end, f);
    if (this.prefilter && !this.prefilter(rec.text)) return;
    let extra: Record<string, string> | undefined;
    const skew = f.recvUs - f.sendUs;
    if (skew > this.skewWarnUs || skew < -this.skewWarnUs) (extra ??= {}).recvDelayUs = String(skew);
    // one object shape for every record (no spreads: they are slow on the hot path)
    const r: { -readonly [K in keyof RawRecord]: RawRecord[K] } = {
      streamId: this.streamId, origin: this.origin, offset, line, container: 'logger',
      original: rec.original, text: rec.text, host: this.hostOf(v.bootId),
      timeUs: rec.timeUs, receivedUs: rec.recvUs, uptimeUs: rec.eventUptimeUs, seq: rec.seq,
      facility: rec.facility, severity: rec.severity, flag: rec.flag, kernelOrigin: rec.kernelOrigin,
    };
    if (extra) r.extra = extra;
    b.records.push(r);
  }

  /** True when every line becomes a record (no prefilter): the scanner's fast path never applies. */
  get allLines(): boolean {
    return this.prefilterBytes === undefined;
  }

  /**
   * The boot stream whose ordinary lines the WebAssembly scanner may consume in place (see
   * LoggerLinePump), or undefined when every line must come here: records are yielded for
   * every line (includeNonLkrg), a run of duplicates is pending, or the client has several
   * boot streams at once.
   */
  fastStream(): BootStreamState | undefined {
    if (this.allLines || this.dupRun !== null) return undefined;
    const boots = this.tracker.state.boots;
    return boots.length === 1 ? boots[0] : undefined;
  }

  private hostOf(bootId: string): HostIdentity {
    let h = this.host;
    if (h === undefined || h.bootId !== bootId) this.host = h = Object.freeze({ ip: this.client, bootId });
    return h;
  }

  /** Reports a torn last line (replay end of input / abandoned rotated file). */
  incomplete(b: BatchBuilder, buf: Buffer, offset: number, line: number, bytes: number): void {
    this.flushDuplicates(b);
    this.malformedCount++;
    b.malformed.push({ streamId: this.streamId, origin: this.origin, offset, line, reason: `incomplete last line (${bytes} bytes, no newline)`, raw: rawForReport(buf, 0, buf.length) });
  }

  /** Adds a synthetic notice record (truncation etc.). */
  notice(b: BatchBuilder, offset: number, type: 'truncated', detail: string): void {
    this.flushDuplicates(b);
    b.records.push({
      streamId: this.streamId, origin: this.origin, offset, container: 'logger', original: '', text: detail,
      host: { ip: this.client }, timeUs: Date.now() * 1000, notice: { type, detail },
    });
  }

  /** Emits the pending run of dropped duplicates as one `duplicate` notice. Call before yielding a batch. */
  flushDuplicates(b: BatchBuilder): void {
    const r = this.dupRun;
    if (!r) return;
    this.dupRun = null;
    const detail = `${r.count} duplicate record${r.count === 1 ? '' : 's'} from ${this.client} dropped (seq ${r.from}${r.to !== r.from ? `–${r.to}` : ''}; reconnect resend or replayed session)`;
    b.records.push({
      streamId: this.streamId, origin: this.origin, offset: r.offset, line: r.line, container: 'logger', original: '', text: detail,
      host: { ip: this.client, bootId: r.bootId }, timeUs: null,
      notice: { type: 'duplicate', count: r.count, fromSeq: r.from, toSeq: r.to, detail },
    });
  }
}
