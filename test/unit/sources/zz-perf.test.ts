import { it } from 'vitest';
import { createSource } from '../../../src/sources/create-source.js';
it('perf', async () => {
  for (const inc of [false, true]) {
    const t = process.hrtime.bigint();
    let n = 0;
    const ac = new AbortController();
    for await (const b of createSource({ kind: 'logger-store', paths: ['/tmp/lkperf'], mode: 'replay', includeNonLkrg: inc, prefilter: (s) => s.includes('LKRG') }).read({ positions: new Map(), signal: ac.signal, log: () => undefined })) n += b.records.length;
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`includeNonLkrg=${inc}: 1e6 lines in ${ms.toFixed(0)} ms → ${(1e6 / ms * 1000).toFixed(0)} lines/s, ${n} records, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  }
}, 120000);
