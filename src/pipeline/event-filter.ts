/**
 * Which events one output gets (config `outputs[].filter`): for example only LKRG alerts to a
 * SIEM licensed by volume, everything to the archive. The pipeline applies it before it writes a
 * sink or queues for a delivery output, in the same transaction as always, so a left-out event
 * costs that output nothing and the other outputs still get it.
 */
import type { FieldSpec } from '../config/config-spec.js';
import type { LkrgEvent } from '../core/types.js';
import type { EventNormalizer } from './pipeline.js';

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
  ) {}

  /** The filter of a validated `filter` section, or undefined when it lets every event through. */
  static fromConfig(section: unknown): EventFilter | undefined {
    if (typeof section !== 'object' || section === null) return undefined;
    const s = section as { datasets?: readonly string[]; min_severity?: number; kernel_lines?: boolean };
    const datasets = s.datasets && s.datasets.length > 0 ? new Set(s.datasets) : null;
    const minSeverity = s.min_severity ?? 0;
    const kernelLines = s.kernel_lines ?? true;
    if (datasets === null && minSeverity <= 0 && kernelLines) return undefined;
    return new EventFilter(datasets, minSeverity, kernelLines);
  }

  /** True when the output gets `e`; `normalizer` tells the dataset and severity of its document. */
  passes(e: LkrgEvent, normalizer: EventNormalizer): boolean {
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
