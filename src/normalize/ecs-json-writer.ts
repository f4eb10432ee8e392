/**
 * LkrgEvent -> the compact JSON text of its ECS document, without building the document.
 * The output is byte-identical to `JSON.stringify(EcsNormalizer#toEcs(ev))` (tested over the
 * golden fixtures, the sample corpus and property tests with hostile values).
 *
 * How: the structure of a document (which keys, in which order, which values are constant)
 * depends only on a few facts about the event: its template plan (or forged/unknown/kernel
 * route), the STATE weakening verdict, dataset, whether seq/labels/related hosts are present,
 * which fields it has in which order and which `long` fields hold numbers, and whether the
 * parsed level/action/category/template id are the expected ones. Per combination (a
 * "shape") the writer builds the document once as a skeleton, mirroring toEcs with
 * placeholder objects for every per-event value, and serializes it into constant JSON
 * segments with typed slots in between. Per event it then only computes the shape key and
 * concatenates segments and slot values (strings are scanned for characters JSON must
 * escape; the rare one that has any goes through JSON.stringify).
 *
 * Rare shapes are handed to the canonical path (toEcs + ecsToJson): stream notices, alerts
 * with companion lines, and shapes whose skeleton cannot stand for the document (a field row
 * writing into host.*, log.* or labels.*). KEEP IN STEP with ecs-normalizer.ts: any change to
 * what toEcs writes must be mirrored in the skeleton builders below (the equivalence tests in
 * test/unit/normalize/ecs-json-writer.test.ts fail otherwise).
 */
import type { EcsDocument } from '../core/output.js';
import type { LkrgEvent } from '../core/types.js';
import { ecsToJson } from './ecs-json.js';
import { DocParts, NUM_RE, createdOf, flatString, isInt, isWeakening, renderText, setPath, timestampOf, type HostPart } from './ecs-parts.js';
import type { Classification, CompiledMappings, FieldRow, SpecialPlan, TemplatePlan } from './mapping-loader.js';

// Slot kinds. Q: the segments around the slot hold the quotes, the value is escaped string
// content (a value that is not a string sends the event to the fallback); others are JSON text.
const S_TS = 0; // Q, no escaping needed: @timestamp
const S_CREATED = 1; // Q, no escaping needed: event.created
const S_MSG = 2; // Q: message
const S_ORIG = 3; // Q: event.original
const S_ID = 4; // Q: event.id
const S_REASON = 5; // Q: event.reason
const S_FSTR = 6; // Q: a field's text (arg: field index)
const S_FHEX = 7; // Q: a field's text with 0x
const S_FOCT = 8; // Q: a field's text with 0
const S_FLONG = 9; // a field's number
const S_SEQ = 10; // any JSON value: event.sequence
const S_CODE = 11; // any: event.code, lkrg.template_id
const S_LEVEL = 12; // any: lkrg.level
const S_ACTION = 13; // any: lkrg.action
const S_CATEGORY = 14; // any: lkrg.category, rule.category
const S_KSEV = 15; // any: event.severity of a kernel line
const S_HOST = 16; // fragment: host
const S_LOG = 17; // fragment: log
const S_LABELS = 18; // fragment: labels
const S_RELUSER = 19; // fragment: related.user
const S_RELHOSTS = 20; // fragment: related.hosts
const S_RELIP = 21; // fragment: related.ip

const QUOTED = [true, true, true, true, true, true, true, true, true, false, false, false, false, false, false, false, false, false, false, false, false, false];

const ROUTE_PLAN = 0;
const ROUTE_FORGED = 1;
const ROUTE_UNKNOWN = 2;
const ROUTE_KERNEL = 3;

/** Constant JSON segments around typed slots: consts[0] slot0 consts[1] slot1 ... consts[n]. */
interface Shape {
  readonly consts: readonly string[];
  readonly kinds: readonly number[];
  readonly args: readonly number[];
  /** Field indexes whose (deduplicated) texts make related.user, in push order. */
  readonly relUser: readonly number[];
}

/** One order of field names of one route entry, with its shapes by key. */
interface Layout {
  readonly names: readonly string[];
  /** Plan route: the rows of each field (undefined: kept under lkrg.fields). */
  readonly rows: readonly (readonly FieldRow[] | undefined)[];
  /** Field indexes with a `long` row: bit i of the mask is NUM_RE.test(field longIdx[i]). */
  readonly longIdx: readonly number[];
  /** null: this shape is written by the fallback. */
  readonly shapes: Map<number, Shape | null>;
}

/** Everything constant about one route (template plan, forged + plan, unknown plan, kernel line). */
interface Entry {
  readonly route: number;
  readonly plan: TemplatePlan | undefined;
  readonly special: SpecialPlan | undefined;
  /** The parsed values this entry's constant shapes assume (key bit "as expected"). */
  readonly tid: string | null;
  readonly lvl: string | null;
  readonly act: string | null;
  readonly cat: string | null;
  readonly layouts: Layout[];
}

const MAX_ENTRIES = 4096;
const MAX_LAYOUTS = 32;
const MAX_SHAPES = 512;
const MAX_LONG = 16;
const NO_PLAN = {};

/**
 * Writes ECS JSON text directly. Created by {@link EcsNormalizer} (one per normalizer, sharing
 * its {@link DocParts}); `write` never throws for events toEcs accepts (anything it cannot
 * write directly goes through `toEcs` + ecsToJson).
 */
export class EcsJsonWriter {
  private readonly entries = new Map<object, Entry>();
  private readonly forgedEntries = new Map<object, Entry>();
  private readonly kernelEntry: Entry;
  private readonly names: string[] = [];
  private readonly vals: string[] = [];
  private direct = 0;
  private fallbacks = 0;
  /** Placeholder -> slot, while a skeleton is built and serialized. */
  private markers = new Map<object, { kind: number; arg: number }>();

  constructor(
    private readonly m: CompiledMappings,
    private readonly parts: DocParts,
    private readonly toEcs: (ev: LkrgEvent) => EcsDocument,
  ) {
    this.kernelEntry = { route: ROUTE_KERNEL, plan: undefined, special: undefined, tid: null, lvl: null, act: null, cat: null, layouts: [] };
  }

  /** Counts of direct and fallback writes since creation (bench, tests). Never throws. */
  stats(): { readonly direct: number; readonly fallback: number } {
    return { direct: this.direct, fallback: this.fallbacks };
  }

  /**
   * The JSON text of the event's ECS document, byte-identical to JSON.stringify(toEcs(ev)).
   * Called by EcsNormalizer#toEcsJson for every event. Throws only what toEcs would throw.
   */
  write(ev: LkrgEvent): string {
    const rec = ev.record;
    const p = ev.parsed;
    if (rec.notice || ev.companions.length) return this.fallback(ev);

    let entry: Entry;
    let cls: Classification;
    let sw: boolean | undefined;
    let dataset: boolean;
    let nf = 0;
    let printk: number | undefined;
    const names = this.names;
    const vals = this.vals;
    if (!p.isLkrg) {
      entry = this.kernelEntry;
      cls = this.m.kernelLine.cls;
      dataset = false;
    } else {
      const tid = p.templateId;
      const plan = tid !== null && tid !== 'unknown' ? this.m.templates.get(tid) : undefined;
      if (ev.forged) {
        const key = plan ?? NO_PLAN;
        entry = this.forgedEntries.get(key) ?? this.newEntry(this.forgedEntries, key, ROUTE_FORGED, plan, this.m.forged, ev);
        cls = this.m.forged.cls;
        dataset = true;
      } else if (!plan) {
        const special = this.m.unknownPlan(p.level, p.action, p.category);
        entry = this.entries.get(special) ?? this.newEntry(this.entries, special, ROUTE_UNKNOWN, undefined, special, ev);
        cls = special.cls;
        dataset = p.level === 'ALERT';
      } else {
        entry = this.entries.get(plan) ?? this.newEntry(this.entries, plan, ROUTE_PLAN, plan, undefined, ev);
        const st = plan.state;
        if (st) {
          sw = isWeakening(st.weaken, p.fields);
          cls = sw === true ? st.weakened : sw === false ? st.otherwise : plan.base;
        } else cls = plan.base;
        dataset = plan.dataset === 'lkrg.alert';
      }
      printk = plan ? plan.printkLevel : p.level === 'ALERT' ? 2 : undefined;
      const fields = p.fields;
      for (const name in fields) {
        const text = fields[name];
        if (typeof text !== 'string') return this.fallback(ev);
        names[nf] = name;
        vals[nf++] = text;
      }
    }

    // the layout of this field order
    const layouts = entry.layouts;
    let layout: Layout | undefined;
    outer: for (let li = 0; li < layouts.length; li++) {
      const l = layouts[li]!;
      const ln = l.names;
      if (ln.length !== nf) continue;
      for (let j = 0; j < nf; j++) if (ln[j] !== names[j]) continue outer;
      layout = l;
      break;
    }
    if (!layout) {
      if (layouts.length >= MAX_LAYOUTS) return this.fallback(ev);
      layout = this.newLayout(entry, nf);
      if (!layout) return this.fallback(ev);
      layouts.push(layout);
    }

    // the shape key
    const hp = this.parts.hostPart(rec.host);
    const labels = this.parts.labels(rec);
    let bits = (sw === undefined ? 0 : sw ? 2 : 1) | (dataset ? 4 : 0) | (rec.seq !== undefined ? 8 : 0) |
      (hp.relatedHosts ? 16 : 0) | (hp.relatedIp ? 32 : 0) | (labels ? 64 : 0);
    if (entry.route !== ROUTE_KERNEL) {
      const tid = p.templateId, cat = p.category;
      if (tid === entry.tid && p.level === entry.lvl && p.action === entry.act && cat === entry.cat) bits |= 128;
      if (p.style === 'legacy') bits |= 256;
      if (cat) bits |= 512;
    }
    let mask = 0;
    const longIdx = layout.longIdx;
    for (let k = 0; k < longIdx.length; k++) if (NUM_RE.test(vals[longIdx[k]!]!)) mask |= 1 << k;
    const key = bits * 65536 + mask;
    let shape = layout.shapes.get(key);
    if (shape === undefined) {
      shape = this.compile(ev, entry, layout, cls, sw, dataset, hp, labels !== undefined, (bits & 128) !== 0);
      if (layout.shapes.size >= MAX_SHAPES) layout.shapes.clear();
      layout.shapes.set(key, shape);
    }
    if (shape === null) return this.fallback(ev);

    // write
    const C = shape.consts;
    const K = shape.kinds;
    const A = shape.args;
    let out = C[0]!;
    for (let i = 0; i < K.length; i++) {
      let v: string | undefined;
      switch (K[i]) {
        case S_TS: v = timestampOf(ev); break;
        case S_CREATED: v = createdOf(ev); break;
        case S_MSG: v = esc(rec.text); break;
        case S_ORIG: v = esc(rec.original); break;
        case S_ID: v = esc(ev.id); break;
        case S_REASON: v = esc(renderText(entry.plan!.reason!, p.fields)); break;
        case S_FSTR: v = esc(vals[A[i]!]); break;
        case S_FHEX: {
          const t = vals[A[i]!]!;
          v = esc(t.startsWith('0x') ? t : '0x' + t);
          break;
        }
        case S_FOCT: {
          const t = vals[A[i]!]!;
          v = esc(t.startsWith('0') ? t : '0' + t);
          break;
        }
        case S_FLONG: v = '' + Number(vals[A[i]!]); break;
        case S_SEQ: v = anyJson(rec.seq); break;
        case S_CODE: v = anyJson(p.templateId ?? 'unknown'); break;
        case S_LEVEL: v = anyJson(p.level); break;
        case S_ACTION: v = anyJson(p.action); break;
        case S_CATEGORY: v = anyJson(p.category); break;
        case S_KSEV: {
          const kl = this.m.kernelLine;
          v = anyJson(isInt(rec.severity, 7) ? kl.severityBySyslog[rec.severity] : kl.cls.severity);
          break;
        }
        case S_HOST: v = hp.hostJson; break;
        case S_LOG: v = this.parts.log(rec, printk).json; break;
        case S_LABELS: v = JSON.stringify(labels); break;
        case S_RELUSER: v = relUserJson(shape.relUser, vals); break;
        case S_RELHOSTS: v = hp.relatedHostsJson; break;
        case S_RELIP: v = hp.relatedIpJson; break;
      }
      if (v === undefined) return this.fallback(ev);
      out += v + C[i + 1]!;
    }
    this.direct++;
    return out;
  }

  // -------------------------------------------------------------------------------------------

  private fallback(ev: LkrgEvent): string {
    this.fallbacks++;
    return ecsToJson(this.toEcs(ev));
  }

  private newEntry(map: Map<object, Entry>, key: object, route: number, plan: TemplatePlan | undefined, special: SpecialPlan | undefined, ev: LkrgEvent): Entry {
    const p = ev.parsed;
    // a plan expects its own values; special routes expect those of the first event they see
    const e: Entry =
      route === ROUTE_PLAN
        ? { route, plan, special, tid: plan!.id, lvl: plan!.level, act: plan!.action, cat: plan!.category, layouts: [] }
        : { route, plan, special, tid: p.templateId, lvl: p.level, act: p.action, cat: p.category, layouts: [] };
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, e);
    return e;
  }

  private newLayout(entry: Entry, nf: number): Layout | undefined {
    const names = this.names.slice(0, nf);
    const rows: (readonly FieldRow[] | undefined)[] = [];
    const longIdx: number[] = [];
    if (entry.route === ROUTE_PLAN) {
      const plan = entry.plan!;
      for (let j = 0; j < nf; j++) {
        const r = plan.fieldRows.get(names[j]!) ?? this.m.defaultFieldRows.get(names[j]!);
        rows.push(r);
        if (r && r.some((row) => row.type === 'long')) longIdx.push(j);
      }
      if (longIdx.length > MAX_LONG) return undefined;
    }
    return { names, rows, longIdx, shapes: new Map() };
  }

  /** Builds and serializes the skeleton of one shape; null when the fallback must write it. */
  private compile(
    ev: LkrgEvent, entry: Entry, layout: Layout, cls: Classification, sw: boolean | undefined,
    dataset: boolean, hp: HostPart, hasLabels: boolean, asExpected: boolean,
  ): Shape | null {
    this.markers = new Map();
    try {
      const relUser: number[] = [];
      const doc = entry.route === ROUTE_KERNEL
        ? this.kernelSkeleton(ev, hp, hasLabels)
        : this.lkrgSkeleton(ev, entry, layout, cls, sw, dataset, hp, hasLabels, asExpected, relUser);
      if (!doc) return null;
      const b: SegmentBuilder = { consts: [], kinds: [], args: [], cur: '' };
      encodeSkeleton(doc, b, this.markers);
      b.consts.push(b.cur);
      return { consts: b.consts.map(flatString), kinds: b.kinds, args: b.args, relUser };
    } catch {
      return null; // toEcs throws the same (the fallback reports it)
    } finally {
      this.markers = new Map();
    }
  }

  /** A placeholder for a per-event value. */
  private slot(kind: number, arg = 0): object {
    const o = Object.freeze({});
    this.markers.set(o, { kind, arg });
    return o;
  }

  /** Mirror of EcsNormalizer#lkrg with placeholders: keep in step. */
  private lkrgSkeleton(
    ev: LkrgEvent, entry: Entry, layout: Layout, cls: Classification, settingWeakened: boolean | undefined,
    alert: boolean, hp: HostPart, hasLabels: boolean, asExpected: boolean, relUser: number[],
  ): Record<string, unknown> | undefined {
    const rec = ev.record;
    const p = ev.parsed;
    const forged = ev.forged;
    const plan = entry.plan;
    const special = entry.special;
    const parts = this.parts;
    const dataset = alert ? 'lkrg.alert' : 'lkrg.log';
    const code = (): unknown => (asExpected ? p.templateId ?? 'unknown' : this.slot(S_CODE));

    const event: Record<string, unknown> = {
      kind: cls.kind,
      category: cls.category,
      type: cls.type,
    };
    if (cls.outcome) event.outcome = cls.outcome;
    event.action = cls.action;
    event.code = code();
    event.severity = cls.severity;
    if (rec.seq !== undefined) event.sequence = this.slot(S_SEQ);
    if (parts.keepOriginal) event.original = this.slot(S_ORIG);
    event.created = this.slot(S_CREATED);
    event.id = this.slot(S_ID);
    event.module = 'lkrg';
    event.dataset = dataset;
    event.provider = 'kernel';

    const lkrg: Record<string, unknown> = {
      level: asExpected ? p.level : this.slot(S_LEVEL),
      action: asExpected ? p.action : this.slot(S_ACTION),
      category: asExpected ? p.category : this.slot(S_CATEGORY),
      template_id: code(),
      legacy: p.style === 'legacy',
      forged,
    };
    if (plan?.mapsTo) lkrg.maps_to = plan.mapsTo;
    if (settingWeakened !== undefined) lkrg.setting_weakened = settingWeakened;

    const host = this.slot(S_HOST);
    const doc: Record<string, unknown> = {
      '@timestamp': this.slot(S_TS),
      message: this.slot(S_MSG),
      ecs: parts.ecs,
      event,
      host,
      agent: parts.agent,
    };
    let rule: Record<string, unknown>;
    if (special) {
      rule = { id: special.ruleId!, name: special.ruleName! };
      if (p.category) rule.category = asExpected ? p.category : this.slot(S_CATEGORY);
      rule.ruleset = 'lkrg';
    } else rule = plan!.rule as Record<string, string>;
    doc.rule = rule;
    if (!special && plan!.threat && settingWeakened !== false) doc.threat = plan!.threat;
    const log = this.slot(S_LOG);
    doc.log = log;
    doc.data_stream = alert ? parts.dsAlert : parts.dsLog;
    doc.tags = this.parts.tags(cls.tags);
    const labels = hasLabels ? this.slot(S_LABELS) : undefined;
    if (labels) doc.labels = labels;
    doc.lkrg = lkrg;

    // fields
    const names = layout.names;
    if (forged || !plan) {
      let extra: Record<string, unknown> | undefined;
      for (let j = 0; j < names.length; j++) (extra ??= {})[names[j]!] = this.slot(S_FSTR, j);
      if (extra) lkrg.fields = extra;
    } else {
      const vals = this.vals;
      for (let j = 0; j < names.length; j++) {
        const name = names[j]!;
        const text = vals[j]!;
        const rows = layout.rows[j];
        if (!rows) {
          ((lkrg.fields ??= {}) as Record<string, unknown>)[name] = this.slot(S_FSTR, j);
          continue;
        }
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          if (row.type === 'long' && !NUM_RE.test(text)) {
            ((lkrg.fields ??= {}) as Record<string, unknown>)[name] = this.slot(S_FSTR, j);
            continue;
          }
          const kind = row.type === 'long' ? S_FLONG : row.type === 'hex' ? S_FHEX : row.type === 'octal' ? S_FOCT : S_FSTR;
          setPath(doc, row.path, this.slot(kind, j));
          if (row.related === 'user') relUser.push(j);
        }
      }
      const sets = plan.setRows;
      for (let i = 0; i < sets.length; i++) setPath(doc, sets[i]!.path, sets[i]!.value);
      if (plan.reason && renderText(plan.reason, p.fields) !== undefined) event.reason = this.slot(S_REASON);
    }

    if (relUser.length || hp.relatedHosts || hp.relatedIp) {
      const related: Record<string, unknown> = {};
      if (relUser.length) related.user = this.slot(S_RELUSER);
      if (hp.relatedHosts) related.hosts = this.slot(S_RELHOSTS);
      if (hp.relatedIp) related.ip = this.slot(S_RELIP);
      doc.related = related;
    }
    // a row wrote into a part that is one fragment here: let toEcs build it
    if (doc.host !== host || doc.log !== log || (labels && doc.labels !== labels)) return undefined;
    return doc;
  }

  /** Mirror of EcsNormalizer#kernelLine with placeholders: keep in step. */
  private kernelSkeleton(ev: LkrgEvent, hp: HostPart, hasLabels: boolean): Record<string, unknown> {
    const rec = ev.record;
    const parts = this.parts;
    const cls = this.m.kernelLine.cls;
    const event: Record<string, unknown> = { kind: cls.kind, category: cls.category, type: cls.type };
    if (cls.outcome) event.outcome = cls.outcome;
    event.action = cls.action;
    event.severity = this.slot(S_KSEV);
    if (rec.seq !== undefined) event.sequence = this.slot(S_SEQ);
    if (parts.keepOriginal) event.original = this.slot(S_ORIG);
    event.created = this.slot(S_CREATED);
    event.id = this.slot(S_ID);
    event.module = 'lkrg';
    event.dataset = 'lkrg.log';
    event.provider = 'kernel';
    const doc: Record<string, unknown> = {
      '@timestamp': this.slot(S_TS),
      message: this.slot(S_MSG),
      ecs: parts.ecs,
      event,
      host: this.slot(S_HOST),
      agent: parts.agent,
      log: this.slot(S_LOG),
      data_stream: parts.dsLog,
      tags: parts.tags(cls.tags),
    };
    if (hasLabels) doc.labels = this.slot(S_LABELS);
    if (hp.relatedHosts || hp.relatedIp) {
      const related: Record<string, unknown> = {};
      if (hp.relatedHosts) related.hosts = this.slot(S_RELHOSTS);
      if (hp.relatedIp) related.ip = this.slot(S_RELIP);
      doc.related = related;
    }
    return doc;
  }
}

// ---------------------------------------------------------------------------------------------

interface SegmentBuilder {
  consts: string[];
  kinds: number[];
  args: number[];
  cur: string;
}

function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** JSON.stringify of a skeleton, cut at its placeholders. */
function encodeSkeleton(v: unknown, b: SegmentBuilder, markers: ReadonlyMap<object, { kind: number; arg: number }>): void {
  if (typeof v !== 'object' || v === null) {
    b.cur += JSON.stringify(v);
    return;
  }
  const mk = markers.get(v);
  if (mk) {
    const q = QUOTED[mk.kind]!;
    if (q) b.cur += '"';
    b.consts.push(b.cur);
    b.kinds.push(mk.kind);
    b.args.push(mk.arg);
    b.cur = q ? '"' : '';
    return;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    b.cur += JSON.stringify(v);
    return;
  }
  if (Array.isArray(v)) {
    b.cur += '[';
    for (let i = 0; i < v.length; i++) {
      if (i) b.cur += ',';
      const x: unknown = v[i];
      if (omitted(x)) b.cur += 'null';
      else encodeSkeleton(x, b, markers);
    }
    b.cur += ']';
    return;
  }
  b.cur += '{';
  let first = true;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (omitted(x)) continue;
    b.cur += (first ? '' : ',') + JSON.stringify(k) + ':';
    first = false;
    encodeSkeleton(x, b, markers);
  }
  b.cur += '}';
}

/**
 * Strings without any character JSON.stringify escapes: `"`, `\`, C0 controls and (well-formed
 * JSON.stringify) lone surrogates; a valid pair fails it too and is then left to JSON.stringify.
 * Anchored and greedy: one pass, about a third faster than searching for a bad character.
 */
const NO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * The content of a JSON string for `s` (without the quotes): `s` itself when nothing needs
 * escaping (nearly always), else from JSON.stringify. undefined when `s` is not a string.
 * Short strings are scanned in JS, longer ones by the regex (about twice as fast per char).
 */
function esc(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  const n = s.length;
  if (n > 16) {
    if (NO_ESCAPE.test(s)) return s;
  } else {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || (c & 0xf800) === 0xd800) break;
    }
    if (i === n) return s;
  }
  const j = JSON.stringify(s);
  return j.slice(1, j.length - 1);
}

/** JSON text of a primitive value; undefined for what a document cannot hold here. */
function anyJson(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string': return '"' + esc(v) + '"';
    case 'number': return Number.isFinite(v) ? '' + v : 'null';
    case 'boolean': return v ? 'true' : 'false';
    case 'object': return v === null ? 'null' : undefined;
    default: return undefined;
  }
}

/** related.user: the texts of the related rows written, first occurrences only. */
function relUserJson(idx: readonly number[], vals: readonly string[]): string {
  let s = '[';
  for (let k = 0; k < idx.length; k++) {
    const t = vals[idx[k]!]!;
    let dup = false;
    for (let q = 0; q < k; q++) if (vals[idx[q]!] === t) { dup = true; break; }
    if (dup) continue;
    s += (s.length > 1 ? ',"' : '"') + esc(t) + '"';
  }
  return s + ']';
}
