/**
 * Kernel-log text line shapes (reference/lkrg.md §8, §7 short output): util-linux dmesg
 * (plain, `-T`, `-x`, caller ids), serial console captures, syslog RFC 3164 (with or
 * without `<pri>`), RFC 3339 / RFC 5424 syslog, journalctl short / short-iso /
 * short-precise, lkrg-logctl output (with and without the flag column) and bare messages.
 *
 * {@link parseTextLine} strips the container prefix and returns the kernel message text;
 * it never throws and never rejects a line: what matches no shape is `bare`.
 *
 * Times: syslog, `dmesg -T`, logctl and ISO timestamps give wall time (local time for
 * the zone-less shapes: RFC 3164 and `dmesg -T` are read in the forwarder's time zone);
 * plain dmesg gives uptime only (timeUs null, uptimeUs set). RFC 3164 has no year: it
 * comes from `opts.year`, else from `opts.refTimeMs` (the file's mtime, set by the text
 * source): the year of the reference time, minus one when the date would lie more than a
 * day after the reference (a file spanning New Year).
 */
import type { ContainerFormat } from '../../core/types.js';
import { decodeEscapes } from './escape.js';

/** Named line shapes; 'auto' detects per line. */
export type TextShape = 'auto' | 'dmesg' | 'syslog' | 'journal-short' | 'logctl' | 'console' | 'bare';

/** All accepted shape names (config validation). */
export const TEXT_SHAPES: readonly TextShape[] = ['auto', 'dmesg', 'syslog', 'journal-short', 'logctl', 'console', 'bare'];

/** Options of {@link parseTextLine}. */
export interface TextLineOptions {
  readonly shape?: TextShape;
  /** Year for RFC 3164 / journalctl short timestamps. */
  readonly year?: number;
  /** Reference time (file mtime) used to infer the year when `year` is not set. */
  readonly refTimeMs?: number;
}

/** What a text line carried. */
export interface TextLine {
  readonly container: ContainerFormat;
  /** Kernel message text: prefixes removed, `\xNN` decoded for dmesg-style shapes. */
  readonly text: string;
  readonly timeUs: number | null;
  readonly uptimeUs?: number;
  readonly hostName?: string;
  readonly identifier?: string;
  readonly facility?: number;
  readonly severity?: number;
  /** False when the line proves a user-space origin (identifier ≠ kernel, facility ≠ 0). */
  readonly kernelOrigin?: boolean;
  readonly flag?: '-' | 'c';
  /** Kernel caller id (`T1234`, `C3`) when printed. */
  readonly callerId?: string;
}

const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
const LEVELS: Readonly<Record<string, number>> = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7 };

const XPREFIX_RE = /^(kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local[0-7]) *:(emerg|alert|crit|err|warn|notice|info|debug) *: ?/;
const DMESG_RE = /^\[ *(\d+)\.(\d{1,9})\]/;
const CALLER_RE = /^\[ *([TC]\d+)\] ?/;
const DMESG_T_RE = /^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\] ?/;
const RFC3164_RE = /^(?:<(\d{1,3})>)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? (\S*[^\s:]) ([^\s:[]+)(?:\[(\d+)\])?:(?: |$)/;
const ISO_TS = String.raw`(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)`;
const ISO_SYSLOG_RE = new RegExp(String.raw`^(?:<(\d{1,3})>)?${ISO_TS} (\S*[^\s:]) ([^\s:[]+)(?:\[(\d+)\])?:(?: |$)`);
const RFC5424_RE = new RegExp(String.raw`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: |$)`);
const LOGCTL_RE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z (?:([-c]) )?/;
const UPTIME_IN_MSG_RE = /^\[ *(\d+)\.(\d{1,9})\] ?/;

function fracUs(frac: string | undefined): number {
  if (!frac) return 0;
  return Number((frac + '000000').slice(0, 6));
}

function uptimeUs(sec: string, frac: string): number {
  return Number(sec) * 1e6 + fracUs(frac);
}

function isoToUs(m: RegExpExecArray, i: number): number | null {
  const [y, mo, d, h, mi, s, frac, tz] = [m[i], m[i + 1], m[i + 2], m[i + 3], m[i + 4], m[i + 5], m[i + 6], m[i + 7]];
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return null;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return ms * 1000 + fracUs(frac);
}

function localUs(y: number, mon: number, d: number, h: number, mi: number, s: number, frac?: string): number {
  return new Date(y, mon, d, h, mi, s).getTime() * 1000 + fracUs(frac);
}

function syslogYear(mon: number, d: number, opts: TextLineOptions): number {
  if (opts.year !== undefined) return opts.year;
  const ref = opts.refTimeMs ?? Date.now();
  const y = new Date(ref).getFullYear();
  return new Date(y, mon, d).getTime() > ref + 86_400_000 ? y - 1 : y;
}

/** Message after a syslog tag: strips `[ uptime]` and `[T123]` that imklog/printk keep. */
function kernelBody(msg: string): { text: string; uptimeUs?: number; callerId?: string } {
  let text = msg;
  let up: number | undefined;
  let caller: string | undefined;
  let m = UPTIME_IN_MSG_RE.exec(text);
  if (m) {
    up = uptimeUs(m[1]!, m[2]!);
    text = text.slice(m[0].length);
  }
  m = CALLER_RE.exec(text);
  if (m) {
    caller = m[1]!;
    text = text.slice(m[0].length);
  }
  return { text, ...(up !== undefined ? { uptimeUs: up } : {}), ...(caller ? { callerId: caller } : {}) };
}

function fromTag(
  container: ContainerFormat, timeUs: number | null, host: string, tag: string, pid: string | undefined, msg: string, pri: string | undefined,
): TextLine {
  const facility = pri !== undefined ? Number(pri) >> 3 : undefined;
  const severity = pri !== undefined ? Number(pri) & 7 : undefined;
  const pri2 = { ...(facility !== undefined ? { facility, severity } : {}) };
  if (tag === 'kernel') {
    const b = kernelBody(msg);
    return {
      container, timeUs, hostName: host, identifier: tag, ...pri2, ...b,
      ...(facility !== undefined && facility !== 0 ? { kernelOrigin: false } : {}),
    };
  }
  // user space (a forged "LKRG: ..." written to /dev/kmsg is shown with identifier LKRG)
  return { container, timeUs, hostName: host, identifier: tag, ...pri2, text: `${tag}${pid !== undefined ? `[${pid}]` : ''}: ${msg}`, kernelOrigin: false };
}

function parseDmesgLike(line: string, shape: TextShape): TextLine | null {
  let rest = line;
  let facility: number | undefined;
  let severity: number | undefined;
  const x = XPREFIX_RE.exec(rest);
  if (x) {
    facility = FACILITIES[x[1]!];
    severity = LEVELS[x[2]!];
    rest = rest.slice(x[0].length);
  }
  const fs = facility !== undefined ? { facility, severity, ...(facility !== 0 ? { kernelOrigin: false } : {}) } : {};
  let m = DMESG_RE.exec(rest);
  if (m) {
    const up = uptimeUs(m[1]!, m[2]!);
    rest = rest.slice(m[0].length);
    let container: ContainerFormat = shape === 'console' ? 'console' : 'dmesg';
    let callerId: string | undefined;
    if (rest.charCodeAt(0) === 91 /* [ */) {
      const c = CALLER_RE.exec(rest);
      if (c) {
        callerId = c[1]!;
        rest = rest.slice(c[0].length);
        container = 'console';
      }
    } else if (rest.charCodeAt(0) === 32) {
      rest = rest.slice(1);
      const c = CALLER_RE.exec(rest);
      if (c) {
        callerId = c[1]!;
        rest = rest.slice(c[0].length);
      }
    }
    return { container, text: decodeEscapes(rest), timeUs: null, uptimeUs: up, ...fs, ...(callerId ? { callerId } : {}) };
  }
  m = DMESG_T_RE.exec(rest);
  if (m) {
    const t = localUs(Number(m[6]), MONTHS[m[1]!]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
    rest = rest.slice(m[0].length);
    const c = CALLER_RE.exec(rest);
    const callerId = c ? c[1]! : undefined;
    if (c) rest = rest.slice(c[0].length);
    return { container: 'dmesg-t', text: decodeEscapes(rest), timeUs: t, ...fs, ...(callerId ? { callerId } : {}) };
  }
  if (x) return { container: 'dmesg', text: decodeEscapes(rest), timeUs: null, ...fs };
  return null;
}

function parseSyslog(line: string, shape: TextShape, opts: TextLineOptions): TextLine | null {
  let m = RFC3164_RE.exec(line);
  if (m) {
    const mon = MONTHS[m[2]!]!;
    const d = Number(m[3]);
    const t = localUs(syslogYear(mon, d, opts), mon, d, Number(m[4]), Number(m[5]), Number(m[6]), m[7]);
    const container: ContainerFormat = shape === 'journal-short' || m[7] !== undefined ? 'journal-short' : 'syslog';
    return fromTag(container, t, m[8]!, m[9]!, m[10], line.slice(m[0].length), m[1]);
  }
  m = RFC5424_RE.exec(line);
  if (m) {
    const ts = new RegExp(`^${ISO_TS}$`).exec(m[2]!);
    const t = ts ? isoToUs(ts, 1) : null;
    let msg = line.slice(m[0].length);
    if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
    const pid = m[5] === '-' ? undefined : m[5];
    return fromTag('syslog-5424', t, m[3]!, m[4]!, pid, msg, m[1]);
  }
  m = ISO_SYSLOG_RE.exec(line);
  if (m) {
    const t = isoToUs(m, 2);
    return fromTag(shape === 'journal-short' ? 'journal-short' : 'syslog-5424', t, m[10]!, m[11]!, m[12], line.slice(m[0].length), m[1]);
  }
  return null;
}

function parseLogctl(line: string): TextLine | null {
  const m = LOGCTL_RE.exec(line);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) * 1000;
  const flag = m[7] as '-' | 'c' | undefined;
  return { container: 'logctl', text: decodeEscapes(line.slice(m[0].length)), timeUs: t, ...(flag ? { flag } : {}) };
}

/**
 * Parses one text line (no newline) into the kernel message text and container fields.
 * Called by the text and stdin sources per line; never throws.
 */
export function parseTextLine(line: string, opts: TextLineOptions = {}): TextLine {
  const shape = opts.shape ?? 'auto';
  let r: TextLine | null = null;
  switch (shape) {
    case 'bare':
      break;
    case 'dmesg':
    case 'console':
      r = parseDmesgLike(line, shape);
      break;
    case 'syslog':
    case 'journal-short':
      r = parseSyslog(line, shape, opts);
      break;
    case 'logctl':
      r = parseLogctl(line);
      break;
    default: {
      const c = line.charCodeAt(0);
      if (c === 91 /* [ */) r = parseDmesgLike(line, shape);
      else if (c === 60 /* < */) r = parseSyslog(line, shape, opts);
      else if (c >= 48 && c <= 57) {
        // logctl "…Z - msg" first; ISO syslog has host + tag; old logctl has neither
        const lc = LOGCTL_RE.exec(line);
        if (lc && lc[7] !== undefined) r = parseLogctl(line);
        else r = parseSyslog(line, shape, opts) ?? (lc ? parseLogctl(line) : null);
      } else if (c >= 65 && c <= 90) r = parseSyslog(line, shape, opts);
      else if (c >= 97 && c <= 122) r = parseDmesgLike(line, shape);
    }
  }
  return r ?? { container: 'bare', text: line, timeUs: null };
}
