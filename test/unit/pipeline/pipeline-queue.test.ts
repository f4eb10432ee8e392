import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPipeline } from '../../../src/pipeline/pipeline.js';
import { StateStore } from '../../../src/state/state-store.js';
import { EventAssembler } from '../../../src/parse/event-assembler.js';
import { createNormalizer } from '../../../src/app/normalizer-factory.js';
import { sourcesFromPaths } from '../../../src/app/source-factory.js';

const samples = fileURLToPath(new URL('../../../../shared/samples/', import.meta.url));

describe('pipeline → queue', () => {
  it('queues each event with its dataset and namespace exactly as its document says', async () => {
    const store = new StateStore(join(mkdtempSync(join(tmpdir(), 'lkrg-pipe-')), 'state.db'));
    const normalizer = createNormalizer({ namespace: 'prod_eu', keepOriginal: true });
    await runPipeline({
      store,
      sources: sourcesFromPaths([join(samples, 'samples-dmesg.txt')], { input: 'auto', replayId: 't' }).map((s) => ({ source: s.source, stateId: 't' })),
      makeAssembler: () => new EventAssembler({ includeNonLkrg: false }),
      normalizer,
      sinks: [],
      queues: [{ name: 'o', maxEvents: 1e6, maxBytes: 1e9, whenFull: 'block' }],
      signal: new AbortController().signal,
      log: () => {},
    });
    const rows = store.queueHead('o', 1e6);
    expect(rows.length).toBeGreaterThan(10);
    const datasets = new Set<string>();
    for (const r of rows) {
      const doc = JSON.parse(r.payload) as { event: { dataset: string }; data_stream: { namespace: string; dataset: string } };
      expect(r.namespace).toBe(doc.data_stream.namespace);
      expect(r.namespace).toBe('prod_eu');
      expect(r.dataset).toBe(doc.event.dataset);
      datasets.add(r.dataset);
    }
    expect([...datasets].sort()).toEqual(['lkrg.alert', 'lkrg.log']);
    store.close();
  });
});
