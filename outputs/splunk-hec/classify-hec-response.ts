/**
 * The HEC answer classification table (Splunk's HEC status codes, formats.md §5.3), used by the
 * splunk-hec driver for every request it sends. Pure: HTTP status + body (+ Retry-After) in,
 * one {@link HecVerdict} out.
 *
 * | verdict   | when                                                                          | driver action |
 * |-----------|-------------------------------------------------------------------------------|---------------|
 * | ok        | 2xx with code 0 (or no code)                                                  | delivered (after the ack when ack is on) |
 * | retry     | code 8, 9, 18, 19, 20; HTTP 408, 429, 500, 502, 503, 504 and other 5xx        | retry the events, after Retry-After when given |
 * | invalid   | code 5, 6, 12, 13, 15; HTTP 413; a 400 without a known code                   | bisect the batch; a single invalid event is rejected (dead letter) |
 * | fatal     | 401/403 and codes 1-4, 21, 22 (token); 7 (index); 10, 11 (channel); 14 (ack disabled); 16; 404/405/415 and other 4xx | OutputError{fatal}: the output halts |
 */

/** Parsed HEC reply body: `{"text":..., "code":..., "invalid-event-number":..., "ackId":...}`. */
export interface HecReply {
  readonly text?: string;
  readonly code?: number;
  readonly invalidEventNumber?: number;
  readonly ackId?: number;
}

/** What to do with the events of one request. */
export type HecVerdict =
  | { readonly kind: 'ok'; readonly ackId?: number }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'invalid'; readonly reason: string; readonly invalidEventNumber?: number }
  | { readonly kind: 'fatal'; readonly reason: string };

const TOKEN_CODES = new Set([1, 2, 3, 4, 21, 22]);
const RETRY_CODES = new Set([8, 9, 18, 19, 20]);
const INVALID_CODES = new Set([5, 6, 12, 13, 15]);
const CONFIG_CODES: Readonly<Record<number, string>> = {
  7: 'the index is not allowed for this token (fix `index` or the token\'s allowed indexes)',
  10: 'the data channel is missing (indexer acknowledgement is on for this token)',
  11: 'the data channel is invalid (set `channel` to a UUID)',
  14: 'indexer acknowledgement is disabled for this token (turn ack.enabled off, or enable it on the token)',
  16: 'query-string authorization is not enabled',
};
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Parses a HEC reply body; tolerant of plain-text and JSON-string bodies (returns {}). */
export function parseHecReply(body: string): HecReply {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return {};
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const o = v as Record<string, unknown>;
  const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isInteger(x) ? x : undefined);
  return {
    text: typeof o.text === 'string' ? o.text : undefined,
    code: num(o.code),
    invalidEventNumber: num(o['invalid-event-number']),
    ackId: num(o.ackId),
  };
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or bad.
 * Capped at one hour so a broken header cannot park an output for days.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number | undefined;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isFinite(at)) ms = Math.max(0, at - now);
  }
  return ms === undefined ? undefined : Math.min(ms, 3_600_000);
}

/** Short, log-safe description of an answer (the body text is trimmed and never contains the token). */
function describe(status: number, reply: HecReply, body: string): string {
  const text = reply.text ?? body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return `HTTP ${status}${reply.code !== undefined ? ` code ${reply.code}` : ''}${text ? ` "${text}"` : ''}`;
}

/** Classifies one HEC answer. */
export function classifyHecResponse(status: number, body: string, retryAfter?: string): HecVerdict {
  const reply = parseHecReply(body);
  const code = reply.code;
  const what = describe(status, reply, body);
  if (status >= 200 && status < 300 && (code === undefined || code === 0 || code === 17)) {
    return reply.ackId === undefined ? { kind: 'ok' } : { kind: 'ok', ackId: reply.ackId };
  }
  if (code !== undefined && TOKEN_CODES.has(code)) {
    return { kind: 'fatal', reason: `${what}: the HEC token was refused (check token_env/token_file and that the token is enabled)` };
  }
  if (status === 401 || status === 403) {
    return { kind: 'fatal', reason: `${what}: the HEC token was refused (check token_env/token_file and that the token is enabled)` };
  }
  if (code !== undefined && CONFIG_CODES[code] !== undefined) return { kind: 'fatal', reason: `${what}: ${CONFIG_CODES[code]}` };
  if (code !== undefined && RETRY_CODES.has(code)) return { kind: 'retry', reason: what, retryAfterMs: parseRetryAfter(retryAfter) };
  if (code !== undefined && INVALID_CODES.has(code)) {
    return reply.invalidEventNumber === undefined
      ? { kind: 'invalid', reason: what }
      : { kind: 'invalid', reason: what, invalidEventNumber: reply.invalidEventNumber };
  }
  if (status === 413) return { kind: 'invalid', reason: `${what}: request too large` };
  if (RETRY_STATUS.has(status) || status >= 500) return { kind: 'retry', reason: what, retryAfterMs: parseRetryAfter(retryAfter) };
  if (status === 400) return { kind: 'invalid', reason: what };
  if (status === 404 || status === 405) return { kind: 'fatal', reason: `${what}: no HEC endpoint at this URL (check url and that HEC is enabled)` };
  if (status === 415) return { kind: 'fatal', reason: `${what}: the server does not accept this content encoding (set compression: false)` };
  return { kind: 'fatal', reason: `${what}: unexpected answer` };
}
