/**
 * Throughput of normalize + encode on one core: 200k events cycled from the sample corpus.
 * Target (brief): >= 200,000 events/s for ECS (toEcs + JSON.stringify). The assertion is
 * deliberately lower so a slow CI machine does not flake; the measured rate is printed.
 */
import { describe, expect, it } from 'vitest';
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
    const t0 = process.hrtime.bigint();
    const docs = new Array(events.length);
    for (let i = 0; i < N; i++) {
      const d = n.toEcs(events[i % events.length]!);
      bytes += JSON.stringify(d).length;
      if (i < events.length) docs[i] = d;
    }
    const t1 = process.hrtime.bigint();
    let cefBytes = 0;
    for (let i = 0; i < 20_000; i++) cefBytes += n.toCef(docs[i % docs.length]).length;
    const t2 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) cefBytes += n.toCef(docs[i % docs.length]).length;
    const t3 = process.hrtime.bigint();
    const ecsRate = N / (Number(t1 - t0) / 1e9);
    const cefRate = N / (Number(t3 - t2) / 1e9);
    console.log(`ECS toEcs+JSON.stringify: ${Math.round(ecsRate)} events/s (${Math.round(bytes / N)} B/doc); CEF toCef: ${Math.round(cefRate)} events/s (${Math.round(cefBytes / N / 1.1)} B/line)`);
    expect(ecsRate).toBeGreaterThan(50_000);
    expect(cefRate).toBeGreaterThan(50_000);
  });
});
