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

/** Reads a dotted ECS path from a nested or flat-dotted document. */
export function docValue(doc: EcsDocument, dotted: string): unknown {
  if (dotted in doc) return doc[dotted];
  let cur: unknown = doc;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The data stream namespace of an event: its `data_stream.namespace`, else "default". */
export function eventNamespace(ev: QueuedEvent): string {
  const ns = docValue(ev.doc, 'data_stream.namespace');
  return typeof ns === 'string' && ns !== '' ? ns : 'default';
}

/** Target index (data stream) of one event, or the reason it has none. */
export function targetIndex(template: string, ev: QueuedEvent): { index: string } | { problem: string } {
  const index = renderIndex(template, ev.dataset, eventNamespace(ev));
  const problem = indexNameProblem(index);
  return problem ? { problem: `target "${index}": ${problem}` } : { index };
}

/** One encoded bulk request: the NDJSON body and, per request line pair, the batch position. */
export interface EncodedBulk {
  readonly body: string;
  /** Batch positions of the events in the body, in body order. */
  readonly positions: readonly number[];
  /** Results decided before sending (events with an invalid target), by batch position. */
  readonly early: ReadonlyMap<number, DeliveryResult>;
}

/**
 * Encodes `batch` as `create` actions (`_index` from the template, `_id` = event id) with
 * the stored JSON as source line; the body ends with a newline as the API requires. Events
 * whose target name is invalid are rejected here and left out of the body.
 */
export function encodeBulk(batch: readonly QueuedEvent[], indexTemplate: string): EncodedBulk {
  const parts: string[] = [];
  const positions: number[] = [];
  const early = new Map<number, DeliveryResult>();
  batch.forEach((ev, i) => {
    const target = targetIndex(indexTemplate, ev);
    if ('problem' in target) {
      early.set(i, { status: 'rejected', reason: target.problem });
      return;
    }
    parts.push(JSON.stringify({ create: { _index: target.index, _id: ev.id } }), '\n', ev.json, '\n');
    positions.push(i);
  });
  return { body: parts.join(''), positions, early };
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
