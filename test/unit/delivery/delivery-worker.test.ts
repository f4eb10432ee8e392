import { describe, expect, it } from 'vitest';
import { StateStore } from '../../../src/state/state-store.js';
import { DeliveryWorker, type DeliverySettings } from '../../../src/delivery/delivery-worker.js';
import { OutputError, type OutputDriver, type QueuedEvent } from '../../../src/core/output.js';
import type { DeliveryResult } from '../../../src/core/types.js';
import { backoffDelay } from '../../../src/delivery/backoff.js';

// The delivery layer is tested here with a scripted in-process driver: it is a unit test of
// the shared layer's bookkeeping. Every real output is also tested against its real server.
const settings = (over: Partial<DeliverySettings['batch']> = {}, retry: Partial<DeliverySettings['retry']> = {}): DeliverySettings => ({
  batch: { max_events: 3, max_bytes: 1 << 20, max_wait_ms: 0, max_in_flight: 1, ...over },
  retry: { initial_backoff_ms: 5, max_backoff_ms: 20, max_attempts: 0, ...retry },
  queue: { max_events: 100, max_bytes: 1 << 20, when_full: 'block' },
  request_timeout_ms: 2000,
});

class ScriptedDriver implements OutputDriver {
  readonly type = 'scripted';
  readonly sent: string[][] = [];
  starts = 0;
  constructor(
    readonly name: string,
    private readonly answer: (batch: readonly QueuedEvent[], call: number) => DeliveryResult[] | Promise<DeliveryResult[]>,
    private readonly onStart: (n: number) => void = () => {},
  ) {}
  async start(): Promise<void> {
    this.onStart(++this.starts);
  }
  async send(batch: readonly QueuedEvent[]): Promise<DeliveryResult[]> {
    this.sent.push(batch.map((e) => e.id));
    return this.answer(batch, this.sent.length);
  }
  async close(): Promise<void> {}
}

function queue(store: StateStore, output: string, ids: string[]): void {
  store.commitBatch({
    sourceId: 's',
    positions: {},
    queued: new Map([[output, ids.map((id) => ({ eventId: id, key: 'h', dataset: 'lkrg.alert', namespace: 'default', payload: JSON.stringify({ event: { id } }) }))]]),
  });
}

const quiet = () => {};

describe('DeliveryWorker', () => {
  it('delivers in batches of max_events, oldest first, and empties the queue', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b', 'c', 'd', 'e']);
    const d = new ScriptedDriver('o', (b) => b.map(() => ({ status: 'delivered' })));
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(d.sent).toEqual([['a', 'b', 'c'], ['d', 'e']]);
    expect(store.queueStats('o').depth).toBe(0);
    expect(store.counters().get('o')?.get('delivered')).toBe(5);
  });

  it('retries only the events the output asked to retry, and dead-letters rejected ones with the reason', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b', 'c']);
    const d = new ScriptedDriver('o', (b, call) =>
      b.map((e) => {
        if (e.id === 'b') return { status: 'rejected', reason: 'mapper_parsing_exception: failed to parse [process.pid]' };
        if (e.id === 'c' && call === 1) return { status: 'retry', reason: 'es_rejected_execution_exception' };
        return { status: 'delivered' };
      }),
    );
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(d.sent).toEqual([['a', 'b', 'c'], ['c']]);
    const dead = store.listDeadLetters({ output: 'o' });
    expect(dead.map((x) => [x.eventId, x.reason])).toEqual([['b', 'mapper_parsing_exception: failed to parse [process.pid]']]);
    expect(store.counters().get('o')).toEqual(new Map([['delivered', 2], ['rejected', 1], ['retried', 1]]));
  });

  it('honours a server Retry-After longer than the backoff', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a']);
    const times: number[] = [];
    const d = new ScriptedDriver('o', (b, call) => {
      times.push(Date.now());
      return b.map(() => (call === 1 ? { status: 'retry', reason: '429', retryAfterMs: 300 } : { status: 'delivered' }));
    });
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(290);
  });

  it('gives up after max_attempts and keeps the last reason', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a']);
    const d = new ScriptedDriver('o', () => {
      throw new OutputError('connect ECONNREFUSED 127.0.0.1:9', { retriable: true });
    });
    const w = new DeliveryWorker(store, d, settings({}, { max_attempts: 3 }), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(d.sent).toHaveLength(3);
    const dead = store.listDeadLetters({ output: 'o' });
    expect(dead[0]!.reason).toBe('gave up after 3 attempts: connect ECONNREFUSED 127.0.0.1:9');
    expect(dead[0]!.attempts).toBe(3);
  });

  it('halts on a fatal error, keeps the queue, and resumes when the output works again', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b']);
    let broken = true;
    const logs: string[] = [];
    const d = new ScriptedDriver(
      'o',
      (b) => b.map(() => ({ status: 'delivered' })),
      () => {
        if (broken) throw new OutputError('output o: SASL authentication failed for user "lkrg"', { retriable: false, fatal: true });
      },
    );
    const w = new DeliveryWorker(store, d, settings(), (_l, m) => logs.push(m), 50);
    w.start();
    await new Promise((r) => setTimeout(r, 120));
    expect(w.status.state).toBe('halted');
    expect(w.status.lastError).toContain('SASL authentication failed');
    expect(store.queueStats('o').depth).toBe(2);
    expect(logs.filter((m) => m.includes('HALTED'))).toHaveLength(1);
    broken = false;
    await new Promise((r) => setTimeout(r, 150));
    await w.drain();
    await w.stop(Date.now());
    expect(store.queueStats('o').depth).toBe(0);
    expect(d.sent.flat()).toEqual(['a', 'b']);
  });

  it('keeps order with max_in_flight 1 even when the head batch is retried', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b', 'c', 'd', 'e', 'f']);
    const d = new ScriptedDriver('o', (b, call) => b.map(() => (call === 1 ? { status: 'retry', reason: 'NOT_LEADER' } : { status: 'delivered' })));
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(d.sent).toEqual([['a', 'b', 'c'], ['a', 'b', 'c'], ['d', 'e', 'f']]);
  });

  it('reads the next full batch while the slots are busy, and sends it in order when one frees', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    const reads: { limit: number; inFlight: number }[] = [];
    let inFlight = 0;
    const queueHead = store.queueHead.bind(store);
    store.queueHead = (output, limit, after) => {
      reads.push({ limit, inFlight });
      return queueHead(output, limit, after);
    };
    const d = new ScriptedDriver('o', async (b) => {
      inFlight++;
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return b.map(() => ({ status: 'delivered' }));
    });
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(d.sent).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g', 'h', 'i']]);
    // the 2nd and 3rd batches were read while a request was in flight, one batch of rows per read
    expect(reads.filter((r) => r.inFlight > 0).length).toBeGreaterThanOrEqual(2);
    expect(reads.every((r) => r.limit === 3)).toBe(true);
    expect(store.queueStats('o').depth).toBe(0);
  });

  it('never lets a batch read ahead overtake retried events (max_in_flight 1)', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    const d = new ScriptedDriver('o', async (b, call) => {
      await new Promise((r) => setTimeout(r, 10));
      return b.map((e) => (call === 2 && e.id === 'e' ? { status: 'retry', reason: 'NOT_LEADER' } : { status: 'delivered' }));
    });
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await w.drain();
    await w.stop(Date.now());
    expect(d.sent).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['e', 'g', 'h'], ['i']]);
  });

  it('sends a partial batch at once when draining instead of waiting max_wait_ms', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a', 'b']);
    const d = new ScriptedDriver('o', (b) => b.map(() => ({ status: 'delivered' })));
    const w = new DeliveryWorker(store, d, settings({ max_wait_ms: 60_000 }), quiet);
    w.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(d.sent).toEqual([]); // a live source may still add events: the partial batch waits
    const t0 = Date.now();
    await w.drain();
    await w.stop(Date.now());
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(d.sent).toEqual([['a', 'b']]);
  });

  it('aborts an in-flight send at the shutdown deadline and leaves it queued', async () => {
    const store = new StateStore(':memory:');
    queue(store, 'o', ['a']);
    const d = new ScriptedDriver('o', () => new Promise<DeliveryResult[]>(() => {}));
    const w = new DeliveryWorker(store, d, settings(), quiet);
    w.start();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await w.stop(Date.now() + 100);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(store.queueStats('o').depth).toBe(1);
  });
});

describe('the queue the worker reads', () => {
  it('keeps commit order and byte counts for batches larger than one multi-row insert', () => {
    const store = new StateStore(':memory:');
    const ids = Array.from({ length: 61 }, (_, i) => `e${i}-\u00e9`);
    queue(store, 'o', ids);
    queue(store, 'p', ['x']);
    const rows = store.queueHead('o', 100);
    expect(rows.map((r) => r.eventId)).toEqual(ids);
    expect(rows.every((r, i) => i === 0 || r.rowid > rows[i - 1]!.rowid)).toBe(true);
    expect(rows.map((r) => r.bytes)).toEqual(ids.map((id) => Buffer.byteLength(JSON.stringify({ event: { id } }))));
    expect(store.queueStats('o').depth).toBe(61);
    expect(store.queueHead('p', 10).map((r) => r.eventId)).toEqual(['x']);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with full jitter and a cap', () => {
    const r = { initial_backoff_ms: 100, max_backoff_ms: 1000 };
    expect(backoffDelay(1, r, () => 0.999)).toBe(99);
    expect(backoffDelay(3, r, () => 0.999)).toBe(399);
    expect(backoffDelay(10, r, () => 0.999)).toBe(999);
    expect(backoffDelay(10, r, () => 0)).toBe(0);
  });
});
