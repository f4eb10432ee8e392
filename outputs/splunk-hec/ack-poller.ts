/**
 * Indexer-acknowledgement polling for the splunk-hec driver: every in-flight request's ackId is
 * registered here, and one loop polls all pending ids together (`POST /services/collector/ack`
 * with `{"acks":[...]}` → `{"acks":{"<id>":true|false}}`) every poll interval.
 *
 * `wait` resolves `acked` once the server reports the id true, `timeout` when it did not within
 * the ack timeout (Splunk answers false for both "not yet indexed" and "unknown id", so a TTL is
 * the only way out; the caller resends, which can duplicate). It rejects with the poll error
 * when that error is fatal (e.g. ack disabled on the token, token refused), and with an abort
 * error when the caller's signal fires. Transient poll failures are retried until the timeout.
 */
import { OutputError } from '../../src/core/output.js';

/** Polls the given ids once; resolves to the server's id → indexed map. Throws OutputError. */
export type AckQuery = (ids: readonly number[], signal: AbortSignal) => Promise<Readonly<Record<string, boolean>>>;

interface Pending {
  readonly deadline: number;
  readonly resolve: (v: 'acked' | 'timeout') => void;
  readonly reject: (err: unknown) => void;
}

export class AckPoller {
  private readonly pending = new Map<number, Pending[]>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly stop = new AbortController();
  /** Last transient poll error (reported in timeout reasons). */
  lastError: string | undefined;

  constructor(
    private readonly query: AckQuery,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of ack ids still waited for (tests, status). */
  get size(): number {
    return this.pending.size;
  }

  /** Waits for `ackId` to be acknowledged (see the module comment). */
  wait(ackId: number, signal: AbortSignal): Promise<'acked' | 'timeout'> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new OutputError(`waiting for indexer acknowledgement aborted`, { retriable: true, cause: signal.reason }));
        return;
      }
      const entry: Pending = {
        deadline: this.now() + this.timeoutMs,
        resolve: (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => {
        this.remove(ackId, entry);
        reject(new OutputError(`waiting for indexer acknowledgement aborted`, { retriable: true, cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const list = this.pending.get(ackId);
      if (list) list.push(entry);
      else this.pending.set(ackId, [entry]);
      this.schedule();
    });
  }

  /** Stops polling; pending waits reject (retriable). */
  close(): void {
    this.stop.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const err = new OutputError('output closed while waiting for indexer acknowledgement', { retriable: true });
    for (const list of this.pending.values()) for (const p of list) p.reject(err);
    this.pending.clear();
  }

  private remove(ackId: number, entry: Pending): void {
    const list = this.pending.get(ackId);
    if (!list) return;
    const rest = list.filter((p) => p !== entry);
    if (rest.length) this.pending.set(ackId, rest);
    else this.pending.delete(ackId);
  }

  private schedule(): void {
    if (this.timer || this.polling || this.pending.size === 0 || this.stop.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pollOnce();
    }, this.intervalMs);
  }

  private async pollOnce(): Promise<void> {
    this.polling = true;
    try {
      const ids = [...this.pending.keys()];
      if (ids.length === 0) return;
      let answer: Readonly<Record<string, boolean>> | undefined;
      try {
        answer = await this.query(ids, this.stop.signal);
        this.lastError = undefined;
      } catch (err) {
        if (err instanceof OutputError && err.fatal) {
          for (const id of ids) {
            for (const p of this.pending.get(id) ?? []) p.reject(err);
            this.pending.delete(id);
          }
          return;
        }
        this.lastError = err instanceof Error ? err.message : String(err);
      }
      const now = this.now();
      for (const id of ids) {
        const list = this.pending.get(id);
        if (!list) continue;
        if (answer?.[String(id)] === true) {
          this.pending.delete(id);
          for (const p of list) p.resolve('acked');
          continue;
        }
        const left = list.filter((p) => {
          if (p.deadline > now) return true;
          p.resolve('timeout');
          return false;
        });
        if (left.length) this.pending.set(id, left);
        else this.pending.delete(id);
      }
    } finally {
      this.polling = false;
      this.schedule();
    }
  }
}
