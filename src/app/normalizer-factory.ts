/**
 * Builds the pipeline's normalizer (ECS document, its JSON text, CEF line) with this
 * forwarder's agent identity. Called once per run by the forwarder.
 */
import { hostname } from 'node:os';
import type { EventNormalizer } from '../pipeline/pipeline.js';
import { Normalizer } from '../normalize/normalizer.js';
import { toCef } from '../normalize/cef-encoder.js';
import { ecsToJson } from '../normalize/ecs-json.js';
import { VERSION } from '../version.js';

/** The pipeline's EventNormalizer (kept as a name for the bench and tests). */
export type EcsJsonNormalizer = EventNormalizer;

/**
 * The normalizer of one run: `toEcs`/`toJson`/`toCef` as the pipeline's EventNormalizer, and
 * `toEcsJson(event)` (= toJson(toEcs(event)), several times cheaper). Called once per run by
 * the forwarder (and the bench). Throws MappingError when the shipped mapping tables are broken.
 */
export function createNormalizer(opts: {
  namespace: string;
  keepOriginal: boolean;
  tags?: readonly string[] | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
}): EcsJsonNormalizer {
  const n = new Normalizer({
    namespace: opts.namespace,
    keepOriginal: opts.keepOriginal,
    ...(opts.tags ? { tags: opts.tags } : {}),
    ...(opts.labels ? { labels: opts.labels } : {}),
    agent: { type: 'lkrg-siem', name: hostname(), version: VERSION },
  });
  return {
    toEcs: (e) => n.toEcs(e),
    toEcsJson: (e) => n.toEcsJson(e),
    datasetOf: (e) => n.datasetOf(e),
    severityOf: (e) => n.severityOf(e),
    namespace: opts.namespace,
    toJson: (d) => ecsToJson(d),
    toCef: (d) => toCef(d),
  };
}
