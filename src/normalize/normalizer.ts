/**
 * Facade of the normalize stage: `toEcs(event)` builds the canonical ECS 9.4 document,
 * `toEcsJson(event)` writes that document's JSON text directly (no document object) and
 * `toCef(doc)` encodes a document as a CEF:0 line. Created once per run by the forwarder
 * (src/app/normalizer-factory.ts); implements the pipeline's EventNormalizer contract.
 */
import type { EcsDocument } from '../core/output.js';
import type { LkrgEvent } from '../core/types.js';
import { CefEncoder } from './cef-encoder.js';
import { EcsNormalizer, type AgentInfo } from './ecs-normalizer.js';
import { loadMappings, type CompiledMappings, type MappingSources } from './mapping-loader.js';

export type { AgentInfo } from './ecs-normalizer.js';
export { MappingError } from './mapping-loader.js';

/** Options of {@link Normalizer}. */
export interface NormalizerOptions {
  /** data_stream.namespace (config `namespace`), default `default`. */
  readonly namespace?: string;
  /** agent.* of every document: type `lkrg-siem`, host name, forwarder version, instance id. */
  readonly agent: AgentInfo;
  /** Keep the exact input line(s) in event.original (config `keep_original`), default true. */
  readonly keepOriginal?: boolean;
  /** Mapping tables to use instead of the shipped ones (tests, custom mappings directory). */
  readonly mappings?: MappingSources | CompiledMappings;
  /** Config `tags`: added to every ECS document's tags. */
  readonly tags?: readonly string[];
  /** Config `labels`: added to every ECS document's labels (the record's own win on a clash). */
  readonly labels?: Readonly<Record<string, string>>;
}

let shared: CompiledMappings | undefined;

/** The shipped mappings, loaded and checked once per process. Throws MappingError. */
export function defaultMappings(): CompiledMappings {
  shared ??= loadMappings();
  return shared;
}

/**
 * LkrgEvent -> ECS document -> CEF line. The constructor loads and checks the mapping tables
 * (throws MappingError naming file, entry and reason); toEcs/toCef never throw.
 */
export class Normalizer {
  readonly mappings: CompiledMappings;
  private readonly ecs: EcsNormalizer;
  private readonly cef: CefEncoder;

  constructor(opts: NormalizerOptions) {
    const m = opts.mappings;
    this.mappings = m === undefined ? defaultMappings() : 'templates' in m ? m : loadMappings(m);
    this.ecs = new EcsNormalizer(this.mappings, opts);
    this.cef = new CefEncoder(this.mappings.cef);
  }

  /** Builds the ECS document of one event (see mappings/README.md for every field). */
  toEcs(event: LkrgEvent): EcsDocument {
    // a document from an upstream lkrg-siem is forwarded as it is
    const doc = event.record.document;
    if (doc !== undefined) return JSON.parse(doc.json) as EcsDocument;
    return this.ecs.toEcs(event);
  }

  /**
   * The compact JSON text of the event's ECS document, byte-identical to
   * `JSON.stringify(toEcs(event))` but written without building the document (much cheaper).
   * Called by the pipeline for every event it queues as ECS JSON. Never throws for events
   * toEcs accepts.
   */
  toEcsJson(event: LkrgEvent): string {
    return event.record.document?.json ?? this.ecs.toEcsJson(event);
  }

  /** `event.dataset` of the event's ECS document, without building it (see EcsNormalizer.datasetOf). */
  datasetOf(event: LkrgEvent): string {
    return event.record.document?.dataset ?? this.ecs.datasetOf(event);
  }

  /** `event.severity` of the event's ECS document, without building it (see EcsNormalizer.severityOf). */
  severityOf(event: LkrgEvent): number {
    return event.record.document?.severity ?? this.ecs.severityOf(event);
  }

  /** Direct and fallback counts of toEcsJson so far (bench, tests). Never throws. */
  jsonStats(): { readonly direct: number; readonly fallback: number } {
    return this.ecs.jsonStats();
  }

  /** Encodes an ECS document (from any Normalizer with the same mappings) as one CEF line. */
  toCef(doc: EcsDocument): string {
    return this.cef.encode(doc);
  }
}
