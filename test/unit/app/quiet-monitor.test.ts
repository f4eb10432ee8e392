import { describe, expect, it } from 'vitest';
import { QuietMonitor, QUIET_STREAM } from '../../../src/app/quiet-monitor.js';
import type { RawRecord, RecordBatch, Source, SourceContext, SourcePosition } from '../../../src/core/types.js';

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

  it('reports the quiet host while the other hosts keep the source busy (the check does not wait for an idle source)', async () => {
    const batch = (records: RawRecord[]): RecordBatch => ({ records, malformed: [], positions: {}, bytes: 0 });
    const busy: Source = {
      id: 'busy',
      async *read(ctx: SourceContext) {
        yield batch([rec('10.0.0.1', 'LKRG: ALIVE: System is clean')]);
        // 10.0.0.2 sends something every 10 ms, so the source is never idle for a check period
        while (!ctx.signal.aborted) {
          await new Promise((r) => setTimeout(r, 10));
          yield batch([rec('10.0.0.2', 'LKRG: ALIVE: System is clean')]);
        }
      },
    };
    const mon = new QuietMonitor(busy, { quietAfterMs: 150, checkEveryMs: 40 });
    const ac = new AbortController();
    const notices: RawRecord[] = [];
    const done = (async () => {
      for await (const b of mon.read({ positions: new Map(), signal: ac.signal, log: () => {} })) notices.push(...b.records.filter((r) => r.notice));
    })();
    for (let i = 0; i < 100 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await done;
    expect(notices.map((r) => r.host.ip)).toEqual(['10.0.0.1']);
  });
});

describe('QuietMonitor across a restart', () => {
  /** A live source the test feeds batch by batch. */
  function fed(): { source: Source; push: (...ips: string[]) => void } {
    const q: RecordBatch[] = [];
    let wake: (() => void) | undefined;
    return {
      push: (...ips) => {
        q.push({ records: ips.map((ip) => rec(ip, 'LKRG: ALIVE: System is clean')), malformed: [], positions: { s: { v: 1 } }, bytes: 0 });
        wake?.();
      },
      source: {
        id: 'fed',
        async *read(ctx: SourceContext) {
          while (!ctx.signal.aborted) {
            if (q.length > 0) {
              yield q.shift()!;
              continue;
            }
            await new Promise<void>((r) => {
              wake = r;
              ctx.signal.addEventListener('abort', () => r(), { once: true });
            });
          }
        },
      },
    };
  }

  it('keeps watching the hosts it knew: one silent since before the restart is reported, counted from the restart; a reported silence is not repeated', async () => {
    let now = 5_000_000;
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 60));
    const start = (positions: Map<string, SourcePosition>) => {
      const f = fed();
      const mon = new QuietMonitor(f.source, { quietAfterMs: 60_000, checkEveryMs: 15, now: () => now });
      const ac = new AbortController();
      const seen: RecordBatch[] = [];
      const done = (async () => {
        for await (const b of mon.read({ positions, signal: ac.signal, log: () => {} })) seen.push(b);
      })();
      const quiet = (): string[] => seen.flatMap((b) => b.records.filter((r) => r.notice).map((r) => r.host.ip!));
      const stop = async (): Promise<Map<string, SourcePosition>> => {
        ac.abort();
        await done;
        const saved = new Map(positions);
        for (const b of seen) for (const [k, v] of Object.entries(b.positions)) saved.set(k, JSON.parse(JSON.stringify(v)) as SourcePosition);
        return saved;
      };
      return { push: f.push, quiet, stop };
    };
    // first run: three hosts speak; a minute later only two do: the third is reported
    const r1 = start(new Map());
    r1.push('10.0.0.1', '10.0.0.2', '10.0.0.3');
    await settle();
    now += 61_000;
    r1.push('10.0.0.1', '10.0.0.2');
    await settle();
    expect(r1.quiet()).toEqual(['10.0.0.3']);
    const saved1 = await r1.stop();
    expect(saved1.get(QUIET_STREAM)).toMatchObject({ v: 1 });

    // restart a day later: nothing at once (time counts from the restart, the backlog is still
    // being read), and 10.0.0.3's silence was reported already
    now += 86_400_000;
    const r2 = start(saved1);
    await settle();
    expect(r2.quiet()).toEqual([]);
    // a minute on, 10.0.0.1 has spoken since the restart, 10.0.0.2 has not
    now += 30_000;
    r2.push('10.0.0.1');
    await settle();
    now += 31_000;
    await settle();
    expect(r2.quiet()).toEqual(['10.0.0.2']);
    const saved2 = await r2.stop();

    // a host that speaks again is watched again after the next restart
    const r3 = start(saved2);
    r3.push('10.0.0.3');
    await settle();
    now += 61_000;
    r3.push('10.0.0.1');
    await settle();
    expect(r3.quiet()).toEqual(['10.0.0.3']);
    await r3.stop();
  });
});
