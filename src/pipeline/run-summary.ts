/**
 * Per-host summary of what LKRG saw during a run: alerts by action and category, state
 * changes, lifecycle, gaps, reboots, duplicates, forged lines. Filled by the pipeline,
 * printed by the CLI at the end of `replay` and `demo`.
 */
import type { LkrgEvent, MalformedRecord, SourceGaugeFamily } from '../core/types.js';
import { isoFromMicros, timestampUsOf } from '../normalize/ecs-parts.js';

/** Counters of one host. */
export interface HostSummary {
  host: string;
  events: number;
  alerts: Map<string, number>; // "DETECT Task" -> n
  stateChanges: string[];
  lifecycle: Map<string, number>;
  gaps: number;
  missingRecords: number;
  reboots: number;
  duplicates: number;
  forged: number;
  unknown: number;
  /** Stream notices by type (gap, reboot, duplicate: records dropped, quiet, truncated, journal-missed). */
  notices: Map<string, number>;
  /** Earliest and latest event time (`@timestamp`), epoch µs. */
  firstUs?: number;
  lastUs?: number;
}

export class RunSummary {
  readonly hosts = new Map<string, HostSummary>();
  /** Source gauges by family, then by their labels in a stable order (SourceContext.gauge). */
  readonly sourceGauges = new Map<SourceGaugeFamily, Map<string, { readonly labels: Readonly<Record<string, string>>; value: number }>>();

  /** Per source (state id): the problem it reported, since when (ms), or null while it reads. */
  readonly sourceHealth = new Map<string, { problem: string; since: number } | null>();

  /** Sets or clears a source's problem; called through SourceContext.health. */
  setSourceProblem(source: string, problem: string | null, now = Date.now()): void {
    const cur = this.sourceHealth.get(source);
    this.sourceHealth.set(source, problem === null ? null : { problem, since: cur ? cur.since : now });
  }

  /** Sets (or with null removes) one source gauge; called through SourceContext.gauge. */
  setGauge(family: SourceGaugeFamily, labels: Readonly<Record<string, string>>, value: number | null): void {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    let f = this.sourceGauges.get(family);
    if (!f) this.sourceGauges.set(family, (f = new Map()));
    if (value === null) f.delete(key);
    else f.set(key, { labels, value });
  }
  malformed = 0;
  readonly malformedSamples: string[] = [];

  /** Called by the pipeline for every emitted event (cheap: a few map updates). */
  add(e: LkrgEvent): void {
    const r = e.record;
    const name = r.host.ip ?? r.host.name ?? r.host.id ?? r.origin;
    let h = this.hosts.get(name);
    if (!h) {
      h = {
        host: name,
        events: 0,
        alerts: new Map(),
        stateChanges: [],
        lifecycle: new Map(),
        gaps: 0,
        missingRecords: 0,
        reboots: 0,
        duplicates: 0,
        forged: 0,
        unknown: 0,
        notices: new Map(),
      };
      this.hosts.set(name, h);
    }
    h.events++;
    const us = timestampUsOf(e);
    if (h.firstUs === undefined || us < h.firstUs) h.firstUs = us;
    if (h.lastUs === undefined || us > h.lastUs) h.lastUs = us;
    if (r.notice) {
      // a duplicate notice stands for a run of `count` dropped records
      const n = r.notice.type === 'duplicate' ? (r.notice.count ?? 1) : 1;
      h.notices.set(r.notice.type, (h.notices.get(r.notice.type) ?? 0) + n);
      if (r.notice.type === 'gap') {
        h.gaps++;
        h.missingRecords += r.notice.missing ?? 0;
      } else if (r.notice.type === 'reboot') h.reboots++;
      else if (r.notice.type === 'duplicate') h.duplicates += n;
      return;
    }
    const p = e.parsed;
    if (e.forged) h.forged++;
    if (p.templateId === 'unknown') h.unknown++;
    if (!p.isLkrg || e.forged) return;
    if (p.level === 'ALERT' || (p.style === 'legacy' && p.action)) {
      const k = `${p.action ?? '-'} ${p.category ?? '-'}`;
      h.alerts.set(k, (h.alerts.get(k) ?? 0) + 1);
    } else if (p.level === 'STATE') {
      if (h.stateChanges.length < 20) h.stateChanges.push(p.body);
    } else if (p.level === 'ALIVE' || p.level === 'DYING') {
      h.lifecycle.set(p.body, (h.lifecycle.get(p.body) ?? 0) + 1);
    }
  }

  noteMalformed(m: MalformedRecord): void {
    if (this.malformedSamples.length < 5) this.malformedSamples.push(`${m.origin}:${m.offset}: ${m.reason}`);
  }

  /** Human-readable report, one block per host. */
  format(): string {
    const lines: string[] = [];
    const hosts = [...this.hosts.values()].sort((a, b) => a.host.localeCompare(b.host));
    for (const h of hosts) {
      lines.push(`host ${h.host}: ${h.events} events${h.firstUs !== undefined ? ` (${isoFromMicros(h.firstUs)} .. ${isoFromMicros(h.lastUs!)})` : ''}`);
      const alerts = [...h.alerts.entries()].sort((a, b) => b[1] - a[1]);
      lines.push(`  alerts: ${alerts.length ? alerts.map(([k, n]) => `${k} x${n}`).join(', ') : 'none'}`);
      if (h.stateChanges.length) lines.push(`  state changes: ${h.stateChanges.join('; ')}`);
      if (h.lifecycle.size) lines.push(`  lifecycle: ${[...h.lifecycle.entries()].map(([k, n]) => `${k} x${n}`).join(', ')}`);
      lines.push(
        `  reboots ${h.reboots}, sequence gaps ${h.gaps} (${h.missingRecords} records missing), resent duplicates dropped ${h.duplicates}, forged LKRG lines ${h.forged}, unknown LKRG lines ${h.unknown}`,
      );
    }
    if (this.malformed) lines.push(`malformed input records: ${this.malformed} (kept as dead letters; first: ${this.malformedSamples.join(' | ')})`);
    return lines.join('\n');
  }

  /** Machine-readable form (for tests and --summary-json). */
  toJSON(): Record<string, unknown> {
    return {
      malformed: this.malformed,
      hosts: Object.fromEntries(
        [...this.hosts.values()].map((h) => [
          h.host,
          { ...h, alerts: Object.fromEntries(h.alerts), lifecycle: Object.fromEntries(h.lifecycle), notices: Object.fromEntries(h.notices) },
        ]),
      ),
    };
  }
}
