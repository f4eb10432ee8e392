/**
 * lkrg-logger store record parser (reference/lkrg.md §6.3, §6.4, §6.7 steps 2–4, 7):
 * `recv_usec,send_usec,send_uptime_usec,prio,seq,event_uptime_usec,flag;message`.
 *
 * Two levels: {@link scanLoggerFields} fills a reusable {@link LoggerFields} without
 * allocating (the store source calls it for every line, LKRG or not, to keep boot/seq
 * tracking exact), and {@link parseLoggerRecord} builds a full {@link LoggerRecord}.
 */
import { decodeEscapedBytes } from './escape.js';

/** Numeric header of one store line; reused between lines by the store source. */
export interface LoggerFields {
  recvUs: number;
  sendUs: number;
  sendUptimeUs: number;
  prio: number;
  seq: number;
  eventUptimeUs: number;
  flag: '-' | 'c';
  /** Byte index of the first message byte (after `;`). */
  msgStart: number;
}

/** A fully decoded store record. */
export interface LoggerRecord extends LoggerFields {
  /** Message with `\xNN` decoded and UTF-8 decoded (invalid sequences → U+FFFD). */
  readonly text: string;
  /** The line exactly as stored (escapes kept). */
  readonly original: string;
  readonly facility: number;
  readonly severity: number;
  /** facility === 0 (user-space /dev/kmsg writes have facility >= 1). */
  readonly kernelOrigin: boolean;
  /** Event wall time in epoch µs, computed as lkrg-logctl does ({@link loggerEventTimeUs}). */
  readonly timeUs: number;
}

/** Creates an empty {@link LoggerFields} for reuse with {@link scanLoggerFields}. */
export function newLoggerFields(): LoggerFields {
  return { recvUs: 0, sendUs: 0, sendUptimeUs: 0, prio: 0, seq: 0, eventUptimeUs: 0, flag: '-', msgStart: 0 };
}

const MAX_DIGITS = 16;

/**
 * Strictly scans the header of the line `buf[start,end)` (no trailing newline) into `out`.
 * Returns null on success or the reason the line is malformed (never guesses fields).
 * Called by the logger-store and stdin sources per line; never throws.
 */
export function scanLoggerFields(buf: Buffer, start: number, end: number, out: LoggerFields): string | null {
  let i = start;
  for (let f = 0; f < 6; f++) {
    let v = 0;
    const s = i;
    while (i < end) {
      const c = buf[i]!;
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
    }
    if (i === s) return i >= end ? 'line ends inside the header' : `field ${f + 1} is not a number`;
    if (i - s > MAX_DIGITS || v > Number.MAX_SAFE_INTEGER) return `field ${f + 1} is out of range`;
    if (i >= end || buf[i] !== 44) return `field ${f + 1} is not followed by ','`;
    i++;
    switch (f) {
      case 0: out.recvUs = v; break;
      case 1: out.sendUs = v; break;
      case 2: out.sendUptimeUs = v; break;
      case 3: out.prio = v; break;
      case 4: out.seq = v; break;
      default: out.eventUptimeUs = v;
    }
  }
  if (out.prio > 1023) return 'prio is out of range';
  if (i >= end) return 'line ends before the flag';
  const flag = buf[i];
  if (flag !== 45 && flag !== 99) return 'flag is neither - nor c';
  if (i + 1 >= end || buf[i + 1] !== 59) return "flag is not followed by ';'";
  out.flag = flag === 45 ? '-' : 'c';
  out.msgStart = i + 2;
  return null;
}

/**
 * Event time exactly as lkrg-logctl computes it: te = send_usec, minus
 * (send_uptime − event_uptime) when send_uptime > event_uptime. Epoch µs.
 */
export function loggerEventTimeUs(f: Pick<LoggerFields, 'sendUs' | 'sendUptimeUs' | 'eventUptimeUs'>): number {
  return f.sendUptimeUs > f.eventUptimeUs ? f.sendUs - (f.sendUptimeUs - f.eventUptimeUs) : f.sendUs;
}

/**
 * Parses one store line (string or bytes, without its newline). Returns the record or a
 * string with the reason it is malformed. Used by tests, stdin and tools; the store source
 * uses {@link scanLoggerFields} directly for speed.
 */
export function parseLoggerRecord(line: string | Buffer, start = 0, end?: number): LoggerRecord | string {
  const buf = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  const e = end ?? buf.length;
  const f = newLoggerFields();
  const err = scanLoggerFields(buf, start, e, f);
  if (err !== null) return err;
  return completeLoggerRecord(buf, start, e, f);
}

/** Builds the full record from scanned fields (copies `f`). */
export function completeLoggerRecord(buf: Buffer, start: number, end: number, f: LoggerFields): LoggerRecord {
  const facility = f.prio >> 3;
  const original = buf.toString('utf8', start, end);
  // the header is ASCII, so without escapes the text is a substring of the original (one
  // UTF-8 decode per line instead of two)
  let i = f.msgStart;
  while (i < end && buf[i] !== 92) i++;
  const text = i === end ? original.slice(f.msgStart - start) : decodeEscapedBytes(buf, f.msgStart, end);
  return {
    recvUs: f.recvUs,
    sendUs: f.sendUs,
    sendUptimeUs: f.sendUptimeUs,
    prio: f.prio,
    seq: f.seq,
    eventUptimeUs: f.eventUptimeUs,
    flag: f.flag,
    msgStart: f.msgStart,
    text,
    original,
    facility,
    severity: f.prio & 7,
    kernelOrigin: facility === 0,
    timeUs: loggerEventTimeUs(f),
  };
}
