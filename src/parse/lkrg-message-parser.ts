/**
 * Interprets one kernel message text: is it an LKRG line, which catalog template, which fields.
 *
 * Hot path: called for every kernel record (most of which are not LKRG). A lookup table on the
 * first character rejects almost every non-LKRG line with one `charCodeAt`; LKRG lines have
 * their prefix split by hand and are dispatched on (level, action, category) plus the first
 * characters of the text to a short candidate list ordered by catalog specificity, so at most a
 * handful of the ~600 catalog regexes is ever tried on a line.
 */
import type { LkrgLevel, ParsedMessage } from '../core/types.js';
import { loadLkrgCatalog, type CatalogTemplate, type LkrgAction, type LkrgCatalog } from './lkrg-catalog.js';

/** Shared result for every line that is not LKRG output. Frozen; compare with `isLkrg`. */
export const NON_LKRG_MESSAGE: ParsedMessage = Object.freeze({
  isLkrg: false,
  templateId: null,
  style: null,
  level: null,
  action: null,
  category: null,
  fields: Object.freeze({}),
  body: '',
});

/** Template id given to LKRG lines that match no catalog template. */
export const UNKNOWN_TEMPLATE_ID = 'unknown';

/**
 * Longest text (after the caller id, before trailing CR/LF) on which catalog regexes are run.
 * printk stores at most 1 KiB of text per record, so a real LKRG line is far shorter; longer
 * lines that carry the LKRG prefix still become LKRG events with template 'unknown'. The cap
 * bounds the (at worst quadratic) cost of the few catalog regexes with two lazy `.*?`.
 */
export const MAX_MATCH_LENGTH = 4096;

/**
 * Raw catalog templates that are not LKRG output on their own: a stack frame line and the
 * kernel's generic panic line. The parser still names the template (so the assembler can attach
 * them to an alert) but reports `isLkrg: false` unless the panic text is one LKRG panics with.
 */
const CONTEXT_ONLY_RAW: ReadonlySet<string> = new Set(['aux.stack_frame', 'kernel.panic_line']);

/** Level and action words, each mapped to one shared string (its hash is then computed once). */
const CURRENT_LEVELS: ReadonlyMap<string, string> = new Map(
  ['ALERT', 'ALIVE', 'STATE', 'DYING', 'FAULT', 'FATAL', 'ISSUE', 'WATCH', 'DEBUG', 'FLOOD'].map((w) => [w, w]),
);
const ACTION_WORDS: ReadonlyMap<string, string> = new Map(['DETECT', 'BLOCK', 'ALLOW'].map((w) => [w, w]));

const LKRG_PREFIX = 'LKRG:';
const LEGACY_TAG = '[p_lkrg]';
const PANIC_PREFIX = 'Kernel panic - not syncing: ';
const PANIC_TEMPLATE_ID = 'kernel.panic_line';

/**
 * One template of a bucket. The derived regexes are built on first use: a run meets few of the
 * catalog's templates, and building them all cost about a third of the parser's start-up.
 */
class Candidate {
  /** Literal text the message must carry at the rest position (up to the first placeholder), tidied. */
  readonly tidyLead: string;
  /** `lead` without the first `len` chars its LeadGroup already compared (set by the bucket builder). */
  leadTail: string;
  private plainRe: PositionalRegex | null | undefined;
  private tidySource: string | null | undefined;
  private tidyRe: RegExp | undefined;
  private tidyPlainRe: PositionalRegex | null | undefined;

  constructor(
    readonly t: CatalogTemplate,
    /** Literal text the message must carry at the rest position (up to the first placeholder). */
    readonly lead: string,
  ) {
    this.tidyLead = lead.replace(/ {2,}/g, ' ');
    this.leadTail = lead;
  }

  /** `t.regex` with positional captures (see positionalRegex); null when it cannot be rewritten. */
  get plain(): PositionalRegex | null {
    if (this.plainRe === undefined) this.plainRe = positionalRegex(this.t.regex.source, this.t.regex.flags, this.t.groups);
    return this.plainRe;
  }

  /**
   * Regex for tidied text (runs of spaces collapsed): `t.regex` itself unless the template
   * contains doubled spaces (e.g. `WATCH:  => caller[...]`).
   */
  get tidyRegex(): RegExp {
    const src = this.tidied();
    if (src === null) return this.t.regex;
    return (this.tidyRe ??= new RegExp(src, this.t.regex.flags));
  }

  /** {@link tidyRegex} with positional captures. */
  get tidyPlain(): PositionalRegex | null {
    const src = this.tidied();
    if (src === null) return this.plain;
    if (this.tidyPlainRe === undefined) this.tidyPlainRe = positionalRegex(src, this.t.regex.flags, this.t.groups);
    return this.tidyPlainRe;
  }

  private tidied(): string | null {
    if (this.tidySource === undefined) {
      const src = this.t.regex.source;
      this.tidySource = src.includes('  ') ? src.replace(/ {2,}/g, ' ') : null;
    }
    return this.tidySource;
  }
}

/**
 * The catalog regex with its named groups turned into plain ones, plus the field name of each
 * capture index (null for the catalog's own unnamed groups). Matching it and reading `m[i]`
 * skips the per-match `groups` object V8 builds for named captures: the same fields, about half
 * the cost. Null when the source cannot be rewritten safely (then the named regex is used).
 */
interface PositionalRegex {
  readonly regex: RegExp;
  readonly names: readonly (string | null)[];
}

function positionalRegex(source: string, flags: string, groups: readonly string[]): PositionalRegex | null {
  let out = '';
  const names: (string | null)[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      out += c + (source[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '(') {
      if (source[i + 1] !== '?') names.push(null);
      else if (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
        const close = source.indexOf('>', i + 3);
        if (close === -1) return null;
        names.push(source.slice(i + 3, close));
        out += '(';
        i = close;
        continue;
      }
    }
    out += c;
  }
  // the rewrite must keep the capture count and the named groups in their order
  const named = names.filter((n): n is string => n !== null);
  if (named.length !== groups.length || named.some((n, k) => n !== groups[k])) return null;
  let regex: RegExp;
  try {
    regex = new RegExp(out, flags);
    if ((new RegExp(`${out}|`, flags).exec('')?.length ?? 0) - 1 !== names.length) return null;
  } catch {
    return null;
  }
  return { regex, names };
}

/** Candidates of one dispatch key, indexed by a hash of the first LEAD_KEY chars of the text. */
interface Bucket {
  readonly byLead: Map<number, LeadGroup>;
  /** Candidates whose literal lead is shorter than LEAD_KEY (tried for every text). */
  readonly short: Candidate[];
}

/**
 * Candidates whose leads share their first LEAD_KEY chars, keyed again by their first `len`
 * chars (`len` = the shortest lead of the group), so families of templates with long common
 * leads (`Namespace escape: <ns> pointer corruption ...`) cost one slice and one map lookup
 * instead of one string comparison per template.
 */
interface LeadGroup {
  readonly len: number;
  readonly byKey: Map<string, Candidate[]>;
  /** Every candidate of the group plus the short ones, by specificity (tidied-text fallback). */
  readonly all: Candidate[];
}
const LEAD_KEY = 4;

function leadHash(s: string, off: number): number {
  // Four UTF-16 units combined into one exact integer (< 2^53): no allocation.
  return ((s.charCodeAt(off) * 65536 + s.charCodeAt(off + 1)) * 65536 + s.charCodeAt(off + 2)) * 8192 +
    (s.charCodeAt(off + 3) & 8191);
}

class BucketBuilder {
  private readonly all: Candidate[] = [];
  add(c: Candidate): void {
    this.all.push(c);
  }
  build(): Bucket {
    const bySpec = (a: Candidate, b: Candidate): number => b.t.specificity - a.t.specificity;
    const short = this.all.filter((c) => c.lead.length < LEAD_KEY).sort(bySpec);
    const groups = new Map<number, Candidate[]>();
    for (const c of this.all) {
      if (c.lead.length < LEAD_KEY) continue;
      const h = leadHash(c.lead, 0);
      let list = groups.get(h);
      if (list === undefined) groups.set(h, (list = []));
      list.push(c);
    }
    const byLead = new Map<number, LeadGroup>();
    for (const [h, list] of groups) {
      const len = Math.min(...list.map((c) => c.lead.length));
      const byKey = new Map<string, Candidate[]>();
      for (const c of list) {
        c.leadTail = c.lead.slice(len);
        const k = c.lead.slice(0, len);
        let l = byKey.get(k);
        if (l === undefined) byKey.set(k, (l = []));
        l.push(c);
      }
      for (const [k, l] of byKey) byKey.set(k, [...l, ...short].sort(bySpec));
      byLead.set(h, { len, byKey, all: [...list, ...short].sort(bySpec) });
    }
    return { byLead, short };
  }
}

/** Result of splitting the `LKRG: <LEVEL>: [<ACTION>: [<Category>: ]]` prefix by hand. */
interface PrefixSplit {
  /** Level word if it is one of the ten LKRG levels, else null. */
  readonly level: string | null;
  readonly action: string | null;
  readonly category: string | null;
  /** Index where the body (text after `LKRG: <LEVEL>: `) starts. */
  readonly bodyStart: number;
  /** Index where the template text (after action and category) starts. */
  readonly restStart: number;
  /** True when every separator was exactly one space (regexes can run on the text as is). */
  readonly canonical: boolean;
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Index of the first non-space char at or after i (bounded by end). */
function skipSpaces(s: string, i: number, end: number): number {
  while (i < end && s.charCodeAt(i) === 32) i++;
  return i;
}

/**
 * Split the current-format prefix. `start` points at `LKRG:`. Tolerates any number of spaces
 * (also none) around the separators; only letters are accepted in level/action/category words,
 * so attacker text later in the line cannot shift the split.
 */
function splitCurrent(s: string, start: number, end: number): PrefixSplit {
  let canonical = true;
  let i = start + LKRG_PREFIX.length;
  let j = skipSpaces(s, i, end);
  if (j - i !== 1) canonical = false;
  i = j;
  // level word
  let w = i;
  while (w < end && isUpper(s.charCodeAt(w))) w++;
  const level = w === i || w >= end || s.charCodeAt(w) !== 58 /* : */ ? undefined : CURRENT_LEVELS.get(s.slice(i, w));
  if (level === undefined) {
    return { level: null, action: null, category: null, bodyStart: i, restStart: i, canonical: false };
  }
  i = w + 1;
  j = skipSpaces(s, i, end);
  if (j - i !== 1) canonical = false;
  const bodyStart = j;
  i = j;
  // optional action word
  w = i;
  while (w < end && isUpper(s.charCodeAt(w))) w++;
  const action = w === i || w >= end || s.charCodeAt(w) !== 58 ? undefined : ACTION_WORDS.get(s.slice(i, w));
  if (action === undefined) {
    return { level, action: null, category: null, bodyStart, restStart: i, canonical };
  }
  i = w + 1;
  j = skipSpaces(s, i, end);
  if (j - i !== 1) canonical = false;
  i = j;
  // optional category word: letters, ':' and at least one space
  w = i;
  while (w < end && isAlpha(s.charCodeAt(w))) w++;
  if (w === i || w + 1 >= end || s.charCodeAt(w) !== 58 || s.charCodeAt(w + 1) !== 32) {
    return { level, action, category: null, bodyStart, restStart: i, canonical };
  }
  const category = s.slice(i, w);
  j = skipSpaces(s, w + 1, end);
  if (j - (w + 1) !== 1) canonical = false;
  return { level, action, category, bodyStart, restStart: j, canonical };
}

function canonicalPrefix(p: PrefixSplit): string {
  let s = `LKRG: ${p.level}: `;
  if (p.action !== null) s += `${p.action}: `;
  if (p.category !== null) s += `${p.category}: `;
  return s;
}

/** Collapse runs of spaces to one and drop trailing whitespace (messy-log fallback). */
function tidy(s: string): string {
  let out = s.replace(/ {2,}/g, ' ');
  let e = out.length;
  while (e > 0) {
    const c = out.charCodeAt(e - 1);
    if (c === 32 || c === 9 || c === 13 || c === 10 || c === 11 || c === 12) e--;
    else break;
  }
  if (e < out.length) out = out.slice(0, e);
  return out;
}

function trimEndWs(s: string): string {
  let e = s.length;
  while (e > 0) {
    const c = s.charCodeAt(e - 1);
    if (c === 32 || c === 9 || c === 13 || c === 10 || c === 11 || c === 12) e--;
    else break;
  }
  return e < s.length ? s.slice(0, e) : s;
}

/**
 * Index after a printk caller id (`[  T804] `, `[T804] `, `[    C1] `) at the start of the
 * text, or 0 when there is none.
 */
function skipCallerId(s: string, end: number): number {
  let i = 1;
  while (i < end && s.charCodeAt(i) === 32) i++;
  const k = s.charCodeAt(i);
  if (k !== 84 /* T */ && k !== 67 /* C */) return 0;
  i++;
  const d = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  if (i === d || i - d > 10 || s.charCodeAt(i) !== 93 /* ] */) return 0;
  i++;
  while (i < end && s.charCodeAt(i) === 32) i++;
  return i;
}

/** The entry for (level, action, category) of a nested map, created by `make` when missing. */
function bucketFor<T>(m: Map<string, Map<string, Map<string, T>>>, level: string, action: string, category: string, make: () => T): T {
  let byAction = m.get(level);
  if (byAction === undefined) m.set(level, (byAction = new Map()));
  let byCategory = byAction.get(action);
  if (byCategory === undefined) byAction.set(action, (byCategory = new Map()));
  let v = byCategory.get(category);
  if (v === undefined) byCategory.set(category, (v = make()));
  return v;
}

/** A template match: the template and the extracted fields. */
export interface TemplateMatch {
  readonly template: CatalogTemplate;
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * The LKRG message parser. Build one per process (building compiles the dispatch tables from the
 * catalog, ~ms) and call {@link parse} for every kernel message text. Stateless after
 * construction, so one instance can serve every source.
 */
export class LkrgMessageParser {
  readonly catalog: LkrgCatalog;
  /** Current-format buckets by level, then action ('' for none), then category ('' for none). */
  private readonly current = new Map<string, Map<string, Map<string, Bucket>>>();
  private readonly legacy: Bucket;
  private readonly legacyPanic: Bucket;
  private readonly raw = new Map<number, Bucket>();
  /** First UTF-16 unit of any text that can be LKRG (ASCII only). */
  private readonly firstChar = new Uint8Array(128);
  /** Template ids LKRG prints right before a `Kernel panic - not syncing:` line. */
  private readonly panicking = new Set<string>();
  /** Every candidate of every bucket (see {@link prepareAll}). */
  private readonly candidates: Candidate[] = [];

  /**
   * @param catalog the checked catalog; default: the package's `mappings/lkrg-catalog.json`
   *   (loading it may throw a CatalogError).
   */
  constructor(catalog: LkrgCatalog = loadLkrgCatalog()) {
    this.catalog = catalog;
    const current = new Map<string, Map<string, Map<string, BucketBuilder>>>();
    const legacy = new BucketBuilder();
    const legacyPanic = new BucketBuilder();
    const raw = new Map<number, BucketBuilder>();
    const legacyPanicPrefix = `${PANIC_PREFIX}${LEGACY_TAG} `;
    const candidate = (t: CatalogTemplate, lead: string): Candidate => {
      const c = new Candidate(t, lead);
      this.candidates.push(c);
      return c;
    };

    for (const t of catalog.templates) {
      if (t.followedBy.includes(PANIC_TEMPLATE_ID)) {
        this.panicking.add(t.id);
        for (const twin of t.ambiguousWith) this.panicking.add(twin);
      }
      // Context-decided twins (identical text, e.g. umh.panic vs umh.block) are never chosen
      // by the parser; the assembler upgrades the twin from the following line.
      if (t.ambiguousWith.length > 0) continue;
      const lf = t.lineFormat;
      const nl = lf.indexOf('\n');
      const firstLine = nl === -1 ? lf : lf.slice(0, nl);
      const leadOf = (from: number): string => {
        const pct = firstLine.indexOf('%', from);
        return firstLine.slice(from, pct === -1 ? firstLine.length : pct);
      };
      if (firstLine.startsWith('LKRG: ')) {
        const p = splitCurrent(firstLine, 0, firstLine.length);
        bucketFor(current, p.level ?? '', p.action ?? '', p.category ?? '', () => new BucketBuilder()).add(candidate(t, leadOf(p.restStart)));
      } else if (firstLine.startsWith(`${LEGACY_TAG} `)) {
        legacy.add(candidate(t, leadOf(LEGACY_TAG.length + 1)));
      } else if (firstLine.startsWith(legacyPanicPrefix)) {
        legacyPanic.add(candidate(t, leadOf(legacyPanicPrefix.length)));
      } else {
        const c = firstLine.charCodeAt(0);
        let b = raw.get(c);
        if (b === undefined) raw.set(c, (b = new BucketBuilder()));
        b.add(candidate(t, leadOf(0)));
        if (c < 128) this.firstChar[c] = 1;
      }
    }
    for (const [level, byAction] of current) {
      for (const [action, byCategory] of byAction) {
        for (const [category, b] of byCategory) bucketFor(this.current, level, action, category, () => b.build());
      }
    }
    this.legacy = legacy.build();
    this.legacyPanic = legacyPanic.build();
    for (const [k, b] of raw) this.raw.set(k, b.build());
    this.firstChar[76 /* L */] = 1;
    this.firstChar[91 /* [ */] = 1;
    this.firstChar[75 /* K */] = 1;
  }

  /**
   * Builds now every regex the parser otherwise builds on a template's first use. Called by tests
   * (each derived regex compiles, and parsing gives the same results either way); returns the
   * number of templates whose regex has no positional form (their named groups are read instead).
   * Throws only if a derived regex does not compile (a parser bug: the catalog's own regexes are
   * checked at load).
   */
  prepareAll(): number {
    let named = 0;
    for (const c of this.candidates) {
      if (c.plain === null) named++;
      void c.tidyRegex;
      void c.tidyPlain;
    }
    return named;
  }

  /**
   * Interpret one kernel message text (escapes already decoded, transport prefix removed).
   * Never throws and runs in time linear in the text length. Returns
   * {@link NON_LKRG_MESSAGE} for ordinary kernel lines; an LKRG line no template matches gets
   * templateId 'unknown'. Raw companion lines come back with style 'raw'; a stack frame or a
   * panic line that is not an LKRG panic text keeps its template id but `isLkrg: false`
   * (only its context makes it LKRG output — see EventAssembler).
   */
  parse(text: string): ParsedMessage {
    if (typeof text !== 'string' || text.length < 4) return NON_LKRG_MESSAGE;
    let c = text.charCodeAt(0);
    if (c >= 128 || this.firstChar[c] === 0) return NON_LKRG_MESSAGE;
    try {
      return this.parseSlow(text, c);
    } catch {
      // Defensive: nothing above is expected to throw; a parser bug must not stop the pipeline.
      return NON_LKRG_MESSAGE;
    }
  }

  private parseSlow(text: string, c0: number): ParsedMessage {
    let end = text.length;
    while (end > 0) {
      const c = text.charCodeAt(end - 1);
      if (c === 13 || c === 10) end--;
      else break;
    }
    let start = 0;
    let c = c0;
    if (c === 91 /* [ */ && text.charCodeAt(1) !== 112 /* p */) {
      start = skipCallerId(text, end);
      if (start === 0) return NON_LKRG_MESSAGE;
      c = text.charCodeAt(start);
      if (c >= 128 || this.firstChar[c] === 0) return NON_LKRG_MESSAGE;
    }
    if (c === 76 /* L */) {
      return text.startsWith(LKRG_PREFIX, start) ? this.parseCurrent(text, start, end) : NON_LKRG_MESSAGE;
    }
    if (c === 91 /* [ */) {
      return text.startsWith(LEGACY_TAG, start) ? this.parseLegacy(text, start, end) : NON_LKRG_MESSAGE;
    }
    if (c === 75 /* K */ && text.startsWith(PANIC_PREFIX, start)) {
      const after = skipSpaces(text, start + PANIC_PREFIX.length, end);
      if (text.startsWith(LEGACY_TAG, after)) return this.parseLegacyPanic(text, start, end, after);
    }
    return this.parseRaw(text, start, end, c);
  }

  private parseCurrent(text: string, start: number, end: number): ParsedMessage {
    const p = splitCurrent(text, start, end);
    const body = text.slice(p.bodyStart, end);
    if (p.level !== null && end - start <= MAX_MATCH_LENGTH) {
      const bucket = this.current.get(p.level)?.get(p.action ?? '')?.get(p.category ?? '');
      if (bucket !== undefined) {
        // 1. the text as is (also covers templates with unusual spacing of their own)
        const s = start === 0 && end === text.length ? text : text.slice(start, end);
        let m = matchBucket(bucket, s, p.restStart - start);
        if (m === null) {
          const rest = text.slice(p.restStart, end);
          const pre = canonicalPrefix(p);
          // 2. irregular spacing inside the prefix: rebuild it canonically
          if (!p.canonical) m = matchBucket(bucket, pre + rest, pre.length);
          // 3. messy text: runs of spaces collapsed, trailing whitespace dropped
          if (m === null) {
            const tidied = tidy(rest);
            if (tidied !== rest) m = matchBucket(bucket, pre + tidied, pre.length, true);
          }
        }
        if (m !== null) return this.result(m, body);
      }
    }
    return Object.freeze({
      isLkrg: true,
      templateId: UNKNOWN_TEMPLATE_ID,
      style: 'current',
      level: p.level as LkrgLevel | null,
      action: p.action as LkrgAction | null,
      category: p.category,
      fields: EMPTY_FIELDS,
      body,
    });
  }

  private parseLegacy(text: string, start: number, end: number): ParsedMessage {
    const tagEnd = start + LEGACY_TAG.length;
    const restStart = skipSpaces(text, tagEnd, end);
    if (restStart === tagEnd && restStart < end) return NON_LKRG_MESSAGE; // "[p_lkrg]x": not the tag
    const body = text.slice(restStart, end);
    if (end - start <= MAX_MATCH_LENGTH) {
      const canonical = restStart === tagEnd + 1;
      const pre = `${LEGACY_TAG} `;
      let m = canonical
        ? matchBucket(this.legacy, start === 0 && end === text.length ? text : text.slice(start, end), pre.length)
        : matchBucket(this.legacy, pre + body, pre.length);
      if (m === null) {
        const tidied = tidy(body);
        if (tidied !== body) m = matchBucket(this.legacy, pre + tidied, pre.length, true);
      }
      if (m !== null) return this.result(m, body);
    }
    return unknownLegacy(null, null, body);
  }

  private parseLegacyPanic(text: string, start: number, end: number, tagAt: number): ParsedMessage {
    const tagEnd = tagAt + LEGACY_TAG.length;
    const restStart = skipSpaces(text, tagEnd, end);
    const body = text.slice(restStart, end);
    if (end - start <= MAX_MATCH_LENGTH) {
      const pre = `${PANIC_PREFIX}${LEGACY_TAG} `;
      const canonical = restStart === tagEnd + 1;
      let m = canonical
        ? matchBucket(this.legacyPanic, start === 0 && end === text.length ? text : text.slice(start, end), pre.length)
        : matchBucket(this.legacyPanic, pre + body, pre.length);
      if (m === null) {
        const tidied = tidy(body);
        if (tidied !== body) m = matchBucket(this.legacyPanic, pre + tidied, pre.length, true);
      }
      if (m !== null) return this.result(m, body);
    }
    return unknownLegacy('PANIC', 'BLOCK', body);
  }

  private parseRaw(text: string, start: number, end: number, c: number): ParsedMessage {
    const bucket = this.raw.get(c);
    if (bucket === undefined || end - start > MAX_MATCH_LENGTH) return NON_LKRG_MESSAGE;
    const s = start === 0 && end === text.length ? text : text.slice(start, end);
    let m = matchBucket(bucket, s, 0);
    if (m === null) {
      // Messy text: keep the leading indentation (it is part of raw formats), tidy the rest.
      let i = 0;
      while (i < s.length && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
      const last = s.charCodeAt(s.length - 1);
      if (s.indexOf('  ', i) !== -1 || last === 32 || last === 9 || last === 11 || last === 12) {
        const tidied = s.slice(0, i) + tidy(s.slice(i));
        if (tidied !== s && tidied.length > 0) m = matchBucket(bucket, tidied, 0, true);
      }
    }
    if (m === null) return NON_LKRG_MESSAGE;
    let isLkrg = !CONTEXT_ONLY_RAW.has(m.template.id);
    if (m.template.id === PANIC_TEMPLATE_ID) {
      const msg = m.fields.panic_message;
      isLkrg = msg !== undefined && this.isLkrgPanicText(msg);
    }
    return this.result(m, s, isLkrg);
  }

  /**
   * True when `panicText` (what follows `Kernel panic - not syncing: `) is the text of an LKRG
   * BLOCK line that LKRG panics with (p_panic prints `LKRG: ALERT: BLOCK: <text>` first).
   */
  isLkrgPanicText(panicText: string): boolean {
    if (panicText.length > MAX_MATCH_LENGTH) return false;
    const m = this.parse(`LKRG: ALERT: BLOCK: ${panicText}`);
    return m.templateId !== null && this.panicking.has(m.templateId);
  }

  /**
   * Fields of the second physical line of a multi-line legacy template (`HIDDEN MODULE:` +
   * `name[...] module at addr[...]...`), or null when `line` is not that continuation. Leading
   * whitespace (dmesg indentation) is ignored. Used by the assembler.
   */
  matchContinuation(templateId: string, line: string): Readonly<Record<string, string>> | null {
    const t = this.catalog.byId.get(templateId);
    if (t === undefined || t.continuationRegex === null || line.length > MAX_MATCH_LENGTH) return null;
    let i = 0;
    while (i < line.length && (line.charCodeAt(i) === 32 || line.charCodeAt(i) === 9)) i++;
    let s = i === 0 ? line : line.slice(i);
    let m = t.continuationRegex.exec(s);
    if (m === null) {
      const trimmed = trimEndWs(s);
      if (trimmed === s) return null;
      s = trimmed;
      m = t.continuationRegex.exec(s);
      if (m === null) return null;
    }
    return groupFields(m, t.continuationGroups);
  }

  /** True when `templateId` is a template LKRG follows with a kernel panic line. */
  panicsAfter(templateId: string): boolean {
    return this.panicking.has(templateId);
  }

  private result(m: TemplateMatch, body: string, isLkrg = true): ParsedMessage {
    const t = m.template;
    return Object.freeze({
      isLkrg,
      templateId: t.id,
      style: t.style,
      level: t.level,
      action: t.action,
      category: t.category,
      fields: m.fields,
      body,
    });
  }
}

const EMPTY_FIELDS: Readonly<Record<string, string>> = Object.freeze({});

function unknownLegacy(level: LkrgLevel | null, action: LkrgAction | null, body: string): ParsedMessage {
  return Object.freeze({
    isLkrg: true,
    templateId: UNKNOWN_TEMPLATE_ID,
    style: 'legacy',
    level,
    action,
    category: null,
    fields: EMPTY_FIELDS,
    body,
  });
}

function groupFields(m: RegExpExecArray, names: readonly string[]): Readonly<Record<string, string>> {
  if (names.length === 0 || m.groups === undefined) return EMPTY_FIELDS;
  const g = m.groups;
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = g[n];
    if (v !== undefined) out[n] = v;
  }
  return Object.freeze(out);
}

function positionalFields(m: RegExpExecArray, names: readonly (string | null)[]): Readonly<Record<string, string>> {
  if (names.length === 0) return EMPTY_FIELDS;
  const out: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    const v = m[i + 1];
    if (n != null && v !== undefined) out[n] = v;
  }
  return out; // not frozen (hot path): the ParsedMessage holding it is, and nobody writes fields
}

/**
 * Try a bucket's candidates on `s` whose template text starts at `off`. Candidates are checked
 * by their literal lead first, so a regex runs only when the text can match it.
 */
function matchBucket(bucket: Bucket, s: string, off: number, tidied = false): TemplateMatch | null {
  let list = bucket.short;
  let verified = 0;
  const rem = s.length - off;
  if (rem >= LEAD_KEY) {
    const g = bucket.byLead.get(leadHash(s, off));
    if (g !== undefined) {
      if (tidied) list = g.all;
      else if (rem >= g.len) {
        const l = g.byKey.get(s.slice(off, off + g.len));
        if (l !== undefined) {
          list = l;
          verified = g.len;
        }
      }
    }
  }
  for (let i = 0; i < list.length; i++) {
    const cand = list[i] as Candidate;
    const lead = tidied ? cand.tidyLead : cand.lead;
    // the first `verified` chars of every non-short lead in the list are known to match
    if (verified > 0 && lead.length >= LEAD_KEY) {
      const tail = cand.leadTail;
      if (tail.length > 0 && s.slice(off + verified, off + lead.length) !== tail) continue;
    } else if (lead.length > 0 && !s.startsWith(lead, off)) continue;
    const t = cand.t;
    const regex = tidied ? cand.tidyRegex : t.regex;
    if (t.continuationRegex !== null) {
      // Multi-line legacy record kept in one message (journald keeps the embedded newline).
      const nl = s.indexOf('\n', off);
      const first = nl === -1 ? s : s.slice(0, nl);
      const m = regex.exec(first);
      if (m === null) continue;
      const fields = { ...groupFields(m, t.groups) };
      if (nl !== -1) {
        const rest = s.slice(nl + 1).replace(/^[ \t]+/, '');
        const cm = t.continuationRegex.exec(trimEndWs(rest));
        if (cm !== null) Object.assign(fields, groupFields(cm, t.continuationGroups));
      }
      return { template: t, fields: Object.freeze(fields) };
    }
    const plain = tidied ? cand.tidyPlain : cand.plain;
    if (plain !== null) {
      const m = plain.regex.exec(s);
      if (m !== null) return { template: t, fields: positionalFields(m, plain.names) };
      continue;
    }
    const m = regex.exec(s);
    if (m !== null) return { template: t, fields: groupFields(m, t.groups) };
  }
  return null;
}
