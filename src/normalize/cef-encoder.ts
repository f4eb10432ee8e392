/**
 * ECS document -> one CEF:0 line (no trailing newline), driven by mappings/cef.yaml.
 *
 * Escaping (formats.md §3.2, strictest common denominator):
 * - header: `\` -> `\\`, `|` -> `\|`, CR/LF -> space;
 * - extension: `\` -> `\\`, `=` -> `\=`, LF -> `\n`, CR -> `\r`;
 * - everywhere: TAB becomes a space (some parsers split pairs on TAB); other C0 controls (incl.
 *   NUL), DEL, C1 controls and U+2028/U+2029 are replaced by U+FFFD, so no raw control
 *   character ever reaches the wire;
 * - extension values are trimmed of leading/trailing spaces (CEF cannot carry them reliably)
 *   and omitted when empty; values are truncated to the dictionary length *before* escaping
 *   (never inside a surrogate pair).
 */
import type { EcsDocument } from '../core/output.js';
import type { CefPlan, CefRow } from './mapping-loader.js';
import { defaultMappings } from './normalizer.js';

const NEEDS_EXT_ESCAPE = /[\\=\r\n\x00-\x1f\x7f-\x9f\u2028\u2029]/;
const NEEDS_HDR_ESCAPE = /[\\|\r\n\x00-\x1f\x7f-\x9f\u2028\u2029]/;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]/g;
const INT_RE = /^-?\d{1,18}$/;
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Replaces control characters that CEF consumers treat as separators with U+FFFD. */
export function replaceControls(s: string): string {
  return s.replace(/\t/g, ' ').replace(CONTROL, '\uFFFD');
}

/** Escapes one extension value (already truncated). */
export function escapeCefValue(s: string): string {
  if (!NEEDS_EXT_ESCAPE.test(s)) return s;
  return replaceControls(s).replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Escapes one header field. */
export function escapeCefHeader(s: string): string {
  if (!NEEDS_HDR_ESCAPE.test(s)) return s;
  return replaceControls(s).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]/g, ' ');
}

/** Cuts a string to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateCef(s: string, max: number | undefined): string {
  if (max === undefined || s.length <= max) return s;
  let cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

let lastSecond = '';
let lastSecondMs = NaN;

/**
 * Date.parse(s). The normalizer's stamps (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) of one second share
 * the parse of that second: Date.parse keeps the first three fraction digits (truncated), so
 * the value is the second's plus those milliseconds. Anything else goes to Date.parse.
 */
function isoMs(s: string): number {
  if (s.length !== 27 || s.charCodeAt(19) !== 46 || s.charCodeAt(26) !== 90) return Date.parse(s);
  let ms = 0;
  for (let i = 20; i < 26; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Date.parse(s);
    if (i < 23) ms = ms * 10 + d;
  }
  const sec = s.slice(0, 19);
  if (sec !== lastSecond) {
    lastSecond = sec;
    lastSecondMs = Date.parse(sec + '.000Z');
  }
  return Number.isFinite(lastSecondMs) ? lastSecondMs + ms : Date.parse(s);
}

function get(doc: EcsDocument, path: readonly string[]): unknown {
  let o: unknown = doc;
  for (let i = 0; i < path.length; i++) {
    if (o === null || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[path[i]!];
  }
  return o;
}

function firstOf(doc: EcsDocument, from: readonly (readonly string[])[]): unknown {
  for (let i = 0; i < from.length; i++) {
    const v = get(doc, from[i]!);
    if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0)) return v;
  }
  return undefined;
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/**
 * Compiled CEF encoder. Created once from the loaded mappings; `encode` never throws for a
 * document produced by the ECS normalizer (missing values just leave keys out).
 */
export class CefEncoder {
  private readonly prefix: string;
  constructor(private readonly plan: CefPlan) {
    this.prefix = `CEF:0|${escapeCefHeader(plan.vendor)}|${escapeCefHeader(plan.product)}|`;
  }

  /** Encodes one ECS document as a CEF:0 line without a trailing newline. */
  encode(doc: EcsDocument): string {
    const p = this.plan;
    const hm = p.headerMax;
    const version = scalarText(firstOf(doc, p.version.from)) ?? p.version.default;
    const sig = scalarText(firstOf(doc, p.signatureId.from)) ?? p.signatureId.default;
    const name = scalarText(firstOf(doc, p.name.from)) ?? p.name.default;
    const sevRaw = firstOf(doc, p.severity.from);
    const sev = typeof sevRaw === 'number' && Number.isInteger(sevRaw) && sevRaw >= 0 && sevRaw <= 10 ? sevRaw : p.severity.default;
    let out =
      this.prefix +
      escapeCefHeader(truncateCef(version, hm.version)) + '|' +
      escapeCefHeader(truncateCef(sig, hm.signature_id)) + '|' +
      escapeCefHeader(truncateCef(name, hm.name)) + '|' +
      sev + '|';
    let sep = '';
    const rows = p.rows;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const v = this.value(doc, row);
      if (v === undefined) continue;
      if (row.labelPair) {
        out += sep + row.labelPair;
        sep = ' ';
      }
      out += sep + row.key + '=' + v;
      sep = ' ';
    }
    return out;
  }

  /** The escaped value for one row, or undefined to leave the key out. */
  private value(doc: EcsDocument, row: CefRow): string | undefined {
    const raw = firstOf(doc, row.from);
    if (raw === undefined) return undefined;
    let text: string | undefined;
    switch (row.as) {
      case 'epoch_ms': {
        const ms = typeof raw === 'string' ? isoMs(raw) : typeof raw === 'number' ? raw : NaN;
        return Number.isFinite(ms) ? String(Math.trunc(ms)) : undefined;
      }
      case 'integer': {
        const t = scalarText(raw);
        if (t === undefined || !INT_RE.test(t)) return undefined;
        return t;
      }
      case 'ipv4': {
        const list = Array.isArray(raw) ? raw : [raw];
        for (const x of list) if (typeof x === 'string' && IPV4_RE.test(x)) return x;
        return undefined;
      }
      case 'join':
        text = Array.isArray(raw) ? raw.map((x) => scalarText(x) ?? '').filter((x) => x).join(',') : scalarText(raw);
        break;
      case 'attack_ids':
        text = attackIds(doc);
        break;
      default:
        text = scalarText(raw);
    }
    if (text === undefined) return undefined;
    if (row.when) {
      const numeric = INT_RE.test(text);
      if ((row.when === 'numeric') !== numeric) return undefined;
    }
    text = truncateCef(text, row.max).trim();
    if (!text) return undefined;
    return escapeCefValue(text);
  }
}

/** ATT&CK ids for cs3: sub-technique ids, plus techniques that have no sub-technique listed. */
function attackIds(doc: EcsDocument): string | undefined {
  const tech = get(doc, ['threat', 'technique']) as Record<string, unknown> | undefined;
  if (!tech) return undefined;
  const ids = Array.isArray(tech.id) ? (tech.id as string[]) : [];
  const sub = tech.subtechnique as Record<string, unknown> | undefined;
  const subIds = sub && Array.isArray(sub.id) ? (sub.id as string[]) : [];
  const out = [...subIds];
  for (const id of ids) if (!subIds.some((s) => s.startsWith(id + '.'))) out.push(id);
  return out.length ? out.join(',') : undefined;
}

let defaultEncoder: CefEncoder | undefined;

/**
 * Encodes an ECS document with the default mappings (mappings/cef.yaml, loaded on first use).
 * Called by the pipeline's normalizer for CEF sinks and by the syslog CEF output. Throws
 * MappingError on the first call if the tables are broken.
 */
export function toCef(doc: EcsDocument): string {
  // the process-wide shipped mappings: loaded once, shared with the Normalizer (no second load)
  defaultEncoder ??= new CefEncoder(defaultMappings().cef);
  return defaultEncoder.encode(doc);
}
