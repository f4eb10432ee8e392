/**
 * ECS document -> GELF 1.1 message (JSON text), and UDP chunking. Pure functions, used by the
 * graylog_gelf output driver and its tests.
 *
 * Mapping:
 * - `version` "1.1"; `host` = host.name, else host.hostname, else the event key, else the
 *   fallback (never blank: Graylog refuses a blank host);
 * - `short_message` = message, else event.original, else rule.name, else event.action, else
 *   "LKRG event" (never blank); `full_message` = event.original when present;
 * - `timestamp` = @timestamp as epoch seconds with millisecond decimals; `level` =
 *   log.syslog.severity.code (0-7), else the configured default;
 * - every other leaf of the ECS document becomes an additional field: the dotted path with
 *   dots replaced by `_` and any character outside `[A-Za-z0-9_.-]` replaced by `_`, prefixed
 *   with `_` (`process.name` -> `_process_name`). Names Graylog reserves or refuses (`_id`,
 *   `message`, `timestamp`, `source`, `full_message`, `gl2_*`, ...) get an `ecs_` prefix
 *   (`@timestamp` -> `_ecs_timestamp`, a top-level `id` -> `_ecs_id`), so `_id` is never sent.
 *   `message` and `event.original` are not repeated (they are short_message and
 *   full_message). On a name collision the first leaf wins.
 * - values: strings as they are (JSON escaping makes quotes, backslashes, control characters
 *   and NUL harmless), finite numbers as numbers, booleans as "true"/"false"; arrays of
 *   scalars are joined with "," (Graylog would otherwise store the JSON text); arrays holding
 *   objects become their JSON text; null, empty strings and empty arrays are left out.
 */
import { randomBytes } from 'node:crypto';
import type { EcsDocument } from '../../src/core/output.js';

/** GELF header fields of one message. */
export interface GelfOptions {
  /** `level` when the event has no log.syslog.severity.code (default 6, info). */
  readonly defaultLevel: number;
  /** `host` when the event names none. */
  readonly fallbackHost: string;
}

const RESERVED = new Set([
  'id', 'message', 'source', 'timestamp', 'full_message', 'short_message', 'version', 'host', 'level',
  'streams', 'facility', 'line', 'file',
]);

function get(doc: EcsDocument, ...path: string[]): unknown {
  let o: unknown = doc;
  for (const k of path) {
    if (o === null || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

function nonBlank(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** Additional-field name for a dotted ECS path (without the leading `_`). */
export function gelfFieldName(path: string): string {
  let name = path.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/\./g, '_');
  if (name.startsWith('_')) name = name.replace(/^_+/, '');
  if (name === '' || RESERVED.has(name) || name.startsWith('gl2_')) name = `ecs_${name}`;
  return name;
}

function scalar(v: unknown): string | number | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

function flatten(value: unknown, path: string, out: Record<string, string | number>): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (value.length === 0) return;
    const parts = value.map(scalar);
    const v = value.every((x) => x === null || typeof x !== 'object') ? parts.filter((x) => x !== undefined).join(',') : JSON.stringify(value);
    if (v !== '') add(out, path, v);
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, path ? `${path}.${k}` : k, out);
    return;
  }
  const s = scalar(value);
  if (s !== undefined) add(out, path, s);
}

function add(out: Record<string, string | number>, path: string, v: string | number): void {
  if (path === 'message' || path === 'event.original') return; // short_message, full_message
  const key = `_${gelfFieldName(path)}`;
  if (!(key in out)) out[key] = v;
}

/** The GELF message object for one event. */
export function toGelf(doc: EcsDocument, key: string, opts: GelfOptions): Record<string, string | number> {
  const original = nonBlank(get(doc, 'event', 'original'));
  const host = nonBlank(get(doc, 'host', 'name')) ?? nonBlank(get(doc, 'host', 'hostname')) ?? nonBlank(key) ?? opts.fallbackHost;
  const short =
    nonBlank(get(doc, 'message')) ?? original ?? nonBlank(get(doc, 'rule', 'name')) ?? nonBlank(get(doc, 'event', 'action')) ?? 'LKRG event';
  const msg: Record<string, string | number> = { version: '1.1', host, short_message: short };
  if (original !== undefined) msg.full_message = original;
  const ts = get(doc, '@timestamp');
  const ms = typeof ts === 'string' ? Date.parse(ts) : typeof ts === 'number' ? ts : NaN;
  if (Number.isFinite(ms) && ms > 0) msg.timestamp = Math.round(ms) / 1000;
  const sev = get(doc, 'log', 'syslog', 'severity', 'code');
  msg.level = typeof sev === 'number' && Number.isInteger(sev) && sev >= 0 && sev <= 7 ? sev : opts.defaultLevel;
  const extra: Record<string, string | number> = {};
  flatten(doc, '', extra);
  return Object.assign(msg, extra);
}

/** Size of the chunk header: magic (2) + message id (8) + sequence number (1) + count (1). */
export const CHUNK_HEADER_BYTES = 12;
/** Graylog drops messages of more chunks. */
export const MAX_CHUNKS = 128;

/**
 * Splits one (compressed) payload into GELF chunks of at most `chunkSize` bytes including the
 * header. A payload that fits one datagram is returned as it is (no chunk header). Returns
 * undefined when more than 128 chunks would be needed.
 */
export function chunkGelf(payload: Buffer, chunkSize: number, id: Buffer = randomBytes(8)): Buffer[] | undefined {
  if (payload.length <= chunkSize) return [payload];
  const data = chunkSize - CHUNK_HEADER_BYTES;
  const count = Math.ceil(payload.length / data);
  if (count > MAX_CHUNKS) return undefined;
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const part = payload.subarray(i * data, Math.min(payload.length, (i + 1) * data));
    const head = Buffer.alloc(CHUNK_HEADER_BYTES);
    head[0] = 0x1e;
    head[1] = 0x0f;
    id.copy(head, 2, 0, 8);
    head[10] = i;
    head[11] = count;
    out.push(Buffer.concat([head, part]));
  }
  return out;
}
