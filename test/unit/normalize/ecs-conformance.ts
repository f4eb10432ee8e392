/**
 * Checks an ECS document against the ECS 9.4 field list (mappings/ecs-fields/ecs_flat.yml):
 * every field exists (lkrg.* and labels.* excepted), JSON types fit, allowed values, arrays
 * where ECS normalizes to arrays. Returns a list of problems (empty = conformant).
 */
import { isIP } from 'node:net';
import type { EcsFieldInfo } from '../../../src/normalize/mapping-loader.js';

const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
const STRINGY = new Set(['keyword', 'constant_keyword', 'wildcard', 'match_only_text', 'text']);

export function ecsProblems(doc: Record<string, unknown>, fields: ReadonlyMap<string, EcsFieldInfo>): string[] {
  const out: string[] = [];
  const leaf = (path: string, v: unknown): void => {
    if (path.startsWith('lkrg.')) {
      if (v === undefined || typeof v === 'function') out.push(`${path}: bad value`);
      return;
    }
    if (path.startsWith('labels.')) {
      if (typeof v !== 'string') out.push(`${path}: labels are keyword strings`);
      return;
    }
    const f = fields.get(path);
    if (!f) {
      out.push(`${path}: not an ECS 9.4 field`);
      return;
    }
    const isArr = Array.isArray(v);
    if (f.normalize.includes('array') && !isArr) out.push(`${path}: ECS normalizes to an array`);
    if (!f.normalize.includes('array') && isArr) out.push(`${path}: must not be an array`);
    for (const x of isArr ? (v as unknown[]) : [v]) {
      if (f.type === 'long' && !Number.isSafeInteger(x)) out.push(`${path}: long expected, got ${JSON.stringify(x)}`);
      else if (STRINGY.has(f.type) && typeof x !== 'string') out.push(`${path}: ${f.type} expects a string, got ${JSON.stringify(x)}`);
      else if (f.type === 'ip' && (typeof x !== 'string' || !isIP(x))) out.push(`${path}: ip expected, got ${JSON.stringify(x)}`);
      else if (f.type === 'date' && (typeof x !== 'string' || !ISO_RE.test(x) || !Number.isFinite(Date.parse(x)))) out.push(`${path}: ISO date expected, got ${JSON.stringify(x)}`);
      else if (f.type === 'boolean' && typeof x !== 'boolean') out.push(`${path}: boolean expected`);
      else if (!['long', 'ip', 'date', 'boolean'].includes(f.type) && !STRINGY.has(f.type)) out.push(`${path}: unexpected ECS type ${f.type} emitted`);
      if (f.allowed && typeof x === 'string' && !f.allowed.has(x)) out.push(`${path}: '${x}' not an allowed value`);
    }
  };
  const walk = (prefix: string, o: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(o)) {
      const path = prefix ? `${prefix}.${k}` : k;
      if (v === undefined) out.push(`${path}: undefined value`);
      else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const t = fields.get(path)?.type;
        if (t !== undefined && t !== 'object') out.push(`${path}: object given for ECS type ${t}`);
        else walk(path, v as Record<string, unknown>);
      } else leaf(path, v);
    }
  };
  walk('', doc);
  const ev = (doc.event ?? {}) as Record<string, unknown>;
  if (typeof doc['@timestamp'] !== 'string') out.push('@timestamp missing');
  if ((doc.ecs as Record<string, unknown> | undefined)?.version !== '9.4.0') out.push('ecs.version must be 9.4.0');
  if (ev.kind === 'signal') out.push('event.kind signal is reserved');
  const exp = fields.get('event.category')?.expectedTypes;
  const cats = (ev.category ?? []) as string[];
  for (const t of (ev.type ?? []) as string[]) {
    if (!cats.some((c) => exp?.get(c)?.has(t))) out.push(`event.type ${t} not expected for [${cats.join(',')}]`);
  }
  const ds = doc.data_stream as Record<string, unknown> | undefined;
  if (ds && ds.dataset !== ev.dataset) out.push('data_stream.dataset must equal event.dataset');
  return out;
}
