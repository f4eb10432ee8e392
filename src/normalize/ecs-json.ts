/**
 * Fast JSON encoding of ECS documents built by {@link EcsNormalizer}. Gives exactly the text
 * `JSON.stringify(doc)` gives (tested), but reuses the serialized form of the frozen constant
 * parts every document of a template shares (threat, rule, agent, data_stream, category and
 * type arrays, host), which are about half of a document's bytes. Optional: the pipeline may
 * keep calling JSON.stringify.
 */
import type { EcsDocument } from '../core/output.js';

const fragments = new WeakMap<object, string>();
const keyCache = new Map<string, string>();
const commaKeyCache = new Map<string, string>();
const SAFE_KEY = /^[A-Za-z0-9_@.-]+$/;
/**
 * Characters JSON.stringify escapes: `"`, `\`, C0 controls and (well-formed JSON.stringify)
 * lone surrogates; strings without any of them (nearly all) are quoted as they are, which is
 * much cheaper than a JSON.stringify call per string.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quotedKey(k: string): string {
  let q = keyCache.get(k);
  if (q === undefined) {
    q = (SAFE_KEY.test(k) ? '"' + k + '"' : JSON.stringify(k)) + ':';
    if (keyCache.size < 10_000) keyCache.set(k, q);
  }
  return q;
}

/** The same with the separating comma in front (`,"key":`), for every member but the first. */
function commaKey(k: string): string {
  let q = commaKeyCache.get(k);
  if (q === undefined) {
    q = ',' + quotedKey(k);
    if (commaKeyCache.size < 10_000) commaKeyCache.set(k, q);
  }
  return q;
}

/**
 * Appends the JSON text of `v` to `out` as pieces (joined once per document: one flat string,
 * no concatenation tree to walk later). Returns false, appending nothing, for values
 * JSON.stringify leaves out (undefined, functions, symbols).
 */
function encodeInto(v: unknown, out: string[]): boolean {
  switch (typeof v) {
    case 'string':
      out.push(NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : '"' + v + '"');
      return true;
    case 'number':
      out.push(Number.isFinite(v) ? '' + v : 'null');
      return true;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return true;
    case 'object':
      if (v === null) out.push('null');
      else if (typeof (v as { toJSON?: unknown }).toJSON === 'function') out.push(JSON.stringify(v));
      else if (Object.isFrozen(v)) out.push(fragmentOf(v));
      else encodeComposite(v, out);
      return true;
    default:
      return false;
  }
}

/** The cached JSON text of a frozen (shared, constant) object. */
function fragmentOf(v: object): string {
  let hit = fragments.get(v);
  if (hit === undefined) {
    const parts: string[] = [];
    encodeComposite(v, parts);
    hit = parts.join('');
    fragments.set(v, hit);
  }
  return hit;
}

function encodeComposite(v: object, out: string[]): void {
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i) out.push(',');
      if (!encodeInto(v[i], out)) out.push('null');
    }
    out.push(']');
    return;
  }
  out.push('{');
  let first = true;
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    const mark = out.length;
    out.push(first ? quotedKey(k) : commaKey(k));
    // members JSON.stringify leaves out (undefined, functions, symbols) leave no key behind
    if (encodeInto(o[k], out)) first = false;
    else out.length = mark;
  }
  out.push('}');
}

/**
 * Serializes an ECS document to compact JSON, byte-identical to JSON.stringify(doc). Called by
 * whoever stores or sends the document (queue, ECS sinks). Never throws for documents made by
 * the normalizer (no cycles, no BigInt).
 */
export function ecsToJson(doc: EcsDocument): string {
  const parts: string[] = [];
  if (!encodeInto(doc, parts)) return 'null';
  return parts.length === 1 ? parts[0]! : parts.join('');
}
