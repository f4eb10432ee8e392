/**
 * Throughput of normalize + encode on one core: 200k events cycled from the sample corpus.
 * Target (brief): >= 200,000 events/s for ECS (toEcs + JSON.stringify). Rates are computed per
 * CPU-second of this process (the shared test machine is heavily loaded, wall time is not
 * meaningful) and printed; the assertion is only a gross-regression guard.
 */
import { describe, expect, it } from 'vitest';
import { ecsToJson } from '../../../src/normalize/ecs-json.js';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { eventFromRow, readExpectedRows } from './sample-events.js';

describe('throughput', () => {
  it('ECS and CEF rates over 200k sample events', () => {
    const n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'c1', version: '0.1.0' } });
    const rows = readExpectedRows().filter((r) => r.message !== undefined);
    const events = rows.map((r, i) => eventFromRow(r, i));
    const N = 200_000;
    // warm up
    for (let i = 0; i < 20_000; i++) JSON.stringify(n.toEcs(events[i % events.length]!));
    let bytes = 0;
    const cpu = (): number => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };
    const t0 = cpu();
    const docs = new Array(events.length);
    for (let i = 0; i < N; i++) {
      const d = n.toEcs(events[i % events.length]!);
      bytes += JSON.stringify(d).length;
      if (i < events.length) docs[i] = d;
    }
    const t1 = cpu();
    for (let i = 0; i < N; i++) bytes += ecsToJson(n.toEcs(events[i % events.length]!)).length;
    const t1b = cpu();
    let cefBytes = 0;
    for (let i = 0; i < 20_000; i++) cefBytes += n.toCef(docs[i % docs.length]).length;
    const t2 = cpu();
    for (let i = 0; i < N; i++) cefBytes += n.toCef(docs[i % docs.length]).length;
    const t3 = cpu();
    const ecsRate = N / (t1 - t0);
    const fastRate = N / (t1b - t1);
    const cefRate = N / (t3 - t2);
    console.log(`ECS toEcs+JSON.stringify: ${Math.round(ecsRate)} events/CPU-s (${Math.round(bytes / N / 2)} B/doc); toEcs+ecsToJson: ${Math.round(fastRate)} events/CPU-s; CEF toCef: ${Math.round(cefRate)} events/CPU-s (${Math.round(cefBytes / N / 1.1)} B/line)`);
    expect(ecsRate).toBeGreaterThan(10_000);
    expect(cefRate).toBeGreaterThan(10_000);
  });
});
