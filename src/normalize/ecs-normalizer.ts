/**
 * LkrgEvent -> nested ECS 9.4 document (the canonical normalized form). Everything constant
 * per template (classification, rule, threat, field destinations) comes precompiled from
 * {@link loadMappings}; per event only values are filled in. Shared constant sub-objects
 * (ecs, agent, data_stream, threat, os, category/type arrays) are frozen: documents must not
 * be mutated by consumers.
 */
import type { EcsDocument } from '../core/output.js';
import type { LkrgEvent, RawRecord } from '../core/types.js';
import { EcsJsonWriter } from './ecs-json-writer.js';
import {
  DocParts, createdOf, getPath, isInt, isWeakening, renderText, setPath, timestampOf, writeField,
  type EcsNormalizerOptions, type HostPart,
} from './ecs-parts.js';
import type { Classification, CompiledMappings, SpecialPlan, TemplatePlan } from './mapping-loader.js';

export { isoFromMicros, type AgentInfo, type EcsNormalizerOptions } from './ecs-parts.js';

/**
 * Builds ECS documents. Created once by {@link Normalizer}; `toEcs` never throws for any
 * LkrgEvent (unknown templates, odd field text and missing times all have fallbacks).
 */
export class EcsNormalizer {
  private readonly parts: DocParts;
  private readonly ecs: Readonly<Record<string, string>>;
  private readonly agent: Readonly<Record<string, string>>;
  private readonly dsAlert: Readonly<Record<string, string>>;
  private readonly dsLog: Readonly<Record<string, string>>;
  private readonly keepOriginal: boolean;
  private readonly writer: EcsJsonWriter;

  constructor(
    private readonly m: CompiledMappings,
    opts: EcsNormalizerOptions,
  ) {
    const parts = new DocParts(m, opts);
    this.parts = parts;
    this.ecs = parts.ecs;
    this.agent = parts.agent;
    this.dsAlert = parts.dsAlert;
    this.dsLog = parts.dsLog;
    this.keepOriginal = parts.keepOriginal;
    this.writer = new EcsJsonWriter(m, parts, (ev) => this.toEcs(ev));
  }

  /** Normalizes one event. Called by the pipeline for every assembled event. */
  toEcs(ev: LkrgEvent): EcsDocument {
    const rec = ev.record;
    if (rec.notice) return this.notice(ev);
    if (!ev.parsed.isLkrg) return this.kernelLine(ev);
    const { plan, special } = this.plansOf(ev);
    return this.lkrg(ev, plan, special);
  }

  /** The mapping plans of an LKRG line: its template's, and the special plan of a forged or unknown line. */
  private plansOf(ev: LkrgEvent): { plan: TemplatePlan | undefined; special: SpecialPlan | undefined } {
    const p = ev.parsed;
    const plan = p.templateId !== null && p.templateId !== 'unknown' ? this.m.templates.get(p.templateId) : undefined;
    if (ev.forged) return { plan, special: this.m.forged };
    if (!plan) return { plan: undefined, special: this.m.unknownPlan(p.level, p.action, p.category) };
    return { plan, special: undefined };
  }

  /** `event.severity` of a plain kernel line: from its syslog severity when it has one. */
  private kernelLineSeverity(rec: LkrgEvent['record']): number {
    const kl = this.m.kernelLine;
    return isInt(rec.severity, 7) ? kl.severityBySyslog[rec.severity]! : kl.cls.severity;
  }

  /**
   * The compact JSON text of `toEcs(ev)`, byte-identical to `JSON.stringify(this.toEcs(ev))`,
   * written straight from the event and the compiled mapping plan without building the
   * document (rare shapes such as notices and alerts with companion lines build it and use
   * ecsToJson). Called by the pipeline for every event it queues as ECS. Never throws for
   * events toEcs accepts.
   */
  toEcsJson(ev: LkrgEvent): string {
    return this.writer.write(ev);
  }

  /**
   * `event.dataset` of the event's document (`lkrg.alert` or `lkrg.log`) without building it,
   * by the same rule as toEcs. Called by the pipeline for every queued event; never throws.
   */
  datasetOf(ev: LkrgEvent): 'lkrg.alert' | 'lkrg.log' {
    const p = ev.parsed;
    if (ev.record.notice || !p.isLkrg) return 'lkrg.log';
    if (ev.forged) return 'lkrg.alert';
    const plan = p.templateId !== null && p.templateId !== 'unknown' ? this.m.templates.get(p.templateId) : undefined;
    return (plan ? plan.dataset === 'lkrg.alert' : p.level === 'ALERT') ? 'lkrg.alert' : 'lkrg.log';
  }

  /**
   * `event.severity` of the event's document (0-10) without building it, by the same rules as
   * toEcs. Called by the pipeline for outputs with a `filter.min_severity`; never throws.
   */
  severityOf(ev: LkrgEvent): number {
    const rec = ev.record;
    if (rec.notice) return this.m.notices.get(rec.notice.type)!.cls.severity;
    if (!ev.parsed.isLkrg) return this.kernelLineSeverity(rec);
    const { plan, special } = this.plansOf(ev);
    return this.classOf(ev, plan, special).cls.severity;
  }

  /** The classification of an LKRG line (the `lkrg()` rule), and whether a setting was weakened. */
  private classOf(ev: LkrgEvent, plan: TemplatePlan | undefined, special: SpecialPlan | undefined): { cls: Classification; settingWeakened: boolean | undefined } {
    if (special) return { cls: special.cls, settingWeakened: undefined };
    if (plan!.state) {
      const settingWeakened = isWeakening(plan!.state.weaken, ev.parsed.fields);
      return { cls: settingWeakened === true ? plan!.state.weakened : settingWeakened === false ? plan!.state.otherwise : plan!.base, settingWeakened };
    }
    return { cls: plan!.base, settingWeakened: undefined };
  }

  /**
   * How many toEcsJson calls were written directly and how many built the document
   * (fallback). For the bench and tests; never throws.
   */
  jsonStats(): { readonly direct: number; readonly fallback: number } {
    return this.writer.stats();
  }

  // -------------------------------------------------------------------------------------------
  // KEEP IN STEP: ecs-json-writer.ts mirrors lkrg() and kernelLine() (lkrgSkeleton,
  // kernelSkeleton) to write the same JSON without the object; change both together (the
  // equivalence tests in test/unit/normalize/ecs-json-writer.test.ts fail otherwise).

  private lkrg(ev: LkrgEvent, plan: TemplatePlan | undefined, special: SpecialPlan | undefined): EcsDocument {
    const rec = ev.record;
    const p = ev.parsed;
    const forged = ev.forged;
    const { cls, settingWeakened } = this.classOf(ev, plan, special);

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
    doc.tags = this.parts.tags(cls.tags);
    const labels = this.parts.labels(rec);
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
    event.severity = this.kernelLineSeverity(rec);
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
      tags: this.parts.tags(cls.tags),
    };
    const labels = this.parts.labels(rec);
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
      tags: this.parts.tags(cls.tags),
    };
    const labels = this.parts.labels(rec);
    if (labels) doc.labels = labels;
    doc.lkrg = { notice };
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

  private log(rec: RawRecord, printkLevel: number | undefined): Readonly<Record<string, unknown>> {
    return this.parts.log(rec, printkLevel).log;
  }

  private hostPart(h: RawRecord['host']): HostPart {
    return this.parts.hostPart(h);
  }
}
