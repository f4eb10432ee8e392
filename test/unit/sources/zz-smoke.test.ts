import { it } from 'vitest';
import { LoggerStoreSource } from '../../../src/sources/logger-store-source.js';
it('smoke', async () => { console.log('start');
  const s = new LoggerStoreSource({ paths: ['/tmp/lk'], mode: 'replay', includeNonLkrg: true });
  const ac = new AbortController();
  for await (const b of s.read({ positions: new Map(), signal: ac.signal, log: (l, m) => console.log(l, m) })) {
    process.stderr.write('X\n'); console.log('batch', b.records.length, b.malformed.length, b.bytes, JSON.stringify(b.positions).slice(0, 300));
    for (const r of b.records) if (r.notice || r.extra) console.log(r.line, r.notice?.type, r.text, r.extra);
    for (const m of b.malformed) console.log('MAL', m);
  }
});
