/**
 * Loads and checks the normalization tables in `mappings/` (ecs.yaml, cef.yaml, cef-keys.yaml,
 * the LKRG catalog and the ECS 9.4 field list) and compiles them into per-template plans, so
 * the per-event work in {@link EcsNormalizer} and {@link CefEncoder} only fills in values.
 *
 * Every problem is a {@link MappingError} naming the file, the entry and the reason; nothing is
 * silently ignored (unknown properties, unknown template ids, ECS fields that do not exist,
 * disallowed ECS values, unknown CEF keys, duplicate CEF slots, missing ATT&CK tactics ...).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { yamlModule } from '../core/lazy-yaml.js';
import { sha256Hex } from '../parse/sha256-hex.js';

/** A mapping table is wrong. `file` and `entry` say where, `reason` says what. */
export class MappingError extends Error {
  constructor(
    readonly file: string,
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`${file}: ${entry}: ${reason}`);
    this.name = 'MappingError';
  }
}

// ---------------------------------------------------------------------------------------------
// Input shapes

/** The part of a catalog template the normalizer uses (see mappings/lkrg-catalog.json). */
export interface CatalogTemplateInfo {
  readonly id: string;
  readonly family?: string;
  readonly style: 'current' | 'legacy' | 'raw';
  readonly level: string;
  readonly action: string | null;
  readonly category: string | null;
  readonly format: string;
  readonly fields: readonly string[];
  readonly constants?: Readonly<Record<string, unknown>>;
  readonly printk_level: number;
  readonly cef_severity: number;
  readonly mitre: readonly { readonly id: string; readonly name: string }[];
  readonly maps_to?: string;
  readonly regex: string;
}

/** The catalog JSON as far as the normalizer reads it. */
export interface CatalogInfo {
  readonly templates: readonly CatalogTemplateInfo[];
}

/** One ECS field from ecs_flat.yml. */
export interface EcsFieldInfo {
  readonly type: string;
  readonly normalize: readonly string[];
  readonly allowed?: ReadonlySet<string>;
  /** For event.category: allowed value -> its expected event.type values. */
  readonly expectedTypes?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Texts/objects of the tables; any member missing is read from the mappings directory. */
export interface MappingSources {
  /** Directory holding ecs.yaml, cef.yaml, cef-keys.yaml, lkrg-catalog.json, ecs-fields/. */
  readonly dir?: string;
  readonly ecsYaml?: string;
  readonly cefYaml?: string;
  readonly cefKeysYaml?: string;
  readonly catalog?: CatalogInfo;
  readonly ecsFields?: ReadonlyMap<string, EcsFieldInfo>;
  /**
   * Where the build-time JSON forms of the YAML tables are (see {@link writeMappingJson}):
   * default dist/mappings-json/; null reads the YAML only.
   */
  readonly jsonCacheDir?: string | null;
}

// ---------------------------------------------------------------------------------------------
// Compiled shapes

/** Where one extracted field goes. */
export interface FieldRow {
  readonly path: readonly string[];
  /** hex/octal: keyword with a `0x`/`0` prefix added (catalog regexes capture the digits only). */
  readonly type: 'long' | 'keyword' | 'hex' | 'octal';
  readonly related?: 'user';
}

/** ECS categorization of one kind of line. Arrays are frozen and shared between documents. */
export interface Classification {
  readonly kind: string;
  readonly category: readonly string[];
  readonly type: readonly string[];
  readonly outcome?: string;
  readonly action: string;
  readonly severity: number;
  readonly tags: readonly string[];
}

/** A text with `{field}` holes, compiled. Odd indexes are field names. */
export type TextPlan = readonly string[];

/** Everything constant about one catalog template, computed at load. */
export interface TemplatePlan {
  readonly id: string;
  readonly style: 'current' | 'legacy' | 'raw';
  readonly level: string;
  readonly action: string | null;
  readonly category: string | null;
  readonly mapsTo?: string;
  readonly dataset: 'lkrg.alert' | 'lkrg.log';
  readonly printkLevel: number;
  readonly base: Classification;
  /** For STATE lines: how to tell a weakening change and what to emit then. */
  readonly state?: {
    readonly weaken: 'decrease' | 'increase' | 'always' | 'never';
    readonly weakened: Classification;
    readonly otherwise: Classification;
  };
  readonly rule: Readonly<Record<string, string>>;
  readonly threat?: Readonly<Record<string, unknown>>;
  readonly fieldRows: ReadonlyMap<string, readonly FieldRow[]>;
  readonly setRows: readonly { readonly path: readonly string[]; readonly value: string | number | boolean }[];
  readonly reason?: TextPlan;
}

/** Classification + rule for forged/unknown/kernel/notice lines. */
export interface SpecialPlan {
  readonly cls: Classification;
  readonly ruleId?: string;
  readonly ruleName?: string;
}

/** One CEF extension row. */
export interface CefRow {
  readonly key: string;
  /** `cs1Label=module` already escaped, or undefined for dictionary keys. */
  readonly labelPair?: string;
  readonly from: readonly (readonly string[])[];
  readonly as: 'text' | 'epoch_ms' | 'integer' | 'ipv4' | 'join' | 'attack_ids';
  readonly when?: 'numeric' | 'not_numeric';
  readonly max?: number;
}

/** The compiled CEF mapping. */
export interface CefPlan {
  readonly vendor: string;
  readonly product: string;
  readonly version: { readonly from: readonly (readonly string[])[]; readonly default: string };
  readonly signatureId: { readonly from: readonly (readonly string[])[]; readonly default: string };
  readonly name: { readonly from: readonly (readonly string[])[]; readonly default: string };
  readonly severity: { readonly from: readonly (readonly string[])[]; readonly default: number };
  readonly headerMax: Readonly<Record<'vendor' | 'product' | 'version' | 'signature_id' | 'name', number>>;
  readonly rows: readonly CefRow[];
}

/** The result of {@link loadMappings}: everything the normalizer and CEF encoder need. */
export interface CompiledMappings {
  readonly ecsVersion: string;
  readonly templates: ReadonlyMap<string, TemplatePlan>;
  /** Default rows for fields by name (companion lines, fields of unknown entries). */
  readonly defaultFieldRows: ReadonlyMap<string, readonly FieldRow[]>;
  /** Compiled regexes of raw companion templates (hidden-module block, panic line ...). */
  readonly companionTemplates: readonly { readonly id: string; readonly re: RegExp }[];
  /** Classification for an LKRG line that matched no template. Cached per key. */
  unknownPlan(level: string | null, action: string | null, category: string | null): SpecialPlan;
  readonly forged: SpecialPlan;
  readonly kernelLine: SpecialPlan & { readonly severityBySyslog: readonly number[] };
  readonly notices: ReadonlyMap<string, SpecialPlan>;
  readonly printkLevels: readonly string[];
  readonly syslogSeverityNames: readonly string[];
  readonly syslogFacilityNames: readonly string[];
  readonly cef: CefPlan;
}

// ---------------------------------------------------------------------------------------------
// Locations

/** Finds `mappings/` from src/normalize (tsx/vitest) or dist/src/normalize (compiled). */
export function defaultMappingsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = join(here, up, 'mappings');
    if (existsSync(join(dir, 'ecs.yaml'))) return dir;
  }
  throw new MappingError('mappings/', '(directory)', `not found near ${here}`);
}

const ecsFieldCache = new Map<string, ReadonlyMap<string, EcsFieldInfo>>();

/** The compact, derived form of ecs_flat.yml kept next to it (see {@link deriveEcsFieldsJson}). */
export interface EcsFieldsJson {
  /** sha256 of the ecs_flat.yml it was derived from; a mismatch means "stale, ignore me". */
  readonly source_sha256: string;
  readonly fields: Record<string, { type: string; normalize?: string[]; allowed?: string[]; expected_event_types?: Record<string, string[]> }>;
}

/** Derives the compact JSON from the YAML text (slow: a full YAML parse). Used by loadEcsFields and a test. */
export function deriveEcsFieldsJson(path: string, yamlText: string): EcsFieldsJson {
  const raw = yamlModule().parse(yamlText, { maxAliasCount: -1 }) as Record<string, any>;
  if (!raw || typeof raw !== 'object') throw new MappingError(path, '(file)', 'not a YAML mapping');
  const fields: EcsFieldsJson['fields'] = {};
  for (const [name, f] of Object.entries(raw)) {
    if (!f || typeof f.type !== 'string') throw new MappingError(path, name, 'field without type');
    const entry: EcsFieldsJson['fields'][string] = { type: f.type };
    if (Array.isArray(f.normalize) && f.normalize.length) entry.normalize = f.normalize.map(String);
    if (Array.isArray(f.allowed_values)) {
      entry.allowed = f.allowed_values.map((av: { name: unknown }) => String(av.name));
      for (const av of f.allowed_values) {
        if (Array.isArray(av.expected_event_types)) (entry.expected_event_types ??= {})[String(av.name)] = av.expected_event_types.map(String);
      }
    }
    fields[name] = entry;
  }
  return { source_sha256: sha256Hex(yamlText), fields };
}

/**
 * Reads the ECS field list: the compact `ecs-fields.json` beside ecs_flat.yml when it was
 * derived from exactly this ecs_flat.yml (sha256), else ecs_flat.yml itself (a YAML parse of
 * about two seconds). Cached per path. Throws MappingError when the file is missing or malformed.
 */
export function loadEcsFields(path: string): ReadonlyMap<string, EcsFieldInfo> {
  const hit = ecsFieldCache.get(path);
  if (hit) return hit;
  if (!existsSync(path)) throw new MappingError(path, '(file)', 'ECS field list not found');
  const yamlText = readFileSync(path, 'utf8');
  const sha = sha256Hex(yamlText);
  const jsonPath = join(dirname(path), 'ecs-fields.json');
  let data: EcsFieldsJson | undefined;
  if (existsSync(jsonPath)) {
    const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as EcsFieldsJson;
    if (j.source_sha256 === sha) data = j;
  }
  data ??= deriveEcsFieldsJson(path, yamlText);
  const out = new Map<string, EcsFieldInfo>();
  for (const [name, f] of Object.entries(data.fields)) {
    out.set(name, {
      type: f.type,
      normalize: f.normalize ?? [],
      allowed: f.allowed ? new Set(f.allowed) : undefined,
      expectedTypes: f.expected_event_types ? new Map(Object.entries(f.expected_event_types).map(([k, v]) => [k, new Set(v)])) : undefined,
    });
  }
  ecsFieldCache.set(path, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loading

const ECS_FILE = 'mappings/ecs.yaml';
const CEF_FILE = 'mappings/cef.yaml';
const CEF_KEYS_FILE = 'mappings/cef-keys.yaml';

/** LKRG levels a class key may name (current, legacy and raw). */
const LEVELS = [
  'ALERT', 'ALIVE', 'STATE', 'DYING', 'FAULT', 'FATAL', 'ISSUE', 'WATCH', 'DEBUG', 'FLOOD',
  'CRIT', 'ERR', 'WARN', 'INFO', 'DBG', 'PANIC', 'RAWCRIT', 'RAW',
];
const ACTIONS = ['DETECT', 'BLOCK', 'ALLOW'];
const NOTICE_TYPES = ['gap', 'reboot', 'duplicate', 'quiet', 'truncated', 'journal-missed'];
const ACTION_RE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const PLACEHOLDER_RE = /\{([A-Za-z0-9_.]+)\}/g;

interface RuleEntry {
  kind?: string;
  category?: string[];
  type?: string[];
  outcome?: string | null;
  action?: string;
  severity?: number;
  rule_name?: string;
  reason?: string;
  set?: Record<string, string | number | boolean>;
  fields?: Record<string, FieldDestSpec[]>;
  state?: StateSpec;
  tags?: string[];
}
interface FieldDestSpec {
  to: string;
  type?: 'long' | 'keyword' | 'hex' | 'octal';
  related?: 'user';
}
interface ClsOverride {
  kind?: string;
  action?: string;
  severity?: number;
  tags?: string[];
}
interface StateSpec {
  weaken?: 'decrease' | 'increase' | 'always' | 'never';
  weakened?: ClsOverride;
  otherwise?: ClsOverride;
}

/**
 * Loads, checks and compiles the mapping tables. Called once by {@link Normalizer} (and by
 * tests with broken tables passed as text). Throws {@link MappingError} on the first problem.
 */
export function loadMappings(src: MappingSources = {}): CompiledMappings {
  const dir = src.dir ?? (src.ecsYaml && src.cefYaml && src.cefKeysYaml && src.catalog && src.ecsFields ? '' : defaultMappingsDir());
  const readText = (name: string): string => {
    const p = join(dir, name);
    if (!existsSync(p)) throw new MappingError(`mappings/${name}`, '(file)', 'file not found');
    return readFileSync(p, 'utf8');
  };
  const ecsFields = src.ecsFields ?? loadEcsFields(join(dir, 'ecs-fields', 'ecs_flat.yml'));
  const catalog = src.catalog ?? (JSON.parse(readText('lkrg-catalog.json')) as CatalogInfo);
  const cacheDir = src.jsonCacheDir === undefined ? defaultMappingJsonDir() : src.jsonCacheDir;
  const ecsDoc = parseMappingText(ECS_FILE, src.ecsYaml ?? readText('ecs.yaml'), cacheDir);
  const cefDoc = parseMappingText(CEF_FILE, src.cefYaml ?? readText('cef.yaml'), cacheDir);
  const keysDoc = parseMappingText(CEF_KEYS_FILE, src.cefKeysYaml ?? readText('cef-keys.yaml'), cacheDir);
  return compile(ecsDoc, cefDoc, keysDoc, catalog, ecsFields);
}

function parseYamlFile(file: string, text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = yamlModule().parse(text, { uniqueKeys: true, maxAliasCount: 1000 });
  } catch (e) {
    throw new MappingError(file, '(syntax)', (e as Error).message.split('\n')[0] ?? 'YAML error');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new MappingError(file, '(file)', 'top level must be a mapping');
  return doc as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Build-time JSON form of the YAML tables

/** The mapping tables that have a build-time JSON form (file names inside mappings/). */
export const MAPPING_YAML_FILES: readonly string[] = ['ecs.yaml', 'cef.yaml', 'cef-keys.yaml'];

/** One table's JSON form: the parsed document and the sha256 of the exact YAML text it came from. */
interface MappingJson {
  readonly source_sha256: string;
  readonly doc: Record<string, unknown>;
}

/** dist/mappings-json/ (written by `npm run build`), seen from this module; may not exist. */
function defaultMappingJsonDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'mappings-json');
}

/**
 * Parses one table: from its JSON form in `cacheDir` when that was made from exactly this text
 * (sha256; a YAML parse costs 100-150 ms of start-up), else from the YAML. Any other JSON (an
 * edited table, a stale or unreadable file) is ignored, so the result and the errors are always
 * those of the YAML text. `file` is the name used in errors (`mappings/ecs.yaml`).
 */
function parseMappingText(file: string, text: string, cacheDir: string | null): Record<string, unknown> {
  if (cacheDir !== null) {
    const path = join(cacheDir, `${file.slice(file.lastIndexOf('/') + 1)}.json`);
    try {
      const j = JSON.parse(readFileSync(path, 'utf8')) as MappingJson;
      if (j.source_sha256 === sha256Hex(text) && isObj(j.doc)) return j.doc;
    } catch {
      // no usable JSON form: parse the YAML
    }
  }
  return parseYamlFile(file, text);
}

/**
 * Writes the JSON form of every table in MAPPING_YAML_FILES of `mappingsDir` into `outDir`.
 * Called by the build (src/build/mapping-json.ts). A table whose YAML does not parse, or whose
 * document does not survive a JSON round trip unchanged, gets no JSON form (it is then parsed
 * from YAML at load, with the usual errors). Returns the names written.
 */
export function writeMappingJson(mappingsDir: string, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const name of MAPPING_YAML_FILES) {
    const target = join(outDir, `${name}.json`);
    rmSync(target, { force: true });
    const text = readFileSync(join(mappingsDir, name), 'utf8');
    let doc: Record<string, unknown>;
    try {
      doc = parseYamlFile(`mappings/${name}`, text);
    } catch {
      continue;
    }
    const json = JSON.stringify({ source_sha256: sha256Hex(text), doc } satisfies MappingJson);
    if (!isDeepStrictEqual((JSON.parse(json) as MappingJson).doc, doc)) continue;
    writeFileSync(target, json);
    written.push(name);
  }
  return written;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function checkKeys(file: string, entry: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new MappingError(file, entry, `unknown property '${k}' (allowed: ${allowed.join(', ')})`);
  }
}

function compile(
  ecsDoc: Record<string, unknown>,
  cefDoc: Record<string, unknown>,
  keysDoc: Record<string, unknown>,
  catalog: CatalogInfo,
  ecsFields: ReadonlyMap<string, EcsFieldInfo>,
): CompiledMappings {
  const F = ECS_FILE;
  checkKeys(F, '(top level)', ecsDoc, [
    'ecs_version', 'attack', 'fields', 'classes', 'families', 'templates', 'forged', 'unknown',
    'kernel_line', 'notices', 'printk_levels', 'syslog_severity_names', 'syslog_facility_names',
  ]);
  const ecsVersion = String(ecsDoc.ecs_version ?? '');
  if (ecsVersion !== '9.4.0') throw new MappingError(F, 'ecs_version', `must be "9.4.0" (the ECS field list shipped), got "${ecsVersion}"`);

  // ---- catalog indexes
  const byId = new Map<string, CatalogTemplateInfo>();
  const familyNames = new Set<string>();
  const categories = new Set<string>();
  const allFieldNames = new Set<string>();
  for (const t of catalog.templates) {
    byId.set(t.id, t);
    if (t.family) familyNames.add(t.family);
    if (t.category) categories.add(t.category);
    for (const f of t.fields) allFieldNames.add(f);
  }

  // ---- ECS checks
  const ecsPathOk = (file: string, entry: string, path: string, valueType: 'long' | 'keyword' | 'boolean'): void => {
    if (!/^[A-Za-z@_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/.test(path)) throw new MappingError(file, entry, `'${path}' is not a field path`);
    if (path.startsWith('lkrg.')) return;
    if (path.startsWith('labels.')) {
      if (valueType !== 'keyword') throw new MappingError(file, entry, `labels.* are keyword, not ${valueType}`);
      return;
    }
    const f = ecsFields.get(path);
    if (!f) throw new MappingError(file, entry, `'${path}' is not an ECS 9.4 field (use lkrg.* for vendor fields)`);
    const ok =
      valueType === 'long' ? f.type === 'long' :
      valueType === 'boolean' ? f.type === 'boolean' :
      ['keyword', 'constant_keyword', 'wildcard', 'match_only_text', 'text'].includes(f.type);
    if (!ok) throw new MappingError(file, entry, `'${path}' has ECS type ${f.type}, cannot hold a ${valueType}`);
    if (f.normalize.includes('array')) throw new MappingError(file, entry, `'${path}' is an array field in ECS; field rows write scalars`);
  };
  const allowedOf = (field: string): ReadonlySet<string> => ecsFields.get(field)?.allowed ?? new Set();
  const checkCls = (file: string, entry: string, c: Partial<Classification>): void => {
    if (c.kind !== undefined) {
      if (c.kind === 'signal') throw new MappingError(file, entry, `event.kind 'signal' is reserved for the Elastic Security app`);
      if (!allowedOf('event.kind').has(c.kind)) throw new MappingError(file, entry, `event.kind '${c.kind}' is not allowed by ECS`);
    }
    for (const cat of c.category ?? []) {
      if (!allowedOf('event.category').has(cat)) throw new MappingError(file, entry, `event.category '${cat}' is not allowed by ECS`);
    }
    for (const ty of c.type ?? []) {
      if (!allowedOf('event.type').has(ty)) throw new MappingError(file, entry, `event.type '${ty}' is not allowed by ECS`);
    }
    if (c.outcome !== undefined && !allowedOf('event.outcome').has(c.outcome)) {
      throw new MappingError(file, entry, `event.outcome '${c.outcome}' is not allowed by ECS`);
    }
    if (c.action !== undefined && !ACTION_RE.test(c.action)) throw new MappingError(file, entry, `event.action '${c.action}' must be kebab-case`);
    if (c.severity !== undefined && !(Number.isInteger(c.severity) && c.severity >= 0 && c.severity <= 10)) {
      throw new MappingError(file, entry, `severity ${String(c.severity)} must be an integer 0-10`);
    }
  };
  const checkTypesFitCategories = (file: string, entry: string, cats: readonly string[], types: readonly string[]): void => {
    const exp = ecsFields.get('event.category')?.expectedTypes;
    if (!exp) return;
    for (const ty of types) {
      if (!cats.some((c) => exp.get(c)?.has(ty))) {
        throw new MappingError(file, entry, `event.type '${ty}' is not an expected type for categories [${cats.join(', ')}]`);
      }
    }
  };

  // ---- attack
  const attack = ecsDoc.attack;
  if (!isObj(attack)) throw new MappingError(F, 'attack', 'missing');
  checkKeys(F, 'attack', attack, ['framework', 'technique_reference', 'tactic_reference', 'tactics', 'techniques']);
  const tactics = attack.tactics as Record<string, string>;
  const techniques = attack.techniques as Record<string, string[]>;
  if (!isObj(tactics) || !isObj(techniques)) throw new MappingError(F, 'attack', 'tactics and techniques must be mappings');
  for (const [id, name] of Object.entries(tactics)) {
    if (!/^TA\d{4}$/.test(id) || typeof name !== 'string') throw new MappingError(F, `attack.tactics.${id}`, 'id must be TAnnnn with a name');
  }
  for (const [id, list] of Object.entries(techniques)) {
    if (!/^T\d{4}(?:\.\d{3})?$/.test(id)) throw new MappingError(F, `attack.techniques.${id}`, 'not a technique id');
    if (!Array.isArray(list) || list.length === 0) throw new MappingError(F, `attack.techniques.${id}`, 'needs a list of tactic ids');
    for (const ta of list) if (!(ta in tactics)) throw new MappingError(F, `attack.techniques.${id}`, `tactic ${ta} is not in attack.tactics`);
  }
  const framework = String(attack.framework ?? 'MITRE ATT&CK');
  const techRef = String(attack.technique_reference ?? '');
  const tacRef = String(attack.tactic_reference ?? '');

  // ---- rule entry parsing
  const RULE_KEYS = ['kind', 'category', 'type', 'outcome', 'action', 'severity', 'rule_name', 'reason', 'set', 'fields', 'state', 'tags'];
  const parseFieldDests = (entry: string, name: string, v: unknown): FieldDestSpec[] => {
    if (!Array.isArray(v)) throw new MappingError(F, `${entry}.${name}`, 'must be a list of {to, type?, related?}');
    return v.map((d, i) => {
      if (!isObj(d) || typeof d.to !== 'string') throw new MappingError(F, `${entry}.${name}[${i}]`, 'needs a `to` path');
      checkKeys(F, `${entry}.${name}[${i}]`, d, ['to', 'type', 'related']);
      if (d.type !== undefined && !['long', 'keyword', 'hex', 'octal'].includes(d.type as string)) throw new MappingError(F, `${entry}.${name}[${i}]`, `type '${String(d.type)}' must be long, keyword, hex or octal`);
      if (d.related !== undefined && d.related !== 'user') throw new MappingError(F, `${entry}.${name}[${i}]`, `related '${String(d.related)}' must be user`);
      return d as unknown as FieldDestSpec;
    });
  };
  const parseOverride = (entry: string, v: unknown): ClsOverride => {
    if (!isObj(v)) throw new MappingError(F, entry, 'must be a mapping');
    checkKeys(F, entry, v, ['kind', 'action', 'severity', 'tags']);
    checkCls(F, entry, v as Partial<Classification>);
    return v as ClsOverride;
  };
  const parseEntry = (entry: string, v: unknown): RuleEntry => {
    if (!isObj(v)) throw new MappingError(F, entry, 'must be a mapping');
    checkKeys(F, entry, v, RULE_KEYS);
    const e = v as RuleEntry;
    for (const k of ['category', 'type', 'tags'] as const) {
      if (e[k] !== undefined && (!Array.isArray(e[k]) || !e[k]!.every((x) => typeof x === 'string'))) throw new MappingError(F, entry, `${k} must be a list of strings`);
    }
    checkCls(F, entry, { ...e, outcome: e.outcome ?? undefined } as Partial<Classification>);
    if (e.fields !== undefined) {
      if (!isObj(e.fields)) throw new MappingError(F, `${entry}.fields`, 'must be a mapping');
      for (const [name, dests] of Object.entries(e.fields)) {
        if (!allFieldNames.has(name)) throw new MappingError(F, `${entry}.fields.${name}`, 'no catalog template has this field');
        parseFieldDests(`${entry}.fields`, name, dests);
      }
    }
    if (e.set !== undefined && !isObj(e.set)) throw new MappingError(F, `${entry}.set`, 'must be a mapping');
    for (const t of ['rule_name', 'reason'] as const) {
      const s = e[t];
      if (s === undefined) continue;
      if (typeof s !== 'string' || !s) throw new MappingError(F, entry, `${t} must be a non-empty string`);
      checkPlaceholders(entry, t, s, t === 'rule_name' ? ['format'] : []);
    }
    if (e.state !== undefined) {
      if (!isObj(e.state)) throw new MappingError(F, `${entry}.state`, 'must be a mapping');
      checkKeys(F, `${entry}.state`, e.state as Record<string, unknown>, ['weaken', 'weakened', 'otherwise']);
      const st = e.state as StateSpec;
      if (st.weaken !== undefined && !['decrease', 'increase', 'always', 'never'].includes(st.weaken)) {
        throw new MappingError(F, `${entry}.state.weaken`, `'${String(st.weaken)}' must be decrease, increase, always or never`);
      }
      if (st.weakened !== undefined) parseOverride(`${entry}.state.weakened`, st.weakened);
      if (st.otherwise !== undefined) parseOverride(`${entry}.state.otherwise`, st.otherwise);
    }
    return e;
  };
  const checkPlaceholders = (entry: string, what: string, s: string, extra: readonly string[]): void => {
    for (const m of s.matchAll(PLACEHOLDER_RE)) {
      const name = m[1]!;
      if (name.startsWith('const.') || extra.includes(name)) continue;
      if (!allFieldNames.has(name)) throw new MappingError(F, entry, `${what} placeholder {${name}} is neither a catalog field nor const.*`);
    }
  };

  // default field rows
  const fieldsSpec = ecsDoc.fields;
  if (!isObj(fieldsSpec)) throw new MappingError(F, 'fields', 'missing');
  const defaultDests = new Map<string, FieldDestSpec[]>();
  for (const [name, v] of Object.entries(fieldsSpec)) {
    if (!allFieldNames.has(name)) throw new MappingError(F, `fields.${name}`, 'no catalog template has this field');
    const dests = parseFieldDests('fields', name, v);
    for (const d of dests) if (d.to.includes('{')) throw new MappingError(F, `fields.${name}`, 'default rows cannot use placeholders');
    defaultDests.set(name, dests);
  }
  const compileRows = (entry: string, dests: readonly FieldDestSpec[], consts: Readonly<Record<string, unknown>>): FieldRow[] => {
    const rows: FieldRow[] = [];
    for (const d of dests) {
      let to = d.to;
      const m = /^\{const\.([A-Za-z0-9_]+)\}$/.exec(to);
      if (m) {
        if (!(m[1]! in consts)) throw new MappingError(F, entry, `destination {const.${m[1]}} but the template has no such constant`);
        const c = consts[m[1]!];
        if (c === null || c === undefined) continue;
        to = String(c);
      } else if (to.includes('{')) throw new MappingError(F, entry, `destination '${to}': only a whole {const.x} placeholder is allowed`);
      const type = d.type ?? 'keyword';
      ecsPathOk(F, `${entry} -> ${to}`, to, type === 'long' ? 'long' : 'keyword');
      rows.push(Object.freeze({ path: Object.freeze(to.split('.')), type, ...(d.related ? { related: d.related } : {}) }));
    }
    return rows;
  };
  const defaultFieldRows = new Map<string, readonly FieldRow[]>();
  for (const [name, dests] of defaultDests) defaultFieldRows.set(name, Object.freeze(compileRows(`fields.${name}`, dests, {})));

  // ---- classes
  const classesRaw = ecsDoc.classes;
  if (!isObj(classesRaw)) throw new MappingError(F, 'classes', 'missing');
  const classes: { level: string; action: string; category: string; score: number; entry: RuleEntry; key: string }[] = [];
  for (const [key, v] of Object.entries(classesRaw)) {
    const parts = key.split(' ');
    if (parts.length !== 3) throw new MappingError(F, `classes."${key}"`, 'key must be "<LEVEL> <ACTION|-> <Category>" (* for any)');
    const [level, action, category] = parts as [string, string, string];
    if (level !== '*' && !LEVELS.includes(level)) throw new MappingError(F, `classes."${key}"`, `unknown level '${level}'`);
    if (action !== '*' && action !== '-' && !ACTIONS.includes(action)) throw new MappingError(F, `classes."${key}"`, `unknown action '${action}'`);
    if (category !== '*' && !categories.has(category)) throw new MappingError(F, `classes."${key}"`, `category '${category}' does not occur in the catalog`);
    const entry = parseEntry(`classes."${key}"`, v);
    for (const k of ['fields', 'set', 'reason', 'state'] as const) {
      if (entry[k] !== undefined) throw new MappingError(F, `classes."${key}"`, `'${k}' belongs in families/templates, not classes`);
    }
    const score = (level !== '*' ? 4 : 0) + (action !== '*' ? 2 : 0) + (category !== '*' ? 1 : 0);
    classes.push({ level, action, category, score, entry, key });
  }
  classes.sort((a, b) => b.score - a.score);
  if (!classes.some((c) => c.score === 0)) throw new MappingError(F, 'classes', 'needs a "* * *" fallback entry');
  const matchClasses = (level: string | null, action: string | null, category: string | null): RuleEntry[] =>
    classes
      .filter(
        (c) =>
          (c.level === '*' || c.level === level) &&
          (c.action === '*' || (c.action === '-' ? action === null : c.action === action)) &&
          (c.category === '*' || c.category === category),
      )
      .map((c) => c.entry);

  // ---- families / templates
  const familiesRaw = (ecsDoc.families ?? {}) as Record<string, unknown>;
  if (!isObj(familiesRaw)) throw new MappingError(F, 'families', 'must be a mapping');
  const families = new Map<string, RuleEntry>();
  for (const [name, v] of Object.entries(familiesRaw)) {
    if (!familyNames.has(name)) throw new MappingError(F, `families.${name}`, 'no catalog template has this family');
    families.set(name, parseEntry(`families.${name}`, v));
  }
  const templatesRaw = (ecsDoc.templates ?? {}) as Record<string, unknown>;
  if (!isObj(templatesRaw)) throw new MappingError(F, 'templates', 'must be a mapping');
  const tEntries = new Map<string, RuleEntry>();
  for (const [id, v] of Object.entries(templatesRaw)) {
    if (!byId.has(id)) throw new MappingError(F, `templates.${id}`, 'unknown template id (not in lkrg-catalog.json)');
    tEntries.set(id, parseEntry(`templates.${id}`, v));
  }

  const first = <K extends keyof RuleEntry>(chain: readonly RuleEntry[], k: K): RuleEntry[K] | undefined => {
    for (const e of chain) if (e[k] !== undefined) return e[k];
    return undefined;
  };
  const render = (entry: string, s: string, consts: Readonly<Record<string, unknown>>, extra: Readonly<Record<string, string>>): string =>
    s.replace(PLACEHOLDER_RE, (all, name: string) => {
      if (name.startsWith('const.')) {
        const c = consts[name.slice(6)];
        if (c === undefined || c === null) throw new MappingError(F, entry, `placeholder {${name}}: the template has no such constant`);
        return String(c);
      }
      if (name in extra) return extra[name]!;
      return all;
    });
  const compileText = (entry: string, s: string, consts: Readonly<Record<string, unknown>>): TextPlan => {
    const rendered = render(entry, s, consts, {});
    const out: string[] = [];
    let last = 0;
    for (const m of rendered.matchAll(PLACEHOLDER_RE)) {
      out.push(rendered.slice(last, m.index), m[1]!);
      last = m.index! + m[0].length;
    }
    out.push(rendered.slice(last));
    return Object.freeze(out);
  };
  const formatText = (fmt: string): string => fmt.replace(/%[-+ #0]*\d*(?:\.\d+)?[hlLqjzt]*[a-zA-Z%]/g, '*');

  const threatFor = (entry: string, mitre: CatalogTemplateInfo['mitre']): Readonly<Record<string, unknown>> | undefined => {
    if (!mitre.length) return undefined;
    const tId: string[] = [], tName: string[] = [], tRef: string[] = [];
    const sId: string[] = [], sName: string[] = [], sRef: string[] = [];
    const taIds: string[] = [];
    for (const m of mitre) {
      const tas = techniques[m.id];
      if (!tas) throw new MappingError(F, entry, `ATT&CK technique ${m.id} has no tactic in attack.techniques`);
      for (const ta of tas) if (!taIds.includes(ta)) taIds.push(ta);
      const dot = m.id.indexOf('.');
      const parent = dot < 0 ? m.id : m.id.slice(0, dot);
      const colon = m.name.indexOf(': ');
      const parentName = dot < 0 || colon < 0 ? m.name : m.name.slice(0, colon);
      if (!tId.includes(parent)) {
        tId.push(parent);
        tName.push(parentName);
        tRef.push(techRef.replace('{path}', parent));
      }
      if (dot >= 0) {
        sId.push(m.id);
        sName.push(colon < 0 ? m.name : m.name.slice(colon + 2));
        sRef.push(techRef.replace('{path}', `${parent}/${m.id.slice(dot + 1)}`));
      }
    }
    const technique: Record<string, unknown> = { id: tId, name: tName, reference: tRef };
    if (sId.length) technique.subtechnique = { id: sId, name: sName, reference: sRef };
    return deepFreeze({
      framework,
      tactic: { id: taIds, name: taIds.map((t) => tactics[t]!), reference: taIds.map((t) => tacRef.replace('{id}', t)) },
      technique,
    });
  };

  const mkCls = (entry: string, c: Partial<Classification>, extraTags: readonly string[] = []): Classification => {
    for (const k of ['kind', 'category', 'type', 'action', 'severity'] as const) {
      if (c[k] === undefined) throw new MappingError(F, entry, `no '${k}' (add it to the entry or a matching class)`);
    }
    checkCls(F, entry, c);
    checkTypesFitCategories(F, entry, c.category!, c.type!);
    const tags = ['lkrg', ...(c.tags ?? []), ...extraTags].filter((t, i, a) => a.indexOf(t) === i);
    return Object.freeze({
      kind: c.kind!,
      category: Object.freeze([...c.category!]),
      type: Object.freeze([...c.type!]),
      ...(c.outcome ? { outcome: c.outcome } : {}),
      action: c.action!,
      severity: c.severity!,
      tags: Object.freeze(tags),
    });
  };

  const templates = new Map<string, TemplatePlan>();
  for (const t of catalog.templates) {
    const entryName = `template ${t.id}`;
    const chain: RuleEntry[] = [];
    const own = tEntries.get(t.id);
    if (own) chain.push(own);
    if (t.family && families.has(t.family)) chain.push(families.get(t.family)!);
    const explicitCount = chain.length;
    let classLevel: string = t.level;
    let consts: Record<string, unknown> = { ...(t.constants ?? {}) };
    const target = t.maps_to ? byId.get(t.maps_to) : undefined;
    if (t.maps_to && !target) throw new MappingError('mappings/lkrg-catalog.json', t.id, `maps_to '${t.maps_to}' is not a template`);
    if (t.style === 'legacy') {
      if (target && target.action === t.action) {
        const te = tEntries.get(target.id);
        if (te) chain.push(te);
        if (target.family && families.has(target.family)) chain.push(families.get(target.family)!);
        consts = { ...(target.constants ?? {}), ...consts };
        classLevel = target.level;
      } else if (t.action) classLevel = 'ALERT';
    }
    const nonClass = chain.length;
    chain.push(...matchClasses(classLevel, t.action, t.category));

    const ruleNameSrc = first(chain, 'rule_name');
    if (!ruleNameSrc) throw new MappingError(F, entryName, 'no rule_name');
    if (classLevel === 'ALERT' && t.style === 'current' && !chain.slice(0, explicitCount).some((e) => e.rule_name)) {
      throw new MappingError(F, entryName, 'ALERT templates need their own rule_name (templates.<id> or families.<family>)');
    }
    const ruleName = render(entryName, ruleNameSrc, consts, { format: formatText(t.format) });

    let severity: number | undefined;
    for (const e of chain.slice(0, nonClass)) if (e.severity !== undefined) { severity = e.severity; break; }
    if (severity === undefined && Number.isInteger(t.cef_severity)) severity = t.cef_severity;
    if (severity === undefined) severity = first(chain, 'severity');
    const outcome = first(chain, 'outcome');
    const partial: Partial<Classification> = {
      kind: first(chain, 'kind'),
      category: first(chain, 'category'),
      type: first(chain, 'type'),
      outcome: outcome ?? undefined,
      action: first(chain, 'action'),
      severity,
      tags: [...(t.style === 'legacy' ? ['lkrg-legacy'] : []), ...(first(chain, 'tags') ?? [])],
    };
    const base = mkCls(entryName, partial);

    // state
    let state: TemplatePlan['state'];
    const stateEntries = chain.map((e) => e.state).filter((s): s is StateSpec => !!s);
    if (stateEntries.length) {
      const weaken = stateEntries.find((s) => s.weaken)?.weaken ?? 'never';
      const pick = (which: 'weakened' | 'otherwise'): ClsOverride => {
        const o: ClsOverride = {};
        for (const s of stateEntries) {
          const w = s[which];
          if (!w) continue;
          for (const k of Object.keys(w) as (keyof ClsOverride)[]) if (o[k] === undefined) (o as any)[k] = w[k];
        }
        return o;
      };
      const w = pick('weakened');
      const o = pick('otherwise');
      state = {
        weaken,
        weakened: mkCls(`${entryName} (weakened)`, { ...partial, ...stripUndef(w), tags: [...(partial.tags ?? []), ...(w.tags ?? [])] }),
        otherwise: mkCls(`${entryName} (not weakened)`, { ...partial, ...stripUndef(o), tags: [...(partial.tags ?? []), ...(o.tags ?? [])] }),
      };
    }

    // fields
    const fieldRows = new Map<string, readonly FieldRow[]>();
    for (const name of t.fields) {
      let dests: readonly FieldDestSpec[] | undefined;
      for (const e of chain.slice(0, nonClass)) {
        if (e.fields?.[name]) { dests = e.fields[name]; break; }
      }
      const rows = dests ? compileRows(`${entryName}.fields.${name}`, dests, consts) : defaultFieldRows.get(name);
      if (rows && rows.length) fieldRows.set(name, Object.freeze(rows));
    }
    const setRows: { path: readonly string[]; value: string | number | boolean }[] = [];
    const seenSet = new Set<string>();
    for (const e of chain.slice(0, nonClass)) {
      for (const [path, raw] of Object.entries(e.set ?? {})) {
        if (seenSet.has(path)) continue;
        seenSet.add(path);
        let value: string | number | boolean = raw;
        if (typeof raw === 'string') {
          const whole = /^\{const\.([A-Za-z0-9_]+)\}$/.exec(raw);
          const c = whole ? consts[whole[1]!] : undefined;
          value = whole && (typeof c === 'number' || typeof c === 'boolean') ? c : render(`${entryName}.set.${path}`, raw, consts, {});
        }
        ecsPathOk(F, `${entryName}.set.${path}`, path, typeof value === 'number' ? 'long' : typeof value === 'boolean' ? 'boolean' : 'keyword');
        setRows.push(Object.freeze({ path: Object.freeze(path.split('.')), value }));
      }
    }
    const reasonSrc = first(chain.slice(0, nonClass), 'reason');
    const rule: Record<string, string> = { id: t.id, name: ruleName };
    if (t.category) rule.category = t.category;
    rule.ruleset = 'lkrg';

    const effLevel = classLevel;
    templates.set(
      t.id,
      Object.freeze({
        id: t.id,
        style: t.style,
        level: t.level,
        action: t.action,
        category: t.category,
        ...(t.maps_to ? { mapsTo: t.maps_to } : {}),
        dataset: effLevel === 'ALERT' ? 'lkrg.alert' : 'lkrg.log',
        printkLevel: t.printk_level,
        base,
        ...(state ? { state } : {}),
        rule: Object.freeze(rule),
        ...(t.mitre.length ? { threat: threatFor(entryName, t.mitre) } : {}),
        fieldRows,
        setRows: Object.freeze(setRows),
        ...(reasonSrc ? { reason: compileText(`${entryName}.reason`, reasonSrc, consts) } : {}),
      } as TemplatePlan),
    );
  }

  // ---- special sections
  const special = (entry: string, v: unknown, keys: readonly string[], needRule: boolean): SpecialPlan & { raw: Record<string, unknown> } => {
    if (!isObj(v)) throw new MappingError(F, entry, 'missing or not a mapping');
    checkKeys(F, entry, v, keys);
    const cls = mkCls(entry, v as Partial<Classification>);
    if (needRule && typeof v.rule_name !== 'string') throw new MappingError(F, entry, 'needs rule_name');
    return {
      cls,
      ...(typeof v.rule_id === 'string' ? { ruleId: v.rule_id } : {}),
      ...(typeof v.rule_name === 'string' ? { ruleName: v.rule_name } : {}),
      raw: v,
    };
  };
  const forgedS = special('forged', ecsDoc.forged, ['kind', 'category', 'type', 'outcome', 'action', 'severity', 'rule_id', 'rule_name', 'tags'], true);
  const forged: SpecialPlan = { cls: forgedS.cls, ruleId: forgedS.ruleId ?? 'lkrg.forged', ruleName: forgedS.ruleName };
  const kl = special('kernel_line', ecsDoc.kernel_line, ['kind', 'category', 'type', 'outcome', 'action', 'severity', 'tags', 'severity_by_syslog'], false);
  const sbs = kl.raw.severity_by_syslog;
  if (!Array.isArray(sbs) || sbs.length !== 8 || !sbs.every((n) => Number.isInteger(n) && n >= 0 && n <= 10)) {
    throw new MappingError(F, 'kernel_line.severity_by_syslog', 'needs 8 integers 0-10 (syslog severity 0..7)');
  }
  const kernelLine = { cls: Object.freeze({ ...kl.cls, tags: Object.freeze(kl.cls.tags.filter((t) => t !== 'lkrg')) }), severityBySyslog: Object.freeze(sbs as number[]) };

  const noticesRaw = ecsDoc.notices;
  if (!isObj(noticesRaw)) throw new MappingError(F, 'notices', 'missing');
  const notices = new Map<string, SpecialPlan>();
  for (const [type, v] of Object.entries(noticesRaw)) {
    if (!NOTICE_TYPES.includes(type)) throw new MappingError(F, `notices.${type}`, `unknown notice type (known: ${NOTICE_TYPES.join(', ')})`);
    const s = special(`notices.${type}`, { kind: 'event', ...(isObj(v) ? v : {}) }, ['kind', 'category', 'type', 'outcome', 'action', 'severity', 'rule_name', 'tags'], true);
    notices.set(type, { cls: Object.freeze({ ...s.cls, tags: Object.freeze([...s.cls.tags, 'lkrg-stream-notice']) }), ruleId: `notice.${type}`, ruleName: s.ruleName });
  }
  for (const type of NOTICE_TYPES) if (!notices.has(type)) throw new MappingError(F, `notices.${type}`, 'missing');

  const unknownRaw = ecsDoc.unknown;
  if (!isObj(unknownRaw)) throw new MappingError(F, 'unknown', 'missing');
  checkKeys(F, 'unknown', unknownRaw, ['rule_id', 'rule_name', 'tags']);
  const unknownRuleId = String(unknownRaw.rule_id ?? 'lkrg.unknown');
  const unknownRuleName = String(unknownRaw.rule_name ?? 'Unrecognised LKRG message');
  const unknownTags = Array.isArray(unknownRaw.tags) ? unknownRaw.tags.map(String) : [];
  const unknownCache = new Map<string, SpecialPlan>();
  const unknownPlan = (level: string | null, action: string | null, category: string | null): SpecialPlan => {
    const key = `${level}|${action}|${category}`;
    const hit = unknownCache.get(key);
    if (hit) return hit;
    const chain = matchClasses(level, action, category);
    const o = first(chain, 'outcome');
    const cls = mkCls(`unknown line (${key})`, {
      kind: first(chain, 'kind'),
      category: first(chain, 'category'),
      type: first(chain, 'type'),
      outcome: o ?? undefined,
      action: first(chain, 'action'),
      severity: first(chain, 'severity'),
      tags: first(chain, 'tags'),
    }, unknownTags);
    const plan: SpecialPlan = { cls, ruleId: unknownRuleId, ruleName: unknownRuleName.replace('{level}', level ?? 'legacy') };
    if (unknownCache.size < 1000) unknownCache.set(key, plan);
    return plan;
  };
  // every level/action combination must resolve (catches a missing fallback at load, not at 3 am)
  for (const level of [...LEVELS, null]) for (const action of [...ACTIONS, null]) for (const cat of [...categories, null]) unknownPlan(level, action, cat);

  const names = (k: string, n: number): string[] => {
    const v = ecsDoc[k];
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'string')) throw new MappingError(F, k, `needs ${n} names`);
    return v as string[];
  };

  // companions: raw templates
  const companionTemplates = catalog.templates
    .filter((t) => t.style === 'raw')
    .map((t) => ({ id: t.id, re: new RegExp(t.regex, 'u') }));

  return {
    ecsVersion,
    templates,
    defaultFieldRows,
    companionTemplates,
    unknownPlan,
    forged,
    kernelLine,
    notices,
    printkLevels: names('printk_levels', 8),
    syslogSeverityNames: names('syslog_severity_names', 8),
    syslogFacilityNames: names('syslog_facility_names', 24),
    cef: compileCef(cefDoc, keysDoc, ecsFields),
  };
}

function stripUndef<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && k !== 'tags') (out as any)[k] = v;
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// CEF

const CEF_AS = ['text', 'epoch_ms', 'integer', 'ipv4', 'join', 'attack_ids'] as const;
const CEF_AS_FOR_TYPE: Record<string, readonly string[]> = {
  string: ['text', 'join', 'attack_ids'],
  integer: ['integer'],
  long: ['integer'],
  ipv4: ['ipv4'],
  ipv6: ['text'],
  timestamp: ['epoch_ms'],
};

/** Escapes a CEF extension value or label (used at load for labels, see cef-encoder.ts). */
export function escapeCefLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

function compileCef(cefDoc: Record<string, unknown>, keysDoc: Record<string, unknown>, ecsFields: ReadonlyMap<string, EcsFieldInfo>): CefPlan {
  const F = CEF_FILE;
  const K = CEF_KEYS_FILE;
  checkKeys(K, '(top level)', keysDoc, ['keys', 'labels', 'header']);
  const dict = keysDoc.keys;
  if (!isObj(dict)) throw new MappingError(K, 'keys', 'missing');
  const labelKeys = new Set<string>();
  for (const [key, v] of Object.entries(dict)) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) throw new MappingError(K, `keys.${key}`, 'keys are alphanumeric');
    if (!isObj(v) || typeof v.type !== 'string' || !(v.type in CEF_AS_FOR_TYPE)) throw new MappingError(K, `keys.${key}`, 'needs a type (string, integer, long, ipv4, ipv6, timestamp)');
    checkKeys(K, `keys.${key}`, v, ['type', 'max', 'label']);
    if (v.label !== undefined) labelKeys.add(String(v.label));
  }
  const labelMax = isObj(keysDoc.labels) && Number.isInteger(keysDoc.labels.max) ? (keysDoc.labels.max as number) : 1023;
  const hdr = isObj(keysDoc.header) ? keysDoc.header : {};
  const headerMax = {
    vendor: Number(hdr.vendor ?? 63), product: Number(hdr.product ?? 63), version: Number(hdr.version ?? 31),
    signature_id: Number(hdr.signature_id ?? 1023), name: Number(hdr.name ?? 512),
  };

  checkKeys(F, '(top level)', cefDoc, ['header', 'extension']);
  const header = cefDoc.header;
  if (!isObj(header)) throw new MappingError(F, 'header', 'missing');
  checkKeys(F, 'header', header, ['vendor', 'product', 'version', 'signature_id', 'name', 'severity']);
  const constant = (k: 'vendor' | 'product'): string => {
    const v = header[k];
    if (typeof v !== 'string' || !v || v.length > headerMax[k] || /[|\\\r\n]/.test(v)) {
      throw new MappingError(F, `header.${k}`, `must be a constant string of at most ${headerMax[k]} characters without | \\ or newlines`);
    }
    return v;
  };
  const fromList = (entry: string, v: unknown): string[][] => {
    if (!Array.isArray(v) || !v.length || !v.every((p) => typeof p === 'string')) throw new MappingError(F, entry, '`from` must be a list of ECS field paths');
    for (const p of v as string[]) {
      if (!p.startsWith('lkrg.') && !p.startsWith('labels.') && !ecsFields.has(p)) throw new MappingError(F, entry, `'${p}' is not an ECS 9.4 field`);
    }
    return (v as string[]).map((p) => (p === '@timestamp' ? ['@timestamp'] : p.split('.')));
  };
  const hField = (k: 'version' | 'signature_id' | 'name' | 'severity'): { from: string[][]; default: any } => {
    const v = header[k];
    if (!isObj(v)) throw new MappingError(F, `header.${k}`, 'needs {from: [...], default?}');
    checkKeys(F, `header.${k}`, v, ['from', 'default']);
    return { from: fromList(`header.${k}`, v.from), default: v.default };
  };
  const sev = hField('severity');
  const sevDefault = sev.default ?? 5;
  if (!Number.isInteger(sevDefault) || sevDefault < 0 || sevDefault > 10) throw new MappingError(F, 'header.severity.default', 'must be an integer 0-10');
  const ver = hField('version');
  const sig = hField('signature_id');
  const name = hField('name');

  const ext = cefDoc.extension;
  if (!Array.isArray(ext)) throw new MappingError(F, 'extension', 'must be a list');
  const seen = new Set<string>();
  const plain: CefRow[] = [];
  const labelled: CefRow[] = [];
  ext.forEach((row, i) => {
    const entry = `extension[${i}]${isObj(row) && typeof row.key === 'string' ? ` (${row.key})` : ''}`;
    if (!isObj(row)) throw new MappingError(F, entry, 'must be a mapping');
    checkKeys(F, entry, row, ['key', 'label', 'from', 'as', 'when']);
    const key = String(row.key ?? '');
    const spec = (dict as Record<string, any>)[key];
    if (!spec) throw new MappingError(F, entry, `'${key}' is not a CEF dictionary key (mappings/cef-keys.yaml); custom keys are not allowed`);
    if (labelKeys.has(key)) throw new MappingError(F, entry, `'${key}' is a label key; give the label with 'label:' on its value key`);
    if (seen.has(key)) throw new MappingError(F, entry, `duplicate key '${key}' (slot already used)`);
    seen.add(key);
    const as = (row.as ?? 'text') as CefRow['as'];
    if (!CEF_AS.includes(as)) throw new MappingError(F, entry, `as '${String(as)}' is unknown`);
    if (!CEF_AS_FOR_TYPE[spec.type]!.includes(as)) throw new MappingError(F, entry, `as '${as}' does not fit key type ${spec.type}`);
    if (row.when !== undefined && row.when !== 'numeric' && row.when !== 'not_numeric') throw new MappingError(F, entry, `when '${String(row.when)}' must be numeric or not_numeric`);
    let labelPair: string | undefined;
    if (spec.label) {
      if (typeof row.label !== 'string' || !row.label) throw new MappingError(F, entry, `'${key}' needs a label`);
      if (row.label.length > labelMax || /[\r\n]/.test(row.label)) throw new MappingError(F, entry, `label too long or has newlines`);
      labelPair = `${spec.label}=${escapeCefLabel(row.label)}`;
    } else if (row.label !== undefined) throw new MappingError(F, entry, `'${key}' is a dictionary key and takes no label`);
    const compiled: CefRow = Object.freeze({
      key,
      ...(labelPair ? { labelPair } : {}),
      from: fromList(entry, row.from),
      as,
      ...(row.when ? { when: row.when as CefRow['when'] } : {}),
      ...(Number.isInteger(spec.max) ? { max: spec.max as number } : {}),
    });
    (labelPair ? labelled : plain).push(compiled);
  });
  return Object.freeze({
    vendor: constant('vendor'),
    product: constant('product'),
    version: { from: ver.from, default: String(ver.default ?? 'unknown') },
    signatureId: { from: sig.from, default: String(sig.default ?? 'unknown') },
    name: { from: name.from, default: String(name.default ?? 'LKRG event') },
    severity: { from: sev.from, default: sevDefault },
    headerMax,
    rows: Object.freeze([...plain, ...labelled]),
  });
}
