/**
 * A small declarative config spec: one description of every key drives validation, defaults,
 * secret redaction and the generated configuration reference (`lkrg-siem config-docs`).
 * Modelled on Redpanda Connect's field specs.
 */
import { ConfigError } from '../core/types.js';

/** One field of a config object. */
export type FieldSpec =
  | { kind: 'string'; desc: string; default?: string; required?: boolean; enum?: readonly string[]; secret?: boolean; pattern?: RegExp; patternHint?: string }
  | { kind: 'int'; desc: string; default?: number; required?: boolean; min?: number; max?: number }
  | { kind: 'bool'; desc: string; default?: boolean; required?: boolean }
  | { kind: 'string_list'; desc: string; default?: readonly string[]; required?: boolean; minItems?: number; enum?: readonly string[]; pattern?: RegExp; patternHint?: string }
  | { kind: 'string_map'; desc: string; required?: boolean; keyPattern: RegExp; keyHint: string; maxValueLength?: number }
  | { kind: 'object'; desc: string; fields: Readonly<Record<string, FieldSpec>>; required?: boolean }
  | { kind: 'list'; desc: string; of: ObjectUnionSpec | Readonly<Record<string, FieldSpec>>; required?: boolean; minItems?: number }
  | { kind: 'any'; desc: string; required?: boolean };

/** A list item discriminated by its `type` key (sources, outputs). */
export interface ObjectUnionSpec {
  readonly discriminator: 'type';
  readonly variants: Readonly<Record<string, { desc: string; fields: Readonly<Record<string, FieldSpec>> }>>;
}

export type ConfigObject = Record<string, unknown>;

function isUnion(x: ObjectUnionSpec | Readonly<Record<string, FieldSpec>>): x is ObjectUnionSpec {
  return (x as ObjectUnionSpec).discriminator === 'type' && typeof (x as ObjectUnionSpec).variants === 'object';
}

/**
 * Validates `input` against `fields`, fills defaults and returns a new object. Collects every
 * problem and throws one {@link ConfigErrors} naming each key, its bad value and the fix.
 */
export function applySpec(fields: Readonly<Record<string, FieldSpec>>, input: unknown, path = ''): ConfigObject {
  const errors: ConfigError[] = [];
  const out = checkObject(fields, input, path, errors);
  if (errors.length) throw new ConfigErrors(errors);
  return out;
}

/** Several configuration errors at once; message lists one per line. */
export class ConfigErrors extends Error {
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigErrors';
  }
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function checkObject(fields: Readonly<Record<string, FieldSpec>>, input: unknown, path: string, errors: ConfigError[]): ConfigObject {
  const out: ConfigObject = {};
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    errors.push(new ConfigError(path || '(top level)', input, 'expected a mapping of keys to values'));
    return out;
  }
  const obj = input as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(key in fields)) {
      const near = nearest(key, Object.keys(fields));
      errors.push(
        new ConfigError(join(path, key), obj[key], `unknown key${near ? `; did you mean '${near}'?` : ''} (allowed: ${Object.keys(fields).join(', ')})`),
      );
    }
  }
  for (const [key, spec] of Object.entries(fields)) {
    const v = checkField(spec, obj[key], join(path, key), errors);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function checkField(spec: FieldSpec, v: unknown, path: string, errors: ConfigError[]): unknown {
  if (v === undefined || v === null) {
    if ('default' in spec && spec.default !== undefined) return spec.default;
    if (spec.kind === 'object') return checkObject(spec.fields, {}, path, errors);
    if (spec.required) errors.push(new ConfigError(path, undefined, `required: ${spec.desc}`));
    return undefined;
  }
  switch (spec.kind) {
    case 'string': {
      if (typeof v !== 'string' && typeof v !== 'number') {
        errors.push(new ConfigError(path, v, 'expected a string'));
        return undefined;
      }
      const s = String(v);
      if (spec.enum && !spec.enum.includes(s)) {
        errors.push(new ConfigError(path, v, `allowed values: ${spec.enum.join(', ')}`));
        return undefined;
      }
      if (spec.pattern && !spec.pattern.test(s)) {
        errors.push(new ConfigError(path, spec.secret ? '<redacted>' : v, spec.patternHint ?? `must match ${spec.pattern}`));
        return undefined;
      }
      return s;
    }
    case 'int': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        errors.push(new ConfigError(path, v, 'expected a whole number'));
        return undefined;
      }
      if (spec.min !== undefined && n < spec.min) {
        errors.push(new ConfigError(path, v, `must be at least ${spec.min}`));
        return undefined;
      }
      if (spec.max !== undefined && n > spec.max) {
        errors.push(new ConfigError(path, v, `must be at most ${spec.max}`));
        return undefined;
      }
      return n;
    }
    case 'bool':
      if (typeof v !== 'boolean') {
        errors.push(new ConfigError(path, v, 'expected true or false'));
        return undefined;
      }
      return v;
    case 'string_list': {
      const arr = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'string')) {
        errors.push(new ConfigError(path, v, 'expected a list of strings'));
        return undefined;
      }
      if (spec.minItems && arr.length < spec.minItems) {
        errors.push(new ConfigError(path, v, `needs at least ${spec.minItems} item(s)`));
        return undefined;
      }
      const bad = spec.enum ? arr.findIndex((x) => !spec.enum!.includes(x)) : -1;
      if (bad >= 0) {
        errors.push(new ConfigError(join(path, bad), arr[bad], `allowed values: ${spec.enum!.join(', ')}`));
        return undefined;
      }
      const unlike = spec.pattern ? arr.findIndex((x) => !spec.pattern!.test(x)) : -1;
      if (unlike >= 0) {
        errors.push(new ConfigError(join(path, unlike), arr[unlike], spec.patternHint ?? `must match ${spec.pattern}`));
        return undefined;
      }
      return arr;
    }
    case 'string_map': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        errors.push(new ConfigError(path, v, 'expected a map of names to text, e.g. { env: production }'));
        return undefined;
      }
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (!spec.keyPattern.test(k)) errors.push(new ConfigError(join(path, k), k, spec.keyHint));
        else if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') errors.push(new ConfigError(join(path, k), x, 'expected text'));
        else if (spec.maxValueLength !== undefined && String(x).length > spec.maxValueLength) errors.push(new ConfigError(join(path, k), x, `at most ${spec.maxValueLength} characters`));
        else out[k] = String(x);
      }
      return out;
    }
    case 'object':
      return checkObject(spec.fields, v, path, errors);
    case 'list': {
      if (!Array.isArray(v)) {
        errors.push(new ConfigError(path, v, 'expected a list'));
        return undefined;
      }
      if (spec.minItems && v.length < spec.minItems) {
        errors.push(new ConfigError(path, v, `needs at least ${spec.minItems} item(s)`));
      }
      return v.map((item, i) => {
        const p = join(path, i);
        if (!isUnion(spec.of)) return checkObject(spec.of, item, p, errors);
        const t = (item as Record<string, unknown> | null)?.type;
        const variant = typeof t === 'string' ? spec.of.variants[t] : undefined;
        if (!variant) {
          errors.push(new ConfigError(`${p}.type`, t, `allowed types: ${Object.keys(spec.of.variants).join(', ')}`));
          return item;
        }
        return { type: t, ...checkObject({ ...variant.fields, type: { kind: 'string', desc: 'type' } }, item, p, errors) };
      });
    }
    case 'any':
      return v;
  }
}

function nearest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(key, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** Returns a deep copy of a validated config with every secret field replaced by `<redacted>`. */
export function redact(fields: Readonly<Record<string, FieldSpec>>, value: ConfigObject): ConfigObject {
  const out: ConfigObject = {};
  for (const [k, v] of Object.entries(value)) {
    const spec = fields[k];
    if (!spec) out[k] = v;
    else if (spec.kind === 'string' && spec.secret) out[k] = v === undefined ? v : '<redacted>';
    else if (spec.kind === 'object' && v && typeof v === 'object') out[k] = redact(spec.fields, v as ConfigObject);
    else if (spec.kind === 'list' && Array.isArray(v)) {
      out[k] = v.map((item) => {
        const of = spec.of;
        if (!isUnion(of)) return redact(of, item as ConfigObject);
        const variant = of.variants[(item as ConfigObject).type as string];
        return variant ? redact(variant.fields, item as ConfigObject) : item;
      });
    } else out[k] = v;
  }
  return out;
}

/** Markdown reference of a spec (one table row per key, nested keys dotted). */
export function specToMarkdown(fields: Readonly<Record<string, FieldSpec>>, prefix = ''): string[] {
  const rows: string[] = [];
  for (const [k, spec] of Object.entries(fields)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (spec.kind === 'object') {
      rows.push(...specToMarkdown(spec.fields, key));
      continue;
    }
    if (spec.kind === 'list' && isUnion(spec.of)) {
      rows.push(`| \`${key}\` | list | | ${spec.desc} |`);
      for (const [t, variant] of Object.entries(spec.of.variants)) {
        rows.push(`| \`${key}[].type: ${t}\` | | | ${variant.desc} |`);
        rows.push(...specToMarkdown(variant.fields, `${key}[${t}]`));
      }
      continue;
    }
    if (spec.kind === 'list') {
      rows.push(`| \`${key}\` | list | | ${spec.desc} |`);
      rows.push(...specToMarkdown(spec.of as Record<string, FieldSpec>, `${key}[]`));
      continue;
    }
    const def = 'default' in spec && spec.default !== undefined ? `\`${JSON.stringify(spec.default)}\`` : spec.required ? 'required' : '';
    const extra = (spec.kind === 'string' || spec.kind === 'string_list') && spec.enum ? ` One of: ${spec.enum.map((e) => `\`${e}\``).join(', ')}.` : '';
    const secret = spec.kind === 'string' && spec.secret ? ' Secret: never printed.' : '';
    rows.push(`| \`${key}\` | ${spec.kind} | ${def} | ${spec.desc}${extra}${secret} |`);
  }
  return rows;
}
