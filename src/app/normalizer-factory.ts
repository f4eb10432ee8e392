/**
 * Builds the pipeline's normalizer (ECS document + CEF line) with this forwarder's agent
 * identity. Called once per run by the forwarder.
 */
import { hostname } from 'node:os';
import type { EventNormalizer } from '../pipeline/pipeline.js';
import { Normalizer } from '../normalize/normalizer.js';
import { toCef } from '../normalize/cef-encoder.js';
import { ecsToJson } from '../normalize/ecs-json.js';
import { VERSION } from '../version.js';

export function createNormalizer(opts: { namespace: string; keepOriginal: boolean }): EventNormalizer {
  const n = new Normalizer({
    namespace: opts.namespace,
    keepOriginal: opts.keepOriginal,
    agent: { type: 'lkrg-siem', name: hostname(), version: VERSION },
  });
  return { toEcs: (e) => n.toEcs(e), toJson: (d) => ecsToJson(d), toCef: (d) => toCef(d) };
}
