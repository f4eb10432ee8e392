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
const SAFE_KEY = /^[A-Za-z0-9_@.-]+$/;

function quotedKey(k: string): string {
  let q = keyCache.get(k);
  if (q === undefined) {
    q = (SAFE_KEY.test(k) ? '"' + k + '"' : JSON.stringify(k)) + ':';
    if (keyCache.size < 10_000) keyCache.set(k, q);
  }
  return q;
}

function encode(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? '' + v : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
      const frozen = Object.isFrozen(v);
      if (frozen) {
        const hit = fragments.get(v);
        if (hit !== undefined) return hit;
      }
      let s: string;
      if (Array.isArray(v)) {
        s = '[';
        for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (encode(v[i]) ?? 'null');
        s += ']';
      } else {
        s = '{';
        let first = true;
        const o = v as Record<string, unknown>;
        for (const k in o) {
          if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
          const x = encode(o[k]);
          if (x === undefined) continue;
          s += (first ? '' : ',') + quotedKey(k) + x;
          first = false;
        }
        s += '}';
      }
      if (frozen) fragments.set(v, s);
      return s;
    }
    default:
      return undefined; // undefined, functions, symbols are skipped like JSON.stringify does
  }
}

/**
 * Serializes an ECS document to compact JSON, byte-identical to JSON.stringify(doc). Called by
 * whoever stores or sends the document (queue, ECS sinks). Never throws for documents made by
 * the normalizer (no cycles, no BigInt).
 */
export function ecsToJson(doc: EcsDocument): string {
  return encode(doc) ?? 'null';
}
