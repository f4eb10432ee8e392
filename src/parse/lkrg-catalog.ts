/**
 * The LKRG message catalog (`mappings/lkrg-catalog.json`): every message template LKRG has
 * printed since 0.8.1, with its anchored regex, fields, severity and ATT&CK hints.
 *
 * Loaded once at start-up by the message parser and by the normalizers. Loading checks every
 * entry (regexes compile, ids unique, fields match named groups, references resolve) and
 * fails with a {@link CatalogError} naming the file, the template id and the reason, so a
 * broken mapping file stops the forwarder before it reads a single record.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LkrgLevel } from '../core/types.js';

/** A JSON value as found in catalog `constants`. */
export type CatalogJson =
  | string
  | number
  | boolean
  | null
  | readonly CatalogJson[]
  | { readonly [key: string]: CatalogJson };

/** One printf placeholder of a template's format, in order of appearance. */
export interface CatalogPlaceholder {
  /** printf conversion, e.g. `%u`, `%lx`, `%s`. */
  readonly spec: string;
  /** Value type: uint, int, hex, octal, string. */
  readonly type: string;
  /** Field name the value is extracted into. */
  readonly field: string;
}

/** A MITRE ATT&CK technique suggested for a template. */
export interface CatalogMitre {
  readonly id: string;
  readonly name: string;
}

/** Catalog template style: current `LKRG: <LEVEL>: `, legacy `[p_lkrg] `, or raw companion line. */
export type CatalogStyle = 'current' | 'legacy' | 'raw';

/** LKRG action word of ALERT templates. */
export type LkrgAction = 'DETECT' | 'BLOCK' | 'ALLOW';

/**
 * One message template, with the data the parser, the assembler and the normalizers need.
 * Field names follow the catalog JSON in camelCase; regexes are compiled (flags `su`: a
 * process name may contain a newline and any code point).
 */
export interface CatalogTemplate {
  /** Stable id, e.g. `task.cred_corruption.euid` (ECS `event.action`, CEF signature id). */
  readonly id: string;
  /** Family id grouping variants (e.g. `task.cred_corruption`), null when the catalog has none. */
  readonly family: string | null;
  readonly style: CatalogStyle;
  /** LKRG level word (current), legacy level (CRIT, ERR, ...), PANIC, RAWCRIT or RAW. */
  readonly level: LkrgLevel;
  /** Legacy `P_LKRG_*` level name for legacy templates, else null. */
  readonly legacyLevel: string | null;
  /** `KERN_CRIT` etc. and its printk number (syslog severity). */
  readonly kernLevel: string;
  readonly printkLevel: number;
  /** When LKRG prints it (log_level condition), free text. */
  readonly emittedWhen: string | null;
  readonly action: LkrgAction | null;
  /** Catalog category (Task, CPU, Kernel, Lifecycle, Config, Diagnostics, ...). */
  readonly category: string | null;
  /** printf format after the line prefix. */
  readonly format: string;
  /** printf format of the whole line, prefix included. */
  readonly lineFormat: string;
  readonly placeholders: readonly CatalogPlaceholder[];
  /** Field names as the catalog declares them (one per placeholder or continuation group). */
  readonly fields: readonly string[];
  /** Named capture groups of {@link regex}, in order: what the parser actually extracts. */
  readonly groups: readonly string[];
  /** Anchored regex over the whole message text (prefix included). */
  readonly regex: RegExp;
  /** Constant facts implied by the template (e.g. `cred_field`, `ecs_actual_field`). */
  readonly constants: Readonly<Record<string, CatalogJson>>;
  /** Suggested severity word (low, medium, high, critical, info ...). */
  readonly severity: string;
  /** Suggested CEF severity 0-10. */
  readonly cefSeverity: number;
  readonly mitre: readonly CatalogMitre[];
  /** First release with this text, and first release without it (null: still present). */
  readonly since: string | null;
  readonly until: string | null;
  /** Current template id a legacy template corresponds to. */
  readonly mapsTo: string | null;
  /** Ids or `prefix.*` patterns of templates this one usually follows / is followed by. */
  readonly follows: readonly string[];
  readonly followedBy: readonly string[];
  /** For formats with an embedded newline: the text of each physical line. */
  readonly physicalLines: readonly string[] | null;
  /** Regex of the second physical line (its fields are part of {@link fields}). */
  readonly continuationRegex: RegExp | null;
  /** Named groups of {@link continuationRegex}. */
  readonly continuationGroups: readonly string[];
  /** Templates with identical text whose meaning is decided by context (e.g. umh.block). */
  readonly ambiguousWith: readonly string[];
  /** Labels of numeric setting values (STATE templates). */
  readonly valueLabels: Readonly<Record<string, string>> | null;
  /** Allowed values per field, where the regex restricts them. */
  readonly enums: Readonly<Record<string, readonly string[]>> | null;
  /** For STATE templates: which direction weakens LKRG. */
  readonly direction: string | null;
  /** What the message means for a SOC. */
  readonly meaning: string | null;
  readonly condition: string | null;
  readonly socNotes: string | null;
  readonly notes: string | null;
  /** Match priority: literal characters (+50 if enum-restricted); higher is tried first. */
  readonly specificity: number;
}

/** Per-field metadata from the catalog's `fields` section. */
export interface CatalogFieldInfo {
  readonly type?: string;
  readonly desc?: string;
  readonly ecs?: string | null;
  readonly cef?: string | null;
}

/** Level metadata from the catalog's `levels` / `legacy_levels` sections. */
export interface CatalogLevelInfo {
  readonly name: string;
  readonly kernLevel: string;
  readonly printkLevel: number;
  readonly emittedWhen: string;
}

/** The loaded, checked catalog. Immutable; share one instance. */
export interface LkrgCatalog {
  /** File the catalog was loaded from (for error messages and reports). */
  readonly file: string;
  readonly schemaVersion: number;
  /** All templates in file order. */
  readonly templates: readonly CatalogTemplate[];
  readonly byId: ReadonlyMap<string, CatalogTemplate>;
  readonly levels: readonly CatalogLevelInfo[];
  readonly legacyLevels: readonly CatalogLevelInfo[];
  readonly fields: Readonly<Record<string, CatalogFieldInfo>>;
  /** ATT&CK technique id -> name. */
  readonly mitreTechniques: Readonly<Record<string, string>>;
}

/**
 * A catalog file that cannot be used. `templateId` is null for file-level problems
 * (unreadable, not JSON, no templates array). Thrown by {@link loadLkrgCatalog} and
 * {@link buildLkrgCatalog}; the CLI reports it and exits like a configuration error.
 */
export class CatalogError extends Error {
  constructor(
    readonly file: string,
    readonly templateId: string | null,
    readonly reason: string,
  ) {
    super(`${file}${templateId === null ? '' : `: template ${templateId}`}: ${reason}`);
    this.name = 'CatalogError';
  }
}

const LEVELS: ReadonlySet<string> = new Set<LkrgLevel>([
  'ALERT', 'ALIVE', 'STATE', 'DYING', 'FAULT', 'FATAL', 'ISSUE', 'WATCH', 'DEBUG', 'FLOOD',
  'CRIT', 'ERR', 'WARN', 'INFO', 'DBG', 'PANIC', 'RAWCRIT', 'RAW',
]);
const ACTIONS: ReadonlySet<string> = new Set<LkrgAction>(['DETECT', 'BLOCK', 'ALLOW']);
const STYLES: ReadonlySet<string> = new Set<CatalogStyle>(['current', 'legacy', 'raw']);

/** Relative path of the catalog inside the package. */
export const CATALOG_RELATIVE_PATH = 'mappings/lkrg-catalog.json';

/**
 * Directory of the package (the nearest ancestor of this module holding package.json).
 * Works from `src/parse/` (vitest, tsx) and from `dist/src/parse/` (compiled). Throws a
 * plain Error when no package.json is found (broken installation).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Default catalog location: `<package root>/mappings/lkrg-catalog.json`. */
export function defaultCatalogPath(): string {
  return join(packageRoot(), CATALOG_RELATIVE_PATH);
}

let defaultCatalog: LkrgCatalog | undefined;

/**
 * Load and check a catalog file (default: the package's own). Synchronous: called once at
 * start-up. The default catalog is cached. Errors: {@link CatalogError}.
 */
export function loadLkrgCatalog(file?: string): LkrgCatalog {
  if (file === undefined && defaultCatalog !== undefined) return defaultCatalog;
  const path = file ?? defaultCatalogPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CatalogError(path, null, `cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CatalogError(path, null, `not valid JSON: ${(err as Error).message}`);
  }
  const catalog = buildLkrgCatalog(json, path);
  if (file === undefined) defaultCatalog = catalog;
  return catalog;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Named capture groups of a regex source, in order (`(?<name>`), lookbehinds excluded. */
export function namedGroups(source: string): string[] {
  const out: string[] = [];
  for (let i = source.indexOf('(?<'); i !== -1; i = source.indexOf('(?<', i + 3)) {
    // skip escaped parens "\(?<" (count preceding backslashes)
    let bs = 0;
    for (let j = i - 1; j >= 0 && source.charCodeAt(j) === 92; j--) bs++;
    if (bs % 2 === 1) continue;
    const c = source[i + 3];
    if (c === '=' || c === '!') continue; // lookbehind
    const end = source.indexOf('>', i + 3);
    if (end === -1) break;
    out.push(source.slice(i + 3, end));
  }
  return out;
}

/**
 * Check and convert parsed catalog JSON. `file` is only used in error messages.
 * Called by {@link loadLkrgCatalog} and by tests with hand-made catalogs.
 * Errors: {@link CatalogError} with the first bad entry.
 */
export function buildLkrgCatalog(json: unknown, file: string): LkrgCatalog {
  if (!isObj(json)) throw new CatalogError(file, null, 'top level is not a JSON object');
  const raw = json.templates;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new CatalogError(file, null, '"templates" is missing or empty');
  }
  const templates: CatalogTemplate[] = [];
  const byId = new Map<string, CatalogTemplate>();
  raw.forEach((entry: unknown, index: number) => {
    const t = buildTemplate(entry, index, file);
    if (byId.has(t.id)) throw new CatalogError(file, t.id, 'duplicate template id');
    byId.set(t.id, t);
    templates.push(t);
  });
  // Cross references: follows / followed_by / ambiguous_with / maps_to must resolve.
  const ids = [...byId.keys()];
  const resolves = (ref: string): boolean =>
    ref.endsWith('*') ? ids.some((id) => id.startsWith(ref.slice(0, -1))) : byId.has(ref);
  for (const t of templates) {
    for (const [what, refs] of [
      ['follows', t.follows],
      ['followed_by', t.followedBy],
      ['ambiguous_with', t.ambiguousWith],
    ] as const) {
      for (const ref of refs) {
        if (!resolves(ref)) throw new CatalogError(file, t.id, `${what} names unknown template "${ref}"`);
      }
    }
    if (t.mapsTo !== null && !byId.has(t.mapsTo)) {
      throw new CatalogError(file, t.id, `maps_to names unknown template "${t.mapsTo}"`);
    }
  }
  return Object.freeze({
    file,
    schemaVersion: typeof json.schema_version === 'number' ? json.schema_version : 0,
    templates: Object.freeze(templates),
    byId,
    levels: levelList(json.levels),
    legacyLevels: levelList(json.legacy_levels),
    fields: isObj(json.fields) ? (json.fields as Record<string, CatalogFieldInfo>) : {},
    mitreTechniques: isObj(json.mitre_techniques)
      ? (json.mitre_techniques as Record<string, string>)
      : {},
  });
}

function levelList(v: unknown): CatalogLevelInfo[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((l) => ({
    name: String(l.name),
    kernLevel: String(l.kern_level ?? ''),
    printkLevel: typeof l.printk_level === 'number' ? l.printk_level : -1,
    emittedWhen: String(l.emitted_when ?? ''),
  }));
}

function buildTemplate(entry: unknown, index: number, file: string): CatalogTemplate {
  if (!isObj(entry)) throw new CatalogError(file, `#${index}`, 'entry is not an object');
  const id = entry.id;
  if (typeof id !== 'string' || id === '') {
    throw new CatalogError(file, `#${index}`, '"id" is missing or not a string');
  }
  const fail = (reason: string): never => {
    throw new CatalogError(file, id, reason);
  };
  const str = (key: string, required: boolean): string | null => {
    const v = entry[key];
    if (v === undefined || v === null) {
      if (required) fail(`"${key}" is missing`);
      return null;
    }
    if (typeof v !== 'string') fail(`"${key}" is not a string`);
    return v as string;
  };
  const strList = (key: string): string[] => {
    const v = entry[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(`"${key}" is not a list of strings`);
    return v as string[];
  };

  const style = str('style', true) as string;
  if (!STYLES.has(style)) fail(`unknown style "${style}"`);
  const level = str('level', true) as string;
  if (!LEVELS.has(level)) fail(`unknown level "${level}"`);
  const action = str('action', false);
  if (action !== null && !ACTIONS.has(action)) fail(`unknown action "${action}"`);

  const regexSource = str('regex', true) as string;
  if (!regexSource.startsWith('^') || !regexSource.endsWith('$')) fail('regex is not anchored with ^...$');
  const regex = compile(regexSource, 'regex', fail);
  const groups = namedGroups(regexSource);
  const contSource = str('continuation_regex', false);
  const continuationRegex = contSource === null ? null : compile(contSource, 'continuation_regex', fail);
  const continuationGroups = contSource === null ? [] : namedGroups(contSource);
  for (const list of [groups, continuationGroups]) {
    if (new Set(list).size !== list.length) fail('regex has duplicate named groups');
  }

  const fields = strList('fields');
  const extracted = [...groups, ...continuationGroups];
  // Raw lines (e.g. a stack frame " %s") may split one printf field into several groups;
  // everything else must extract exactly the fields it declares.
  if (style !== 'raw' && !sameSet(fields, extracted)) {
    fail(`fields [${fields.join(', ')}] do not match the regex named groups [${extracted.join(', ')}]`);
  }

  const placeholders = entry.placeholders;
  if (!Array.isArray(placeholders)) fail('"placeholders" is not a list');
  const ph: CatalogPlaceholder[] = (placeholders as unknown[]).map((p, i) => {
    if (!isObj(p) || typeof p.spec !== 'string' || typeof p.type !== 'string') {
      return fail(`placeholder ${i} is malformed`);
    }
    return { spec: p.spec, type: p.type, field: typeof p.field === 'string' ? p.field : '' };
  });

  const specificity = entry.specificity;
  if (typeof specificity !== 'number' || !Number.isFinite(specificity)) fail('"specificity" is not a number');
  const cef = entry.cef_severity;
  if (typeof cef !== 'number') fail('"cef_severity" is not a number');
  const mitre = Array.isArray(entry.mitre)
    ? entry.mitre.filter(isObj).map((m) => ({ id: String(m.id), name: String(m.name ?? '') }))
    : [];
  const physical = entry.physical_lines;
  if (physical !== undefined && physical !== null && contSource === null) {
    fail('"physical_lines" without "continuation_regex"');
  }

  return Object.freeze({
    id,
    family: str('family', false),
    style: style as CatalogStyle,
    level: level as LkrgLevel,
    legacyLevel: str('legacy_level', false),
    kernLevel: str('kern_level', false) ?? '',
    printkLevel: typeof entry.printk_level === 'number' ? entry.printk_level : -1,
    emittedWhen: str('emitted_when', false),
    action: action as LkrgAction | null,
    category: str('category', false),
    format: str('format', true) as string,
    lineFormat: str('line_format', true) as string,
    placeholders: ph,
    fields,
    groups,
    regex,
    constants: isObj(entry.constants) ? (entry.constants as Record<string, CatalogJson>) : {},
    severity: str('severity', false) ?? 'unknown',
    cefSeverity: cef as number,
    mitre,
    since: str('since', false),
    until: str('until', false),
    mapsTo: str('maps_to', false),
    follows: strList('follows'),
    followedBy: strList('followed_by'),
    physicalLines: Array.isArray(physical) ? (physical as string[]) : null,
    continuationRegex,
    continuationGroups,
    ambiguousWith: strList('ambiguous_with'),
    valueLabels: isObj(entry.value_labels) ? (entry.value_labels as Record<string, string>) : null,
    enums: isObj(entry.enums) ? (entry.enums as Record<string, string[]>) : null,
    direction: str('direction', false),
    meaning: str('meaning', false),
    condition: str('condition', false),
    socNotes: str('soc_notes', false),
    notes: str('notes', false),
    specificity: specificity as number,
  });
}

function compile(source: string, key: string, fail: (reason: string) => never): RegExp {
  try {
    return new RegExp(source, 'su');
  } catch (err) {
    return fail(`${key} does not compile: ${(err as Error).message}`);
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

/** True when `id` matches a catalog reference (`task.kill` or a `task.*` pattern). */
export function matchesTemplateRef(id: string, ref: string): boolean {
  return ref.endsWith('*') ? id.startsWith(ref.slice(0, -1)) : id === ref;
}
