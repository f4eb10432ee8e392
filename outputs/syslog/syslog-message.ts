/**
 * Builds one syslog message carrying a CEF line: RFC 5424
 * `<PRI>1 TIMESTAMP HOST APP - MSGID - CEF:0|...` or RFC 3164 `<PRI>Mmm dd hh:mm:ss HOST APP: CEF:0|...`,
 * and frames it for TCP (octet counting `LEN SP MSG`, or LF-terminated). Used by the syslog
 * output driver; pure functions, no I/O.
 *
 * Injection safety: every header field is reduced to printable US-ASCII without spaces
 * (RFC 5424 PRINTUSASCII) and cut to its RFC length, so an attacker-chosen host name can
 * never add header fields, and the message body never contains CR, LF or NUL (replaced by a
 * space; the CEF encoder already escapes them), so LF framing cannot be split.
 */
import type { EcsDocument } from '../../src/core/output.js';

export type SyslogFormat = 'rfc5424' | 'rfc3164';

/** Facility names (RFC 5424 table 1) -> code. */
export const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, security: 13, console: 14, solaris_cron: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** Severity names -> code. */
export const SEVERITIES: Readonly<Record<string, number>> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RFC3339 = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/** Header options of the syslog output. */
export interface SyslogHeaderOptions {
  readonly format: SyslogFormat;
  /** Facility code used when the event carries none (0-23). */
  readonly defaultFacility: number;
  /** Severity code used when the event carries none (0-7). */
  readonly defaultSeverity: number;
  /** APP-NAME / TAG. */
  readonly appName: string;
  /** HOSTNAME when the event names no host. */
  readonly fallbackHost: string;
}

function get(doc: EcsDocument, ...path: string[]): unknown {
  let o: unknown = doc;
  for (const k of path) {
    if (o === null || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

function intIn(v: unknown, min: number, max: number): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
}

/**
 * A header token: printable US-ASCII except space (33..126), other characters replaced by
 * `_`, cut to `max`; `fallback` when nothing is left.
 */
export function headerToken(value: unknown, max: number, fallback: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') return fallback;
  const text = String(value).trim();
  if (text === '') return fallback;
  return text.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
}

/** Host name for the header: host.name, else host.hostname, else the fallback (sanitized). */
export function syslogHost(doc: EcsDocument, fallback: string, max = 255): string {
  const name = get(doc, 'host', 'name') ?? get(doc, 'host', 'hostname');
  const text = typeof name === 'string' ? name.trim() : '';
  return headerToken(text === '' ? fallback : text, max, headerToken(fallback, max, '-'));
}

/** PRI = facility * 8 + severity, from log.syslog of the event or the defaults. */
export function syslogPri(doc: EcsDocument, opts: Pick<SyslogHeaderOptions, 'defaultFacility' | 'defaultSeverity'>): number {
  const facility = intIn(get(doc, 'log', 'syslog', 'facility', 'code'), 0, 23) ?? opts.defaultFacility;
  const severity = intIn(get(doc, 'log', 'syslog', 'severity', 'code'), 0, 7) ?? opts.defaultSeverity;
  return facility * 8 + severity;
}

function eventDate(doc: EcsDocument): { text?: string; date?: Date } {
  const ts = get(doc, '@timestamp');
  if (typeof ts === 'string') {
    const m = RFC3339.exec(ts.toUpperCase());
    const ms = Date.parse(ts);
    if (m && Number.isFinite(ms)) return { text: ts.toUpperCase(), date: new Date(ms) };
    if (Number.isFinite(ms)) return { text: new Date(ms).toISOString(), date: new Date(ms) };
  } else if (typeof ts === 'number' && Number.isFinite(ts)) {
    return { text: new Date(ts).toISOString(), date: new Date(ts) };
  }
  return {};
}

/** RFC 3164 timestamp `Mmm dd hh:mm:ss` in UTC (the format has no zone). */
function rfc3164Time(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

/** Removes the characters that could split a frame or a line (defence in depth). */
export function safeBody(body: string): string {
  return /[\r\n\0]/.test(body) ? body.replace(/[\r\n\0]/g, ' ') : body;
}

/**
 * One syslog message (no framing) for an event whose CEF line is `cef`. `msgId` is the
 * RFC 5424 MSGID (event.dataset), ignored for RFC 3164.
 */
export function buildSyslogMessage(doc: EcsDocument, cef: string, msgId: string, opts: SyslogHeaderOptions, now = new Date()): string {
  const pri = syslogPri(doc, opts);
  const body = safeBody(cef);
  const ts = eventDate(doc);
  if (opts.format === 'rfc3164') {
    const host = syslogHost(doc, opts.fallbackHost, 255);
    const tag = headerToken(opts.appName.replace(/[^A-Za-z0-9_.-]/g, '_'), 32, 'lkrg');
    return `<${pri}>${rfc3164Time(ts.date ?? now)} ${host} ${tag}: ${body}`;
  }
  const host = syslogHost(doc, opts.fallbackHost, 255);
  const app = headerToken(opts.appName, 48, '-');
  const mid = headerToken(msgId, 32, '-');
  return `<${pri}>1 ${ts.text ?? now.toISOString()} ${host} ${app} - ${mid} - ${body}`;
}

/** TCP framing: RFC 6587 octet counting (`LEN SP MSG`, length in bytes) or LF-terminated. */
export function frameSyslog(message: string, framing: 'octet_counting' | 'lf'): Buffer {
  const msg = Buffer.from(message, 'utf8');
  if (framing === 'lf') return Buffer.concat([msg, Buffer.from('\n')]);
  return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
}
