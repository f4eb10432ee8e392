/**
 * The shared delivery layer for queued outputs: reads the output's durable queue in the
 * state file, forms batches by count, bytes and time, keeps up to `max_in_flight` requests
 * in flight, enforces the request timeout, and applies each event's result: delivered rows
 * are deleted, rejected rows become dead letters, retried rows wait for an exponential
 * backoff with full jitter (or the server's Retry-After, whichever is longer). A fatal
 * driver error (bad credentials, untrusted certificate) halts the output loudly and keeps
 * its queue; the worker probes the driver again every `fatal_probe_ms`.
 */
import type { DeliveryResult } from '../core/types.js';
import { OutputError, type OutputDriver, type QueuedEvent } from '../core/output.js';
import type { QueueRow, StateStore } from '../state/state-store.js';
import { backoffDelay } from './backoff.js';

/** Delivery settings of one output (the `queue`, `batch`, `retry` config sections). */
export interface DeliverySettings {
  readonly batch: { readonly max_events: number; readonly max_bytes: number; readonly max_wait_ms: number; readonly max_in_flight: number };
  readonly retry: { readonly initial_backoff_ms: number; readonly max_backoff_ms: number; readonly max_attempts: number };
  readonly queue: { readonly max_events: number; readonly max_bytes: number; readonly when_full: 'block' | 'drop_oldest' };
  readonly request_timeout_ms: number;
}

/** What `status` shows per output. */
export interface WorkerStatus {
  state: 'starting' | 'running' | 'halted' | 'stopped';
  /** Set when the output was halted by a fatal (configuration) error during this run. */
  fatalError?: string;
  lastError?: string;
  lastErrorAt?: number;
  /** When a request last delivered at least one event (epoch ms). */
  lastDeliveredAt?: number;
  inFlight: number;
}

/**
 * One worker per queued output, created by the CLI's run/replay commands. `start()` begins
 * delivering; `notifyQueued()` is called by the pipeline after each commit; `drain()` waits
 * until the queue is empty (replay); `stop(deadline)` stops intake of new batches, waits for
 * in-flight requests until the deadline, then aborts them (their rows stay queued).
 */
export class DeliveryWorker {
  readonly status: WorkerStatus = { state: 'starting', inFlight: 0 };
  /** Events (and payload bytes) that left the queue through this worker: delivered or dead-lettered. */
  readonly settled = { events: 0, bytes: 0 };
  /** Called after `status` or `settled` changed (a delivery thread mirrors them to the main thread). */
  onChange: (() => void) | undefined;
  private depthEvents: number;
  private depthBytes: number;
  /** Rows being sent, and the rows of the prefetched batch: never read into another batch. */
  private readonly inFlightRows = new Set<number>();
  private cursor = 0;
  private stopping = false;
  /** Set by drain(): the sources are done, so a partial batch has nothing to wait for. */
  private draining = false;
  /**
   * The next full batch, read from the queue while every request slot was busy, so that it
   * goes out the moment a slot frees instead of after a queue read. Its rows are reserved in
   * inFlightRows; it is given back (unreserved) whenever a retry moves the cursor back, so it
   * can never overtake retried events.
   */
  private prefetched: QueueRow[] | undefined;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private lastStartError: string | undefined;

  constructor(
    private readonly store: StateStore,
    readonly driver: OutputDriver,
    private readonly settings: DeliverySettings,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
    private readonly fatalProbeMs = 30_000,
    initialDepth?: { readonly events: number; readonly bytes: number },
  ) {
    // A delivery thread is given the depth its owner measured when it started the thread: the
    // pipeline may have queued (and announced) more events since, which must not count twice.
    if (initialDepth) {
      this.depthEvents = initialDepth.events;
      this.depthBytes = initialDepth.bytes;
    } else {
      const s = store.queueStats(driver.name);
      this.depthEvents = s.depth;
      this.depthBytes = s.bytes;
    }
  }

  get name(): string {
    return this.driver.name;
  }

  /** In-memory queue depth (events, bytes) for back-pressure; exact, kept in step with the store. */
  depth(): { events: number; bytes: number } {
    return { events: this.depthEvents, bytes: this.depthBytes };
  }

  notifyQueued(count: number, bytes = 0): void {
    this.depthEvents += count;
    this.depthBytes += bytes;
    this.wake();
  }

  /** Re-reads depth from the store (after drops or dlq replays). */
  refreshDepth(): void {
    const s = this.store.queueStats(this.driver.name);
    this.depthEvents = s.depth;
    this.depthBytes = s.bytes;
    this.wake();
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Resolves once the queue is empty and nothing is in flight (or the worker stopped/halted). */
  async drain(): Promise<void> {
    this.draining = true;
    this.wake();
    while (!this.stopping && this.status.state !== 'halted') {
      if (this.depthEvents <= 0 && this.pending.size === 0) {
        const s = this.store.queueStats(this.driver.name);
        if (s.depth === 0) return;
        this.depthEvents = s.depth;
        this.depthBytes = s.bytes;
      }
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  /** Graceful stop: no new batches; in-flight ones get until `deadlineMs` (epoch ms). */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.dropPrefetched();
    this.wake();
    const all = Promise.all([...this.pending]);
    const left = Math.max(0, deadlineMs - Date.now());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
    this.abort.abort(new Error('shutdown'));
    await this.loopDone?.catch(() => undefined);
    await Promise.allSettled([...this.pending]);
    this.status.state = 'stopped';
    await this.driver.close().catch((err: unknown) => this.log('warn', `Output ${this.name}: close failed: ${String(err)}.`));
    this.onChange?.();
    this.notifyIdle();
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private notifyIdle(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      const self = this;
      function done() {
        clearTimeout(t);
        if (self.wakeUp === done) self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private maxInFlight(): number {
    return Math.max(1, Math.min(this.settings.batch.max_in_flight, this.driver.maxInFlight ?? Infinity));
  }

  private async startDriver(): Promise<boolean> {
    try {
      await this.driver.start(AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.settings.request_timeout_ms)]));
      if (this.status.state !== 'running') this.log('info', `Output ${this.name}: started.`);
      this.status.state = 'running';
      this.status.fatalError = undefined;
      this.onChange?.();
      return true;
    } catch (err) {
      this.recordError(err);
      if (err instanceof OutputError && err.fatal) {
        this.halt(err);
      } else if (this.lastStartError !== errorText(err)) {
        // once per condition, not once per attempt
        this.lastStartError = errorText(err);
        this.log('warn', `Output ${this.name}: cannot start yet (${this.lastStartError}); retrying with backoff.`);
      }
      return false;
    }
  }

  private halt(err: unknown): void {
    if (this.status.state !== 'halted') {
      this.log('error', `Output ${this.name}: HALTED by a configuration error: ${errorText(err)}. Events stay queued; fix the configuration and restart.`);
    }
    this.status.state = 'halted';
    this.status.fatalError = errorText(err);
    this.dropPrefetched();
    this.onChange?.();
    this.notifyIdle();
  }

  private recordError(err: unknown): void {
    this.status.lastError = errorText(err);
    this.status.lastErrorAt = Date.now();
    this.onChange?.();
  }

  private async loop(): Promise<void> {
    let startAttempt = 0;
    while (!this.stopping && !(await this.startDriver())) {
      startAttempt++;
      const delay = this.status.state === 'halted' ? this.fatalProbeMs : backoffDelay(startAttempt, this.settings.retry);
      await this.sleep(delay);
    }
    while (!this.stopping) {
      if (this.status.state === 'halted') {
        await this.sleep(this.fatalProbeMs);
        if (!this.stopping && (await this.startDriver())) this.cursor = 0;
        continue;
      }
      if (this.pending.size >= this.maxInFlight()) {
        // every slot is busy: read the next batch now, so it is sent as soon as one frees
        this.prefetch();
        await Promise.race(this.pending);
        continue;
      }
      let rows = this.prefetched;
      this.prefetched = undefined;
      if (!rows) {
        const next = this.nextBatch();
        if (next.kind === 'wait') {
          if (this.pending.size === 0 && this.depthEvents <= 0) this.notifyIdle();
          await this.sleep(next.ms);
          continue;
        }
        rows = next.rows;
      }
      const p = this.send(rows).finally(() => {
        this.pending.delete(p);
        this.wake();
        if (this.pending.size === 0 && this.depthEvents <= 0) this.notifyIdle();
      });
      this.pending.add(p);
    }
  }

  /** Reads and reserves the next batch while every slot is busy, when it is already full. */
  private prefetch(): void {
    if (this.prefetched || this.stopping || this.status.state !== 'running') return;
    const next = this.nextBatch();
    if (next.kind !== 'send' || !this.isFull(next.rows)) return; // a partial batch may still grow
    this.reserve(next.rows);
    this.prefetched = next.rows;
  }

  /** Gives the prefetched batch back to the queue (it is read again later, in order). */
  private dropPrefetched(): void {
    const rows = this.prefetched;
    if (!rows) return;
    this.prefetched = undefined;
    for (const r of rows) this.inFlightRows.delete(r.rowid);
    this.cursor = Math.min(this.cursor, rows[0]!.rowid - 1);
  }

  private reserve(rows: readonly QueueRow[]): void {
    for (const r of rows) this.inFlightRows.add(r.rowid);
    this.cursor = Math.max(this.cursor, rows[rows.length - 1]!.rowid);
  }

  private isFull(rows: readonly QueueRow[]): boolean {
    const { max_events, max_bytes } = this.settings.batch;
    if (rows.length >= max_events) return true;
    let bytes = 0;
    for (const r of rows) bytes += r.bytes;
    return bytes >= max_bytes * 0.9;
  }

  private nextBatch(): { kind: 'send'; rows: QueueRow[] } | { kind: 'wait'; ms: number } {
    const { max_events, max_bytes, max_wait_ms } = this.settings.batch;
    const flush = this.stopping || this.draining;
    // A partial batch that may still wait for more events: decide that from the head row's
    // metadata, without copying a batch of payloads out of the database on every wake-up.
    if (!flush && this.inFlightRows.size === 0 && this.depthEvents < max_events && this.depthBytes < max_bytes * 0.9) {
      const head = this.store.queueHeadMeta(this.driver.name, this.cursor);
      if (!head) {
        if (this.cursor > 0) {
          this.cursor = 0;
          return { kind: 'wait', ms: 0 };
        }
        return { kind: 'wait', ms: 1000 };
      }
      const age = Date.now() - head.enqueuedAt;
      if (head.attempts === 0 && age < max_wait_ms) return { kind: 'wait', ms: max_wait_ms - age };
    }
    // Rows in flight (or prefetched) lie at or below the cursor unless a retry moved it back:
    // read only as many more rows as may have to be skipped, not one batch per request slot.
    let ahead = 0;
    for (const id of this.inFlightRows) if (id > this.cursor) ahead++;
    const candidates = this.store.queueHead(this.driver.name, max_events + ahead, this.cursor);
    const now = Date.now();
    const rows: QueueRow[] = [];
    let bytes = 0;
    for (const r of candidates) {
      if (this.inFlightRows.has(r.rowid)) continue;
      if (r.nextAt > now) {
        if (rows.length === 0) return { kind: 'wait', ms: Math.min(r.nextAt - now, 1000) };
        break;
      }
      if (rows.length > 0 && bytes + r.bytes > max_bytes) break;
      rows.push(r);
      bytes += r.bytes;
      if (rows.length >= max_events) break;
    }
    if (rows.length === 0) {
      if (this.cursor > 0 && candidates.length === 0 && this.inFlightRows.size === 0) {
        this.cursor = 0; // re-scan from the head (retried rows) next time
        return { kind: 'wait', ms: 0 };
      }
      return { kind: 'wait', ms: 1000 };
    }
    const full = rows.length >= max_events || bytes >= max_bytes * 0.9;
    const age = now - rows[0]!.enqueuedAt;
    if (!full && !flush && age < max_wait_ms && rows[0]!.attempts === 0) {
      return { kind: 'wait', ms: max_wait_ms - age };
    }
    return { kind: 'send', rows };
  }

  private async send(rows: QueueRow[]): Promise<void> {
    this.reserve(rows);
    this.status.inFlight = this.pending.size + 1;
    const events: QueuedEvent[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = new StoredEvent(rows[i]!);
    let results: DeliveryResult[];
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.settings.request_timeout_ms)]);
      results = await untilAborted(this.driver.send(events, signal), signal);
      if (results.length !== rows.length) {
        throw new OutputError(`driver returned ${results.length} results for ${rows.length} events`, { retriable: true });
      }
    } catch (err) {
      this.recordError(err);
      if (err instanceof OutputError && err.fatal) {
        this.halt(err);
        results = rows.map(() => ({ status: 'retry', reason: errorText(err) }));
      } else if (err instanceof OutputError && !err.retriable) {
        results = rows.map(() => ({ status: 'rejected', reason: errorText(err) }));
      } else {
        const retryAfterMs = err instanceof OutputError ? err.retryAfterMs : undefined;
        results = rows.map(() => ({ status: 'retry', reason: errorText(err), retryAfterMs }));
      }
    }
    this.apply(rows, results);
    for (const r of rows) this.inFlightRows.delete(r.rowid);
  }

  private apply(rows: readonly QueueRow[], results: readonly DeliveryResult[]): void {
    const delivered: QueueRow[] = [];
    const rejected: { row: QueueRow; reason: string }[] = [];
    const retried: { row: QueueRow; reason: string; nextAt: number }[] = [];
    const now = Date.now();
    const { max_attempts } = this.settings.retry;
    let minRetried = Infinity;
    // One jittered delay per request, so the retried events of a batch stay together.
    let attempts = 0;
    for (const r of rows) attempts = Math.max(attempts, r.attempts + 1);
    const delay = backoffDelay(attempts, this.settings.retry);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const res = results[i]!;
      if (res.status === 'delivered') delivered.push(row);
      else if (res.status === 'rejected') rejected.push({ row, reason: res.reason });
      else if (max_attempts > 0 && row.attempts + 1 >= max_attempts) {
        rejected.push({ row, reason: `gave up after ${row.attempts + 1} attempts: ${res.reason}` });
      } else {
        const wait = Math.max(delay, res.retryAfterMs ?? 0);
        retried.push({ row, reason: res.reason, nextAt: this.status.state === 'halted' ? now : now + wait });
        minRetried = Math.min(minRetried, row.rowid);
      }
    }
    this.store.settle(this.driver.name, { delivered, rejected, retried });
    if (delivered.length) this.status.lastDeliveredAt = now;
    let goneBytes = 0;
    for (const r of delivered) goneBytes += r.bytes;
    for (const x of rejected) goneBytes += x.row.bytes;
    this.depthEvents -= delivered.length + rejected.length;
    this.depthBytes -= goneBytes;
    this.settled.events += delivered.length + rejected.length;
    this.settled.bytes += goneBytes;
    if (rejected.length) {
      this.log('warn', `Output ${this.name}: ${rejected.length} event(s) rejected and dead-lettered (first reason: ${rejected[0]!.reason}).`);
    }
    if (retried.length) {
      // retried events go out again before anything after them: a prefetched batch must not overtake them
      this.dropPrefetched();
      this.cursor = Math.min(this.cursor, minRetried - 1);
    }
    this.onChange?.();
  }
}

/** A queued row as a QueuedEvent; the ECS document is parsed only if a driver reads `doc`. */
class StoredEvent implements QueuedEvent {
  readonly id: string;
  readonly json: string;
  readonly key: string;
  readonly dataset: string;
  readonly namespace: string | undefined;
  private parsed: Record<string, unknown> | undefined;
  constructor(r: QueueRow) {
    this.id = r.eventId;
    this.json = r.payload;
    this.key = r.key;
    this.dataset = r.dataset;
    this.namespace = r.namespace ?? undefined;
  }
  get doc(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.json) as Record<string, unknown>);
  }
}

/** Races a driver call against its signal, so a driver that ignores the signal cannot hang shutdown. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new OutputError(`request aborted: ${errorText(signal.reason)}`, { retriable: true }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new OutputError(`request aborted: ${errorText(signal.reason)}`, { retriable: true }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
