/**
 * The Elasticsearch / OpenSearch `_bulk` protocol, shared by both outputs: target naming,
 * NDJSON encoding of `create` actions, and the classification of a bulk answer per event.
 * Pure functions (no I/O), unit-tested with hand-recorded responses.
 *
 * Per-item classification (formats.md §6.2; differs from `helpers.bulk`, which drops 5xx and 409):
 * | item status                         | result                                               |
 * | 2xx                                 | delivered                                            |
 * | 409 (document already exists)       | delivered: a replay of an event we already stored    |
 * | 429, 5xx                            | retry (only that item), reason = ES error            |
 * | 401, 403, 404 index_not_found       | whole batch: OutputError fatal (configuration)       |
 * | any other status (400 mapping, ...) | rejected with "error.type: error.reason (caused by)" |
 */
import { OutputError, type EcsDocument, type QueuedEvent } from '../../src/core/output.js';
import type { DeliveryResult } from '../../src/core/types.js';
import { docValue } from '../../src/core/doc-path.js';

/** Placeholders allowed in the `index` setting. */
export const INDEX_PLACEHOLDERS = ['dataset', 'namespace'] as const;

/** Characters Elasticsearch forbids in index / data stream names. */
const BAD_INDEX_CHARS = /[\\/*?"<>| ,#:A-Z]/;

/** Why `name` is not a valid index or data stream name, or undefined when it is valid. */
export function indexNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'index name is empty';
  if (Buffer.byteLength(name) > 255) return 'index name is longer than 255 bytes';
  if (name === '.' || name === '..') return 'index name cannot be . or ..';
  if (/^[-_+]/.test(name)) return 'index name cannot start with -, _ or +';
  const bad = BAD_INDEX_CHARS.exec(name);
  if (bad) return `index name contains ${JSON.stringify(bad[0])} (lower case only; no \\ / * ? " < > | space , # :)`;
  return undefined;
}

/** Validates an `index` template: known placeholders only, and a valid name once rendered. */
export function indexTemplateProblem(template: string): string | undefined {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(INDEX_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      return `unknown placeholder {${m[1]}}; allowed: ${INDEX_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`;
    }
  }
  return indexNameProblem(renderIndex(template, 'lkrg.alert', 'default'));
}

export function renderIndex(template: string, dataset: string, namespace: string): string {
  return template.replace(/\{dataset\}/g, dataset).replace(/\{namespace\}/g, namespace);
}

export { docValue } from '../../src/core/doc-path.js';

/** The data stream namespace of an event: its `data_stream.namespace`, else "default". */
export function eventNamespace(ev: QueuedEvent): string {
  // The queue records the namespace of every event the pipeline queues: no search of the text
  // (the fallback below costs a few microseconds per event: a search through the whole text).
  if (ev.namespace !== undefined) return ev.namespace !== '' ? ev.namespace : 'default';
  // Else read from the stored JSON text: parsing the whole document for one field cost more CPU
  // than everything else the bulk output does per event. `ev.doc` only when the text cannot be scanned.
  const scanned = namespaceInJson(ev.json);
  const ns = scanned === SCAN_FAILED ? docValue(ev.doc, 'data_stream.namespace') : scanned;
  return typeof ns === 'string' && ns !== '' ? ns : 'default';
}

/** Target index (data stream) of one event, or the reason it has none. */
export function targetIndex(template: string, ev: QueuedEvent): { index: string } | { problem: string } {
  const t = targetOf(template, ev.dataset, template.includes('{namespace}') ? eventNamespace(ev) : 'default');
  return 'problem' in t ? { problem: t.problem } : { index: t.index };
}

/** A rendered target with the start of its action line, or the reason it has none. */
type Target = { readonly index: string; readonly action: string } | { readonly problem: string };

/** Rendered targets per index template and (dataset, namespace): a handful per output. */
const targets = new Map<string, Map<string, Target>>();

function targetOf(template: string, dataset: string, namespace: string): Target {
  let byTemplate = targets.get(template);
  if (!byTemplate) {
    if (targets.size >= 64) targets.clear();
    targets.set(template, (byTemplate = new Map()));
  }
  const key = `${dataset}\u0000${namespace}`;
  let t = byTemplate.get(key);
  if (!t) {
    const index = renderIndex(template, dataset, namespace);
    const problem = indexNameProblem(index);
    t = problem ? { problem: `target "${index}": ${problem}` } : { index, action: `{"create":{"_index":${JSON.stringify(index)},"_id":` };
    if (byTemplate.size >= 1024) byTemplate.clear();
    byTemplate.set(key, t);
  }
  return t;
}

/** {@link namespaceInJson} could not read the text (not a plain JSON object, escaped keys). */
const SCAN_FAILED = Symbol('scan failed');

/**
 * `data_stream.namespace` of a JSON object text, as {@link docValue} would read it from the
 * parsed object (a flat-dotted top-level key wins over the nested object; the last duplicate
 * key wins, as in JSON.parse), without building the object: the value when it is a string,
 * undefined when it is absent or not a string, SCAN_FAILED when the text cannot be scanned.
 * Expects valid JSON (the queue stores JSON.stringify output).
 */
export function namespaceInJson(json: string): string | undefined | typeof SCAN_FAILED {
  // No `"data_stream.namespace"` anywhere means no such top-level key (a key's quotes are never
  // escaped); then the last top-level `data_stream` decides, and it sits near the end of our
  // documents: walk the top-level members backwards, which skips most of the text.
  if (!json.includes('"data_stream.namespace"')) {
    const back = lastDataStreamNamespace(json);
    if (back !== SCAN_FAILED) return back;
  }
  let i = skipWs(json, 0);
  if (json.charCodeAt(i) !== 0x7b /* { */) return SCAN_FAILED;
  let flat: unknown = ABSENT;
  let nested: unknown = undefined;
  i = skipWs(json, i + 1);
  if (json.charCodeAt(i) === 0x7d /* } */) return undefined;
  for (;;) {
    if (json.charCodeAt(i) !== 0x22 /* " */) return SCAN_FAILED;
    const keyEnd = stringEnd(json, i);
    if (keyEnd < 0) return SCAN_FAILED;
    const key = json.slice(i + 1, keyEnd);
    if (key.includes('\\')) return SCAN_FAILED;
    i = skipWs(json, keyEnd + 1);
    if (json.charCodeAt(i) !== 0x3a /* : */) return SCAN_FAILED;
    i = skipWs(json, i + 1);
    if (key === 'data_stream.namespace') {
      const v = stringValue(json, i);
      if (v === SCAN_FAILED) return SCAN_FAILED;
      flat = v;
    } else if (key === 'data_stream') {
      if (json.charCodeAt(i) === 0x7b) {
        const v = memberOf(json, i, 'namespace');
        if (v === SCAN_FAILED) return SCAN_FAILED;
        nested = v;
      } else nested = undefined;
    }
    i = skipValue(json, i);
    if (i < 0) return SCAN_FAILED;
    i = skipWs(json, i);
    const c = json.charCodeAt(i);
    if (c === 0x2c /* , */) i = skipWs(json, i + 1);
    else if (c === 0x7d) break;
    else return SCAN_FAILED;
  }
  return flat !== ABSENT ? (flat as string | undefined) : (nested as string | undefined);
}

const ABSENT = Symbol('absent');

/**
 * `namespace` of the last top-level `data_stream` object (JSON.parse keeps the last duplicate),
 * found by walking the top-level members from the end; undefined when there is none or it is
 * not an object / has no string namespace. SCAN_FAILED for anything unexpected.
 */
function lastDataStreamNamespace(json: string): string | undefined | typeof SCAN_FAILED {
  let i = skipWsBack(json, json.length - 1);
  if (json.charCodeAt(i) !== 0x7d /* } */) return SCAN_FAILED;
  i = skipWsBack(json, i - 1);
  while (i >= 0) {
    const c = json.charCodeAt(i);
    if (c === 0x7b /* { */) return skipWsBack(json, i - 1) === -1 ? undefined : SCAN_FAILED; // the opening brace: no data_stream
    const valueStart = valueStartBack(json, i);
    if (valueStart < 0) return SCAN_FAILED;
    let k = skipWsBack(json, valueStart - 1);
    if (json.charCodeAt(k) !== 0x3a /* : */) return SCAN_FAILED;
    k = skipWsBack(json, k - 1);
    if (json.charCodeAt(k) !== 0x22 || !isDelimiter(json, k)) return SCAN_FAILED;
    const keyStart = stringStartBack(json, k);
    if (keyStart < 0) return SCAN_FAILED;
    const key = json.slice(keyStart + 1, k);
    if (key.includes('\\')) return SCAN_FAILED;
    if (key === 'data_stream') {
      if (json.charCodeAt(valueStart) !== 0x7b) return undefined;
      return memberOf(json, valueStart, 'namespace');
    }
    i = skipWsBack(json, keyStart - 1);
    const sep = json.charCodeAt(i);
    if (sep === 0x2c /* , */) i = skipWsBack(json, i - 1);
    else if (sep === 0x7b) return skipWsBack(json, i - 1) === -1 ? undefined : SCAN_FAILED;
    else return SCAN_FAILED;
  }
  return SCAN_FAILED;
}

function skipWsBack(json: string, i: number): number {
  for (;;) {
    const c = json.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i; // NaN (i < 0) ends it too
    i--;
  }
}

/** A quote is a string delimiter when an even number of backslashes precedes it. */
function isDelimiter(json: string, q: number): boolean {
  let backslashes = 0;
  while (json.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
  return backslashes % 2 === 0;
}

/** Index of the quote opening the string whose closing quote is at `end`, or -1. */
function stringStartBack(json: string, end: number): number {
  let from = end - 1;
  for (;;) {
    const q = from < 0 ? -1 : json.lastIndexOf('"', from);
    if (q < 0) return -1;
    if (isDelimiter(json, q)) return q; // quotes inside a string are all escaped
    from = q - 1;
  }
}

/** Start index of the JSON value whose last character is at `end`, or -1. */
function valueStartBack(json: string, end: number): number {
  const c = json.charCodeAt(end);
  if (c === 0x22) return isDelimiter(json, end) ? stringStartBack(json, end) : -1;
  if (c === 0x7d || c === 0x5d) {
    let depth = 0;
    for (let j = end; j >= 0; j--) {
      const d = json.charCodeAt(j);
      if (d === 0x22) {
        j = stringStartBack(json, j);
        if (j < 0) return -1;
      } else if (d === 0x7d || d === 0x5d) depth++;
      else if (d === 0x7b || d === 0x5b) {
        if (--depth === 0) return j;
      }
    }
    return -1;
  }
  // number, true, false, null
  let j = end;
  for (; j >= 0; j--) {
    const d = json.charCodeAt(j);
    if (d === 0x3a || d === 0x2c || d === 0x5b || d === 0x7b || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
  }
  return j === end ? -1 : j + 1;
}

/** The string value of `name` in the object starting at `i` (undefined: absent or not a string). */
function memberOf(json: string, i: number, name: string): string | undefined | typeof SCAN_FAILED {
  let found: string | undefined = undefined;
  i = skipWs(json, i + 1);
  if (json.charCodeAt(i) === 0x7d) return undefined;
  for (;;) {
    if (json.charCodeAt(i) !== 0x22) return SCAN_FAILED;
    const keyEnd = stringEnd(json, i);
    if (keyEnd < 0) return SCAN_FAILED;
    const key = json.slice(i + 1, keyEnd);
    if (key.includes('\\')) return SCAN_FAILED;
    i = skipWs(json, keyEnd + 1);
    if (json.charCodeAt(i) !== 0x3a) return SCAN_FAILED;
    i = skipWs(json, i + 1);
    if (key === name) {
      const v = stringValue(json, i);
      if (v === SCAN_FAILED) return SCAN_FAILED;
      found = v;
    }
    i = skipValue(json, i);
    if (i < 0) return SCAN_FAILED;
    i = skipWs(json, i);
    const c = json.charCodeAt(i);
    if (c === 0x2c) i = skipWs(json, i + 1);
    else if (c === 0x7d) return found;
    else return SCAN_FAILED;
  }
}

/** The decoded string starting at `i`, undefined for any other value. */
function stringValue(json: string, i: number): string | undefined | typeof SCAN_FAILED {
  if (json.charCodeAt(i) !== 0x22) return undefined;
  const end = stringEnd(json, i);
  if (end < 0) return SCAN_FAILED;
  const raw = json.slice(i + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(json.slice(i, end + 1)) as string;
  } catch {
    return SCAN_FAILED;
  }
}

function skipWs(json: string, i: number): number {
  for (;;) {
    const c = json.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index of the quote closing the string that opens at `i`, or -1. */
function stringEnd(json: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = json.indexOf('"', from);
    if (q < 0) return -1;
    let backslashes = 0;
    while (json.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q;
    from = q + 1;
  }
}

/** Index just after the JSON value starting at `i`, or -1. */
function skipValue(json: string, i: number): number {
  const c = json.charCodeAt(i);
  if (c === 0x22) {
    const end = stringEnd(json, i);
    return end < 0 ? -1 : end + 1;
  }
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < json.length; j++) {
      const d = json.charCodeAt(j);
      if (d === 0x22) {
        j = stringEnd(json, j);
        if (j < 0) return -1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  // number, true, false, null
  let j = i;
  for (; j < json.length; j++) {
    const d = json.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
  }
  return j === i ? -1 : j;
}

/** One encoded bulk request: the NDJSON body and, per request line pair, the batch position. */
export interface EncodedBulk {
  /** The NDJSON body as UTF-8 bytes, sent as is. */
  readonly body: Buffer;
  /** Batch positions of the events in the body, in body order. */
  readonly positions: readonly number[];
  /** Results decided before sending (events with an invalid target), by batch position. */
  readonly early: ReadonlyMap<number, DeliveryResult>;
}

/**
 * Encodes `batch` as `create` actions (`_index` from the template, `_id` = event id) with
 * the stored JSON as source line; the body ends with a newline as the API requires. Events
 * whose target name is invalid are rejected here and left out of the body.
 *
 * Hot path (every delivered event): the stored JSON text is copied as is and never parsed
 * (the namespace, when the template uses it, is scanned from the text), and the action line
 * is the cached start for the event's target plus the id. The lines are written straight into
 * one buffer of the exact size: concatenating them into one string first, then encoding it,
 * cost about six times the CPU (the rope of thousands of pieces is flattened, then encoded).
 */
export function encodeBulk(batch: readonly QueuedEvent[], indexTemplate: string): EncodedBulk {
  const byNamespace = indexTemplate.includes('{namespace}');
  const actions: string[] = [];
  const sources: string[] = [];
  const positions: number[] = [];
  const early = new Map<number, DeliveryResult>();
  let size = 0;
  for (let i = 0; i < batch.length; i++) {
    const ev = batch[i]!;
    const target = targetOf(indexTemplate, ev.dataset, byNamespace ? eventNamespace(ev) : 'default');
    if ('problem' in target) {
      early.set(i, { status: 'rejected', reason: target.problem });
      continue;
    }
    const action = target.action + JSON.stringify(ev.id) + '}}\n';
    actions.push(action);
    sources.push(ev.json);
    size += Buffer.byteLength(action) + Buffer.byteLength(ev.json) + 1;
    positions.push(i);
  }
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  for (let k = 0; k < actions.length; k++) {
    at += body.write(actions[k]!, at);
    at += body.write(sources[k]!, at);
    body[at++] = 10;
  }
  return { body, positions, early };
}

/** One item of a bulk answer as servers send it. */
interface BulkItem {
  status?: number;
  error?: BulkError | string;
  _index?: string;
}
interface BulkError {
  type?: string;
  reason?: string | null;
  caused_by?: BulkError;
}

/** "type: reason (caused by type: reason)" from an Elasticsearch error object. */
export function describeError(err: BulkError | string | undefined): string {
  if (err === undefined) return 'no error detail';
  if (typeof err === 'string') return err;
  let text = `${err.type ?? 'error'}: ${err.reason ?? ''}`.trim();
  const cause = err.caused_by;
  if (cause && (cause.type || cause.reason)) text += ` (caused by ${cause.type ?? 'error'}: ${cause.reason ?? ''})`;
  return text;
}

/**
 * Classifies a 200 bulk answer for the events at `positions` of the batch. Throws
 * OutputError when the answer does not match the request (retriable) or when an item shows
 * a configuration problem (fatal: 401/403, or 404 index_not_found because automatic index
 * creation is off or no template matches). `output` names the output in messages.
 */
export function classifyBulkItems(output: string, answer: unknown, positions: readonly number[]): Map<number, DeliveryResult> {
  const items = (answer as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length !== positions.length) {
    const got = Array.isArray(items) ? `${items.length} items` : 'no items array';
    throw new OutputError(`${output}: bulk answer has ${got} for ${positions.length} actions`, { retriable: true });
  }
  const results = new Map<number, DeliveryResult>();
  items.forEach((raw: unknown, k) => {
    const item = firstValue(raw);
    const status = typeof item?.status === 'number' ? item.status : 0;
    const pos = positions[k]!;
    if (status >= 200 && status < 300) {
      results.set(pos, { status: 'delivered' });
    } else if (status === 409) {
      // create with our deterministic _id: the document is already there (replay/duplicate)
      results.set(pos, { status: 'delivered' });
    } else if (status === 429 || status >= 500) {
      results.set(pos, { status: 'retry', reason: `${status} ${describeError(item?.error)}` });
    } else if (status === 401 || status === 403) {
      throw new OutputError(
        `${output}: not allowed to write to ${item?._index ?? 'the target'} (${status} ${describeError(item?.error)}): grant create_doc and auto_configure on it`,
        { retriable: false, fatal: true },
      );
    } else if (status === 404) {
      throw new OutputError(
        `${output}: ${describeError(item?.error)}: the target does not exist and was not created; allow automatic creation (action.auto_create_index) for it, create it, or set install_templates: true`,
        { retriable: false, fatal: true },
      );
    } else if (status === 0) {
      throw new OutputError(`${output}: bulk answer item ${k} has no status`, { retriable: true });
    } else {
      results.set(pos, { status: 'rejected', reason: `${status} ${describeError(item?.error)}` });
    }
  });
  return results;
}

function firstValue(raw: unknown): BulkItem | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const values = Object.values(raw as Record<string, unknown>);
  return values.length === 1 && values[0] !== null && typeof values[0] === 'object' ? (values[0] as BulkItem) : undefined;
}

/** Milliseconds from a Retry-After header (seconds or HTTP date), or undefined. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const s = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The error text of a non-2xx answer body (Elasticsearch's `error` object or plain text). */
export function answerError(body: unknown): string {
  if (body && typeof body === 'object' && 'error' in body) {
    const err = (body as { error: unknown }).error;
    if (typeof err === 'string') return err;
    if (err && typeof err === 'object') {
      const root = (err as { root_cause?: BulkError[] }).root_cause?.[0];
      return describeError((err as BulkError).type ? (err as BulkError) : root);
    }
  }
  if (typeof body === 'string') return body.slice(0, 300);
  if (body === undefined || body === null) return 'empty answer';
  return JSON.stringify(body).slice(0, 300);
}

/**
 * The OutputError for a non-2xx answer to a whole request (bulk or template install).
 * 429/5xx and 408 are retriable (Retry-After honoured); 401/403 are fatal (credentials or
 * privileges); every other status is fatal as well because repeating the same request
 * cannot succeed (wrong URL or path prefix, server too old for the client's compatibility
 * header, ...). 413 never reaches here for bulk requests: the driver splits the batch.
 */
export function requestFailure(output: string, what: string, status: number, headers: Record<string, unknown>, body: unknown): OutputError {
  const detail = answerError(body);
  if (status === 429 || status === 408 || status >= 500) {
    return new OutputError(`${output}: ${what} answered ${status}: ${detail}`, {
      retriable: true,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    });
  }
  if (status === 401) {
    return new OutputError(`${output}: ${what} answered 401 (authentication failed: check the api key / username and password): ${detail}`, {
      retriable: false,
      fatal: true,
    });
  }
  if (status === 403) {
    return new OutputError(`${output}: ${what} answered 403 (the credentials lack a privilege): ${detail}`, { retriable: false, fatal: true });
  }
  return new OutputError(`${output}: ${what} answered ${status}: ${detail}`, { retriable: false, fatal: true });
}
