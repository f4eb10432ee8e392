/**
 * LkrgEvent -> nested ECS 9.4 document (the canonical normalized form). Everything constant
 * per template (classification, rule, threat, field destinations) comes precompiled from
 * {@link loadMappings}; per event only values are filled in. Shared constant sub-objects
 * (ecs, agent, data_stream, threat, os, category/type arrays) are frozen: documents must not
 * be mutated by consumers.
 */
import type { EcsDocument } from '../core/output.js';
import type { HostIdentity, LkrgEvent, RawRecord } from '../core/types.js';
import type { Classification, CompiledMappings, FieldRow, SpecialPlan, TemplatePlan, TextPlan } from './mapping-loader.js';

/** The forwarder's own identity, written to `agent.*`. */
export interface AgentInfo {
  readonly type: string;
  readonly name?: string;
  readonly version?: string;
  readonly id?: string;
  readonly ephemeralId?: string;
}

/** Options of {@link EcsNormalizer} (from the `[normalize]` config). */
export interface EcsNormalizerOptions {
  /** data_stream.namespace, default `default`. */
  readonly namespace?: string;
  readonly agent: AgentInfo;
  /** Keep the exact input line(s) in event.original (default true). */
  readonly keepOriginal?: boolean;
}

const NUM_RE = /^-?\d{1,15}$/;

/** Epoch microseconds -> ISO-8601 UTC with microseconds, e.g. 2024-10-14T08:58:23.517017Z. */
export function isoFromMicros(us: number): string {
  const sec = Math.floor(us / 1e6);
  let frac = Math.floor(us - sec * 1e6);
  if (frac > 999_999) frac = 999_999;
  const f = '' + frac;
  return secondPrefix(sec) + (f.length < 6 ? '000000'.slice(f.length) + f : f) + 'Z';
}

let lastSec = NaN;
let lastPrefix = '';
const pad2 = (n: number): string => (n < 10 ? '0' + n : '' + n);

/** "YYYY-MM-DDTHH:MM:SS." for epoch seconds; civil-from-days arithmetic, last value cached. */
function secondPrefix(sec: number): string {
  if (sec === lastSec) return lastPrefix;
  const days = Math.floor(sec / 86400);
  const rem = sec - days * 86400;
  // H. Hinnant's civil_from_days
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 0 || y > 9999) {
    const iso = new Date(sec * 1000).toISOString(); // extended years: +010000-...
    return iso.slice(0, iso.indexOf('.') + 1);
  }
  const ys = '' + y;
  const prefix =
    (ys.length < 4 ? '0000'.slice(ys.length) + ys : ys) + '-' + pad2(m) + '-' + pad2(d) + 'T' +
    pad2(Math.floor(rem / 3600)) + ':' + pad2(Math.floor((rem % 3600) / 60)) + ':' + pad2(rem % 60) + '.';
  lastSec = sec;
  lastPrefix = prefix;
  return prefix;
}

interface HostPart {
  readonly host: Readonly<Record<string, unknown>>;
  readonly relatedHosts?: readonly string[];
  readonly relatedIp?: readonly string[];
}

/**
 * Builds ECS documents. Created once by {@link Normalizer}; `toEcs` never throws for any
 * LkrgEvent (unknown templates, odd field text and missing times all have fallbacks).
 */
export class EcsNormalizer {
  private readonly ecs: Readonly<Record<string, string>>;
  private readonly agent: Readonly<Record<string, string>>;
  private readonly dsAlert: Readonly<Record<string, string>>;
  private readonly dsLog: Readonly<Record<string, string>>;
  private readonly keepOriginal: boolean;
  /**
   * Host parts by content: sources build a new HostIdentity per record, so sharing the frozen
   * part between equal hosts keeps its JSON fragment cached (see ecs-json.ts).
   */
  private readonly hostByKey = new Map<string, HostPart>();
  private lastHost: HostIdentity | undefined;
  private lastHostPart: HostPart | undefined;
  private readonly logCache = new Map<number, Readonly<Record<string, unknown>>>();
  private readonly os = Object.freeze({ type: 'linux' });

  constructor(
    private readonly m: CompiledMappings,
    opts: EcsNormalizerOptions,
  ) {
    this.ecs = Object.freeze({ version: m.ecsVersion });
    const a: Record<string, string> = { type: opts.agent.type };
    if (opts.agent.name) a.name = opts.agent.name;
    if (opts.agent.version) a.version = opts.agent.version;
    if (opts.agent.id) a.id = opts.agent.id;
    if (opts.agent.ephemeralId) a.ephemeral_id = opts.agent.ephemeralId;
    this.agent = Object.freeze(a);
    const ns = opts.namespace ?? 'default';
    this.dsAlert = Object.freeze({ type: 'logs', dataset: 'lkrg.alert', namespace: ns });
    this.dsLog = Object.freeze({ type: 'logs', dataset: 'lkrg.log', namespace: ns });
    this.keepOriginal = opts.keepOriginal ?? true;
  }

  /** Normalizes one event. Called by the pipeline for every assembled event. */
  toEcs(ev: LkrgEvent): EcsDocument {
    const rec = ev.record;
    if (rec.notice) return this.notice(ev);
    const p = ev.parsed;
    if (!p.isLkrg) return this.kernelLine(ev);
    const plan = p.templateId !== null && p.templateId !== 'unknown' ? this.m.templates.get(p.templateId) : undefined;
    if (ev.forged) return this.lkrg(ev, plan, this.m.forged);
    if (!plan) return this.lkrg(ev, undefined, this.m.unknownPlan(p.level, p.action, p.category));
    return this.lkrg(ev, plan, undefined);
  }

  // -------------------------------------------------------------------------------------------

  private lkrg(ev: LkrgEvent, plan: TemplatePlan | undefined, special: SpecialPlan | undefined): EcsDocument {
    const rec = ev.record;
    const p = ev.parsed;
    const forged = ev.forged;
    let cls: Classification;
    let settingWeakened: boolean | undefined;
    if (special) cls = special.cls;
    else if (plan!.state) {
      settingWeakened = isWeakening(plan!.state.weaken, p.fields);
      cls = settingWeakened === true ? plan!.state.weakened : settingWeakened === false ? plan!.state.otherwise : plan!.base;
    } else cls = plan!.base;

    const dataset = forged || (plan ? plan.dataset === 'lkrg.alert' : p.level === 'ALERT') ? 'lkrg.alert' : 'lkrg.log';
    const companions = ev.companions;
    let message = rec.text;
    let original = rec.original;
    if (companions.length) {
      for (const c of companions) {
        message += '\n' + c.text;
        original += '\n' + c.original;
      }
    }
    const event: Record<string, unknown> = {
      kind: cls.kind,
      category: cls.category,
      type: cls.type,
    };
    if (cls.outcome) event.outcome = cls.outcome;
    event.action = cls.action;
    event.code = p.templateId ?? 'unknown';
    event.severity = cls.severity;
    if (rec.seq !== undefined) event.sequence = rec.seq;
    if (this.keepOriginal) event.original = original;
    event.created = createdOf(ev);
    event.id = ev.id;
    event.module = 'lkrg';
    event.dataset = dataset;
    event.provider = 'kernel';

    const hp = this.hostPart(rec.host);
    const lkrg: Record<string, unknown> = {
      level: p.level,
      action: p.action,
      category: p.category,
      template_id: p.templateId ?? 'unknown',
      legacy: p.style === 'legacy',
      forged,
    };
    if (plan?.mapsTo) lkrg.maps_to = plan.mapsTo;
    if (settingWeakened !== undefined) lkrg.setting_weakened = settingWeakened;

    const doc: Record<string, unknown> = {
      '@timestamp': timestampOf(ev),
      message,
      ecs: this.ecs,
      event,
      host: hp.host,
      agent: this.agent,
    };
    let rule: Record<string, string>;
    if (special) {
      rule = { id: special.ruleId!, name: special.ruleName! };
      if (p.category) rule.category = p.category;
      rule.ruleset = 'lkrg';
    } else rule = plan!.rule as Record<string, string>;
    doc.rule = rule;
    // a STATE change that provably does not weaken LKRG is no ATT&CK technique
    if (!special && plan!.threat && settingWeakened !== false) doc.threat = plan!.threat;
    doc.log = this.log(rec, plan ? plan.printkLevel : p.level === 'ALERT' ? 2 : undefined);
    doc.data_stream = dataset === 'lkrg.alert' ? this.dsAlert : this.dsLog;
    doc.tags = cls.tags;
    const labels = rec.extra ? labelsOf(rec.extra) : undefined;
    if (labels) doc.labels = labels;
    doc.lkrg = lkrg;

    // fields
    let relatedUser: string[] | undefined;
    const fields = p.fields;
    if (forged || !plan) {
      let extra: Record<string, string> | undefined;
      for (const name in fields) (extra ??= {})[name] = fields[name]!;
      if (extra) lkrg.fields = extra;
    } else {
      const rowsByName = plan.fieldRows;
      for (const name in fields) {
        const text = fields[name]!;
        // fields the template does not declare (companion fields merged by the assembler) use the default rows
        const rows = rowsByName.get(name) ?? this.m.defaultFieldRows.get(name);
        if (!rows) {
          ((lkrg.fields ??= {}) as Record<string, string>)[name] = text;
          continue;
        }
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          if (!writeField(doc, row, text)) {
            ((lkrg.fields ??= {}) as Record<string, string>)[name] = text;
          } else if (row.related === 'user' && !(relatedUser ??= []).includes(text)) relatedUser.push(text);
        }
      }
      const sets = plan.setRows;
      for (let i = 0; i < sets.length; i++) setPath(doc, sets[i]!.path, sets[i]!.value);
      if (plan.reason) {
        const r = renderText(plan.reason, fields);
        if (r !== undefined) event.reason = r;
      }
      if (companions.length) this.companionFields(doc, companions);
    }

    if (relatedUser || hp.relatedHosts || hp.relatedIp) {
      const related: Record<string, unknown> = {};
      if (relatedUser) related.user = relatedUser;
      if (hp.relatedHosts) related.hosts = hp.relatedHosts;
      if (hp.relatedIp) related.ip = hp.relatedIp;
      doc.related = related;
    }
    return doc;
  }

  private kernelLine(ev: LkrgEvent): EcsDocument {
    const rec = ev.record;
    const kl = this.m.kernelLine;
    const cls = kl.cls;
    const event: Record<string, unknown> = { kind: cls.kind, category: cls.category, type: cls.type };
    if (cls.outcome) event.outcome = cls.outcome;
    event.action = cls.action;
    event.severity = isInt(rec.severity, 7) ? kl.severityBySyslog[rec.severity]! : cls.severity;
    if (rec.seq !== undefined) event.sequence = rec.seq;
    if (this.keepOriginal) event.original = rec.original;
    event.created = createdOf(ev);
    event.id = ev.id;
    event.module = 'lkrg';
    event.dataset = 'lkrg.log';
    event.provider = 'kernel';
    const hp = this.hostPart(rec.host);
    const doc: Record<string, unknown> = {
      '@timestamp': timestampOf(ev),
      message: rec.text,
      ecs: this.ecs,
      event,
      host: hp.host,
      agent: this.agent,
      log: this.log(rec, undefined),
      data_stream: this.dsLog,
      tags: cls.tags,
    };
    const labels = rec.extra ? labelsOf(rec.extra) : undefined;
    if (labels) doc.labels = labels;
    if (hp.relatedHosts || hp.relatedIp) {
      const related: Record<string, unknown> = {};
      if (hp.relatedHosts) related.hosts = hp.relatedHosts;
      if (hp.relatedIp) related.ip = hp.relatedIp;
      doc.related = related;
    }
    return doc;
  }

  private notice(ev: LkrgEvent): EcsDocument {
    const rec = ev.record;
    const n = rec.notice!;
    const plan = this.m.notices.get(n.type)!;
    const cls = plan.cls;
    const event: Record<string, unknown> = { kind: cls.kind, category: cls.category, type: cls.type };
    if (cls.outcome) event.outcome = cls.outcome;
    event.action = cls.action;
    event.code = plan.ruleId;
    event.reason = n.detail;
    event.severity = cls.severity;
    if (rec.seq !== undefined) event.sequence = rec.seq;
    if (this.keepOriginal && rec.original) event.original = rec.original;
    event.created = createdOf(ev);
    event.id = ev.id;
    event.module = 'lkrg';
    event.dataset = 'lkrg.log';
    event.provider = 'lkrg-siem';
    const notice: Record<string, unknown> = { type: n.type };
    if (n.missing !== undefined) notice.missing = n.missing;
    if (n.fromSeq !== undefined) notice.from_seq = n.fromSeq;
    if (n.toSeq !== undefined) notice.to_seq = n.toSeq;
    if (n.previousBootId !== undefined) notice.previous_boot_id = n.previousBootId;
    notice.origin = rec.origin;
    const hp = this.hostPart(rec.host);
    const doc: Record<string, unknown> = {
      '@timestamp': timestampOf(ev),
      message: n.detail,
      ecs: this.ecs,
      event,
      host: hp.host,
      agent: this.agent,
      rule: { id: plan.ruleId!, name: plan.ruleName!, ruleset: 'lkrg-siem' },
      data_stream: this.dsLog,
      tags: cls.tags,
      lkrg: { notice },
    };
    if (hp.relatedHosts || hp.relatedIp) {
      const related: Record<string, unknown> = {};
      if (hp.relatedHosts) related.hosts = hp.relatedHosts;
      if (hp.relatedIp) related.ip = hp.relatedIp;
      doc.related = related;
    }
    return doc;
  }

  /** Fields found in companion lines (hidden-module name, panic text) fill gaps only. */
  private companionFields(doc: Record<string, unknown>, companions: readonly RawRecord[]): void {
    for (const c of companions) {
      for (const t of this.m.companionTemplates) {
        const m = t.re.exec(c.text);
        if (!m?.groups) continue;
        for (const [name, text] of Object.entries(m.groups)) {
          if (text === undefined) continue;
          const rows = this.m.defaultFieldRows.get(name);
          if (!rows) continue;
          for (const row of rows) if (getPath(doc, row.path) === undefined) writeField(doc, row, text);
        }
        break;
      }
    }
  }

  /**
   * log.* of one record. Depends only on (printk level, facility, severity), so the frozen
   * object is shared by all documents with the same values (its JSON fragment is then cached
   * by ecs-json.ts); a field row writing under log.* copies it first (setPath).
   */
  private log(rec: RawRecord, printkLevel: number | undefined): Readonly<Record<string, unknown>> {
    const sev = isInt(rec.severity, 7) ? rec.severity : undefined;
    const level = sev ?? (isInt(printkLevel, 7) ? printkLevel : undefined);
    const fac = isInt(rec.facility, 23) ? rec.facility : undefined;
    const key = (level ?? 8) * 1000 + (fac ?? 24) * 10 + (sev ?? 8);
    const hit = this.logCache.get(key);
    if (hit) return hit;
    const out: Record<string, unknown> = {};
    if (level !== undefined) out.level = this.m.printkLevels[level];
    if (sev !== undefined || fac !== undefined) {
      const syslog: Record<string, unknown> = {};
      if (fac !== undefined) syslog.facility = Object.freeze({ code: fac, name: this.m.syslogFacilityNames[fac] });
      if (sev !== undefined) syslog.severity = Object.freeze({ code: sev, name: this.m.syslogSeverityNames[sev] });
      if (fac !== undefined && sev !== undefined) syslog.priority = fac * 8 + sev;
      out.syslog = Object.freeze(syslog);
    }
    Object.freeze(out);
    this.logCache.set(key, out);
    return out;
  }

  private hostPart(h: HostIdentity): HostPart {
    // sources share one HostIdentity between the records of a boot: check identity first
    if (h === this.lastHost) return this.lastHostPart!;
    const part = this.hostPartOf(h);
    this.lastHost = h;
    this.lastHostPart = part;
    return part;
  }

  private hostPartOf(h: HostIdentity): HostPart {
    const n = h.name || '', ip = h.ip || '', id = h.id || '', boot = h.bootId || '';
    // lengths first: unambiguous whatever the values contain
    const key = n.length + ',' + ip.length + ',' + id.length + ',' + boot.length + ':' + n + ip + id + boot;
    const hit = this.hostByKey.get(key);
    if (hit) return hit;
    const host: Record<string, unknown> = {};
    if (h.name) {
      host.name = h.name;
      host.hostname = h.name;
    }
    if (h.ip) host.ip = Object.freeze([h.ip]);
    if (h.id) host.id = h.id;
    if (h.bootId) host.boot = Object.freeze({ id: h.bootId });
    host.os = this.os;
    const part: HostPart = Object.freeze({
      host: Object.freeze(host),
      ...(h.name ? { relatedHosts: Object.freeze([h.name]) } : {}),
      ...(h.ip ? { relatedIp: Object.freeze([h.ip]) } : {}),
    });
    if (this.hostByKey.size >= 4096) this.hostByKey.clear();
    this.hostByKey.set(key, part);
    return part;
  }
}

// ---------------------------------------------------------------------------------------------

function isInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function timestampOf(ev: LkrgEvent): string {
  const r = ev.record;
  if (r.timeUs !== null && Number.isFinite(r.timeUs)) return isoFromMicros(r.timeUs);
  if (r.receivedUs !== undefined && Number.isFinite(r.receivedUs)) return isoFromMicros(r.receivedUs);
  return isoFromMicros(ev.readAtMs * 1000);
}

function createdOf(ev: LkrgEvent): string {
  const r = ev.record;
  if (r.receivedUs !== undefined && Number.isFinite(r.receivedUs)) return isoFromMicros(r.receivedUs);
  return isoFromMicros(ev.readAtMs * 1000);
}

/** true: the STATE change weakens LKRG; false: it does not; undefined: cannot tell. */
function isWeakening(rule: 'decrease' | 'increase' | 'always' | 'never', f: Readonly<Record<string, string>>): boolean | undefined {
  if (rule === 'always') return true;
  if (rule === 'never') return false;
  const o = f.old_value, n = f.new_value;
  if (o === undefined || n === undefined || !NUM_RE.test(o) || !NUM_RE.test(n)) return undefined;
  const a = Number(o), b = Number(n);
  return rule === 'decrease' ? b < a : b > a;
}

function writeField(doc: Record<string, unknown>, row: FieldRow, text: string): boolean {
  if (row.type === 'long') {
    if (!NUM_RE.test(text)) return false;
    setPath(doc, row.path, Number(text));
  } else if (row.type === 'hex') setPath(doc, row.path, text.startsWith('0x') ? text : '0x' + text);
  else if (row.type === 'octal') setPath(doc, row.path, text.startsWith('0') ? text : '0' + text);
  else setPath(doc, row.path, text);
  return true;
}

function setPath(doc: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = doc;
  const last = path.length - 1;
  for (let i = 0; i < last; i++) {
    const k = path[i]!;
    let next = o[k] as Record<string, unknown> | undefined;
    if (next === undefined || typeof next !== 'object' || Object.isFrozen(next)) {
      next = next && typeof next === 'object' ? { ...next } : {};
      o[k] = next;
    }
    o = next;
  }
  o[path[last]!] = value;
}

function getPath(doc: Record<string, unknown>, path: readonly string[]): unknown {
  let o: unknown = doc;
  for (const k of path) {
    if (!o || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

function renderText(plan: TextPlan, fields: Readonly<Record<string, string>>): string | undefined {
  let s = plan[0]!;
  for (let i = 1; i < plan.length; i += 2) {
    const v = fields[plan[i]!];
    if (v === undefined) return undefined;
    s += v + plan[i + 1]!;
  }
  return s;
}

function labelsOf(extra: Readonly<Record<string, string>>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k in extra) {
    const key = k.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^_+/, '') || 'field';
    (out ??= {})[key] = String(extra[k]);
  }
  return out;
}
