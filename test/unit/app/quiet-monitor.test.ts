import { describe, expect, it } from 'vitest';
import { QuietMonitor } from '../../../src/app/quiet-monitor.js';
import type { RawRecord, RecordBatch, Source, SourceContext } from '../../../src/core/types.js';

function rec(ip: string, text: string, kernelOrigin = true): RawRecord {
  return { streamId: `logger:${ip}`, origin: ip, offset: 0, container: 'logger', original: text, text, host: { ip }, timeUs: 0, kernelOrigin };
}

/** A live source that yields the given batches, then waits until aborted. */
function scripted(batches: RecordBatch[]): Source {
  return {
    id: 'scripted',
    async *read(ctx: SourceContext) {
      for (const b of batches) yield b;
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
    },
  };
}

describe('QuietMonitor', () => {
  it('reports a host whose LKRG went quiet once per silence; forged lines do not count as signs of life', async () => {
    let now = 1_000_000;
    const batch = (records: RawRecord[]): RecordBatch => ({ records, malformed: [], positions: {}, bytes: 0 });
    const inner = scripted([
      batch([rec('10.0.0.1', 'LKRG: ALIVE: System is clean'), rec('10.0.0.2', 'LKRG: ALIVE: System is clean'), rec('10.0.0.3', 'audit: x'), rec('10.0.0.4', 'LKRG: ALIVE: System is clean', false)]),
    ]);
    const mon = new QuietMonitor(inner, { quietAfterMs: 60_000, checkEveryMs: 20, now: () => now });
    const ac = new AbortController();
    const seen: RawRecord[] = [];
    const done = (async () => {
      for await (const b of mon.read({ positions: new Map(), signal: ac.signal, log: () => {} })) seen.push(...b.records);
    })();
    await new Promise((r) => setTimeout(r, 60));
    expect(seen.filter((r) => r.notice)).toHaveLength(0);
    now += 61_000;
    await new Promise((r) => setTimeout(r, 80));
    const notices = seen.filter((r) => r.notice);
    expect(notices.map((r) => r.host.ip).sort()).toEqual(['10.0.0.1', '10.0.0.2']); // 10.0.0.3 never spoke LKRG, 10.0.0.4 only forged
    expect(notices[0]!.notice!.type).toBe('quiet');
    expect(notices[0]!.notice!.detail).toMatch(/went quiet: no LKRG message for 61 s/);
    now += 120_000;
    await new Promise((r) => setTimeout(r, 80));
    expect(seen.filter((r) => r.notice)).toHaveLength(2); // once per silence
    ac.abort();
    await done;
  });
});
