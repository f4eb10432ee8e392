/**
 * Runs a queued output's delivery layer (DeliveryWorker and driver) in a worker thread, so the
 * output's client work (record encoding, compression set-up, HTTP, queue reads and settles)
 * uses the second core instead of competing with parsing and normalizing on the main thread.
 * The thread opens its own connection to the state file (WAL: the pipeline's commits and the
 * worker's settles are separate transactions, as before); every delivery guarantee stays
 * where it was, in DeliveryWorker and the state file.
 *
 * The main thread keeps a mirror of what the CLI and the pipeline read synchronously: the
 * worker's status (for `status`, logs and the exit code) and the queue depth (for
 * back-pressure: queued events counted here, settled ones reported by the thread).
 * Used by the forwarder when the state is a file and the compiled thread entry exists;
 * otherwise DeliveryWorker runs in the main thread (in-memory state, tests run from sources).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { ConfigError } from '../core/types.js';
import type { WorkerStatus } from './delivery-worker.js';

/** What the forwarder and the CLI use of a delivery worker, in this thread or another. */
export interface Delivery {
  readonly name: string;
  readonly status: WorkerStatus;
  depth(): { events: number; bytes: number };
  notifyQueued(count: number, bytes?: number): void;
  start(): void;
  drain(): Promise<void>;
  stop(deadlineMs: number): Promise<void>;
}

/** workerData of a delivery thread. */
export interface ThreadInit {
  readonly statePath: string;
  readonly cfg: Record<string, unknown>;
  readonly name: string;
  readonly fatalProbeMs?: number;
  /** Queue depth of the output when the thread was started (see DeliveryWorker's constructor). */
  readonly depth: { readonly events: number; readonly bytes: number };
}

export type ToThread =
  | { t: 'start' }
  | { t: 'queued'; count: number; bytes: number }
  | { t: 'drain'; id: number }
  | { t: 'stop'; deadlineMs: number };

type Snapshot = { status: WorkerStatus; settled: { events: number; bytes: number } };
type ThreadError = { config: true; key: string; value: unknown; fix: string; message: string } | { config: false; message: string };

export type FromThread =
  | ({ t: 'ready' } & Snapshot)
  | { t: 'failed'; error: ThreadError }
  | { t: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | ({ t: 'status' } & Snapshot)
  | { t: 'drained'; id: number; error?: string }
  | ({ t: 'stopped'; error?: string } & Snapshot);

const entry = new URL('./delivery-thread-main.js', import.meta.url);

/** True when delivery threads can run here: compiled code (not the TypeScript sources) and a state file. */
export function deliveryThreadsAvailable(statePath: string): boolean {
  return statePath !== ':memory:' && entry.protocol === 'file:' && existsSync(fileURLToPath(entry));
}

/** Time a stopping thread gets past the caller's deadline (closing the driver and the store). */
const STOP_GRACE_MS = 5_000;

export class ThreadedDelivery implements Delivery {
  readonly status: WorkerStatus = { state: 'starting', inFlight: 0 };
  private queuedEvents = 0;
  private queuedBytes = 0;
  private settled = { events: 0, bytes: 0 };
  private readonly drains = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextDrain = 0;
  private stopped: Promise<void> | undefined;
  private onStopped: (() => void) | undefined;
  private exited = false;
  private failure: Error | undefined;

  /**
   * Settles once the thread built its driver; rejects with the driver's ConfigError (same key,
   * value and fix) when the output section is invalid, or with the thread's error. Until then
   * messages to the thread wait in its port, so the pipeline may queue events meanwhile.
   */
  readonly ready: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly thread: Worker,
    private readonly initialDepth: { events: number; bytes: number },
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      let ready = false;
      thread.on('message', (m: FromThread) => {
        if (m.t === 'ready') {
          ready = true;
          this.mirror(m);
          resolve();
        } else if (m.t === 'failed') {
          const e = m.error;
          reject(e.config ? new ConfigError(e.key, e.value, e.fix) : new Error(`Output ${name}: ${e.message}`));
        } else this.onMessage(m);
      });
      thread.on('error', (err) => {
        if (!ready) reject(err);
        else this.fail(err);
      });
      thread.on('exit', (code) => {
        this.exited = true;
        if (!ready) reject(new Error(`Output ${name}: delivery thread exited (code ${code}) before it was ready`));
        else if (!this.stopped) this.fail(new Error(`delivery thread exited unexpectedly (code ${code})`));
        this.onStopped?.();
      });
    });
    // observed by the forwarder; this keeps a failure seen only there from counting as unhandled
    this.ready.catch(() => undefined);
  }

  /**
   * Starts the thread, which imports the output's driver module (and client library) and builds
   * the driver; see {@link ready}. `init.depth` is the output's queue depth in the state file now.
   */
  static start(init: ThreadInit, log: (level: 'info' | 'warn' | 'error', message: string) => void): ThreadedDelivery {
    const thread = new Worker(entry, { workerData: init, env: SHARE_ENV });
    return new ThreadedDelivery(init.name, thread, { ...init.depth }, log);
  }

  depth(): { events: number; bytes: number } {
    return {
      events: this.initialDepth.events + this.queuedEvents - this.settled.events,
      bytes: this.initialDepth.bytes + this.queuedBytes - this.settled.bytes,
    };
  }

  notifyQueued(count: number, bytes = 0): void {
    this.queuedEvents += count;
    this.queuedBytes += bytes;
    this.post({ t: 'queued', count, bytes });
  }

  start(): void {
    this.post({ t: 'start' });
  }

  drain(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.exited) return Promise.resolve();
    const id = this.nextDrain++;
    return new Promise<void>((resolve, reject) => {
      this.drains.set(id, { resolve, reject });
      this.post({ t: 'drain', id });
    });
  }

  /** Graceful stop as DeliveryWorker.stop; the thread ends once it answered (or is terminated). */
  stop(deadlineMs: number): Promise<void> {
    this.stopped ??= (async () => {
      if (!this.exited) {
        const done = new Promise<void>((r) => (this.onStopped = r));
        this.post({ t: 'stop', deadlineMs });
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), Math.max(0, deadlineMs - Date.now()) + STOP_GRACE_MS)));
        const how = await Promise.race([done, late]);
        clearTimeout(timer);
        if (how === 'late') this.log('warn', `Output ${this.name}: the delivery thread did not stop in time; terminated (undelivered events stay queued).`);
        await this.thread.terminate();
      }
      this.status.state = 'stopped';
      for (const [, w] of this.drains) w.resolve();
      this.drains.clear();
      if (this.failure) throw this.failure;
    })();
    return this.stopped;
  }

  private post(m: ToThread): void {
    if (!this.exited) this.thread.postMessage(m);
  }

  private mirror(s: Snapshot): void {
    Object.assign(this.status, s.status);
    // fields the worker cleared are absent from its snapshot
    if (s.status.fatalError === undefined) delete this.status.fatalError;
    this.settled = s.settled;
  }

  private onMessage(m: FromThread): void {
    switch (m.t) {
      case 'log':
        this.log(m.level, m.message);
        break;
      case 'status':
        this.mirror(m);
        break;
      case 'drained': {
        const w = this.drains.get(m.id);
        this.drains.delete(m.id);
        if (m.error) w?.reject(new Error(`Output ${this.name}: ${m.error}`));
        else w?.resolve();
        break;
      }
      case 'stopped':
        this.mirror(m);
        if (m.error) this.log('warn', `Output ${this.name}: stop: ${m.error}`);
        this.onStopped?.();
        break;
    }
  }

  /** The thread died: pending drains fail, and so does the run (as an exception in the main thread would). */
  private fail(err: Error): void {
    this.failure ??= err;
    this.status.state = 'stopped';
    this.status.lastError = err.message;
    this.status.lastErrorAt = Date.now();
    for (const [, w] of this.drains) w.reject(err);
    this.drains.clear();
    this.onStopped?.();
  }
}
