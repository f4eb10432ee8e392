/**
 * Which events one output gets (config `outputs[].filter`): for example only LKRG alerts to a
 * SIEM licensed by volume, everything to the archive. The pipeline applies it before it writes a
 * sink or queues for a delivery output, in the same transaction as always, so a left-out event
 * costs that output nothing and the other outputs still get it.
 */
import type { FieldSpec } from '../config/config-spec.js';
import { ConfigError, type LkrgEvent } from '../core/types.js';
import type { EventNormalizer } from './pipeline.js';

/** A point in time for `since` / `until`: a date, or a date and time (UTC unless a zone is given). */
export const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const TIME_HINT = 'an RFC 3339 time such as 2026-11-01T00:00:00Z, or a date such as 2026-11-01 (UTC unless a zone is given)';

/**
 * Epoch µs of a `since` / `until` value (TIME_PATTERN). Throws a ConfigError naming `key` for a
 * value that does not match or names no real time. Used by the filter and the replay flags.
 */
export function parseTimeBound(key: string, value: string): number {
  if (!TIME_PATTERN.test(value)) throw new ConfigError(key, value, TIME_HINT);
  let v = value.replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) v += 'T00:00:00Z';
  else if (!/(?:Z|[+-]\d{2}:?\d{2})$/.test(v)) v += 'Z';
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new ConfigError(key, value, TIME_HINT);
  const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
  return ms * 1000 + (frac.length > 3 ? Number(frac.slice(3, 6).padEnd(3, '0')) : 0);
}

/** The `filter` key every output takes (spec: validation, defaults and the docs). */
export const filterField: FieldSpec = {
  kind: 'object',
  desc: 'Which events this output gets (default: every event). An event must pass every key.',
  fields: {
    datasets: {
      kind: 'string_list',
      desc: 'event.dataset values to deliver: lkrg.alert holds LKRG alerts and forged LKRG lines, lkrg.log the other LKRG messages, stream notices (gaps, reboots, ...) and non-LKRG kernel lines. Unset: both.',
      enum: ['lkrg.alert', 'lkrg.log'],
      minItems: 1,
    },
    min_severity: { kind: 'int', desc: 'Deliver only events whose event.severity (0-10) is at least this.', default: 0, min: 0, max: 10 },
    kernel_lines: { kind: 'bool', desc: 'Deliver the non-LKRG kernel lines that include_non_lkrg forwards.', default: true },
    since: { kind: 'string', desc: 'Deliver only events whose own time (the kernel message time the source rebuilt) is at or after this: an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01), UTC unless a zone is given. Events whose time is unknown (plain dmesg without a wall clock) pass.', pattern: TIME_PATTERN, patternHint: TIME_HINT },
    until: { kind: 'string', desc: 'Deliver only events whose own time is before this (same forms as since).', pattern: TIME_PATTERN, patternHint: TIME_HINT },
  },
};

/**
 * A compiled output filter. Built by {@link EventFilter.fromConfig}; called by the pipeline for
 * every event of a batch and every output that has one. Never throws.
 */
export class EventFilter {
  private constructor(
    private readonly datasets: ReadonlySet<string> | null,
    private readonly minSeverity: number,
    private readonly kernelLines: boolean,
    private readonly sinceUs: number,
    private readonly untilUs: number,
  ) {}

  /**
   * The filter of a validated `filter` section, or undefined when it lets every event through.
   * `key` names the section in errors (a ConfigError for a `since`/`until` that names no time).
   */
  static fromConfig(section: unknown, key = 'filter'): EventFilter | undefined {
    if (typeof section !== 'object' || section === null) return undefined;
    const s = section as { datasets?: readonly string[]; min_severity?: number; kernel_lines?: boolean; since?: string; until?: string };
    const datasets = s.datasets && s.datasets.length > 0 ? new Set(s.datasets) : null;
    const minSeverity = s.min_severity ?? 0;
    const kernelLines = s.kernel_lines ?? true;
    const since = s.since !== undefined ? parseTimeBound(`${key}.since`, s.since) : -Infinity;
    const until = s.until !== undefined ? parseTimeBound(`${key}.until`, s.until) : Infinity;
    if (since >= until) throw new ConfigError(`${key}.until`, s.until, `must be later than since (${s.since})`);
    if (datasets === null && minSeverity <= 0 && kernelLines && since === -Infinity && until === Infinity) return undefined;
    return new EventFilter(datasets, minSeverity, kernelLines, since, until);
  }

  /** True when the output gets `e`; `normalizer` tells the dataset and severity of its document. */
  passes(e: LkrgEvent, normalizer: EventNormalizer): boolean {
    if (this.sinceUs !== -Infinity || this.untilUs !== Infinity) {
      const t = eventTimeUs(e);
      if (t !== null && (t < this.sinceUs || t >= this.untilUs)) return false;
    }
    if (!this.kernelLines && isKernelLine(e)) return false;
    if (this.datasets !== null && !this.datasets.has(normalizer.datasetOf(e))) return false;
    return this.minSeverity <= 0 || normalizer.severityOf(e) >= this.minSeverity;
  }
}

/** A non-LKRG kernel line (include_non_lkrg), not a stream notice; forwarded documents say so themselves. */
function isKernelLine(e: LkrgEvent): boolean {
  const doc = e.record.document;
  if (doc !== undefined) return doc.kernelLine;
  return !e.parsed.isLkrg && e.record.notice === undefined && !e.forged;
}

/**
 * The event's own time in epoch µs (the kernel message time the source rebuilt, or the time the
 * record was received), null when the source could not tell it (plain dmesg uptime).
 */
function eventTimeUs(e: LkrgEvent): number | null {
  const r = e.record;
  if (r.timeUs !== null && Number.isFinite(r.timeUs)) return r.timeUs;
  if (r.receivedUs !== undefined && Number.isFinite(r.receivedUs)) return r.receivedUs;
  return null;
}
