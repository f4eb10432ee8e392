/**
 * Live-mode liveness check: wraps a source and reports a host whose LKRG went quiet, i.e.
 * sent no LKRG line (heartbeat, alert, anything) for longer than `quietAfterMs` although it
 * had spoken before. The report is a synthetic `quiet` notice record in the event stream
 * (once per silence; the host speaking again re-arms it). Set the threshold above twice the
 * LKRG heartbeat interval when `lkrg.heartbeat=1`, or to the longest normal silence otherwise.
 */
import type { RawRecord, RecordBatch, Source, SourceContext } from '../core/types.js';

interface HostState {
  lastSeenMs: number;
  reported: boolean;
  host: RawRecord['host'];
  container: RawRecord['container'];
}

export class QuietMonitor implements Source {
  readonly id: string;
  private readonly hosts = new Map<string, HostState>();

  constructor(
    private readonly inner: Source,
    private readonly opts: { quietAfterMs: number; checkEveryMs?: number; now?: () => number },
  ) {
    this.id = inner.id;
  }

  totalBytes(): Promise<number | undefined> {
    return this.inner.totalBytes?.() ?? Promise.resolve(undefined);
  }

  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const now = this.opts.now ?? Date.now;
    const every = this.opts.checkEveryMs ?? Math.max(100, Math.min(5000, Math.floor(this.opts.quietAfterMs / 4)));
    const it = this.inner.read(ctx)[Symbol.asyncIterator]();
    let next = it.next();
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), every)));
      const res = await Promise.race([next, tick]);
      clearTimeout(timer);
      if (res === 'tick') {
        const notices = this.check(now());
        if (notices.length) yield { records: notices, malformed: [], positions: {}, bytes: 0 };
        if (ctx.signal.aborted) return;
        continue;
      }
      if (res.done) return;
      this.observe(res.value, now());
      yield res.value;
      next = it.next();
    }
  }

  private observe(batch: RecordBatch, t: number): void {
    for (const r of batch.records) {
      if (r.notice || (!r.text.startsWith('LKRG: ') && !r.text.startsWith('[p_lkrg] '))) continue;
      if (r.kernelOrigin === false) continue; // a forged heartbeat proves nothing
      const key = r.host.ip ?? r.host.name ?? r.host.id ?? r.streamId;
      const h = this.hosts.get(key);
      if (h) {
        h.lastSeenMs = t;
        h.reported = false;
      } else this.hosts.set(key, { lastSeenMs: t, reported: false, host: r.host, container: r.container });
    }
  }

  private check(t: number): RawRecord[] {
    const out: RawRecord[] = [];
    for (const [key, h] of this.hosts) {
      const silent = t - h.lastSeenMs;
      if (h.reported || silent < this.opts.quietAfterMs) continue;
      h.reported = true;
      const detail = `LKRG on ${key} went quiet: no LKRG message for ${Math.round(silent / 1000)} s (last at ${new Date(h.lastSeenMs).toISOString()}); LKRG may have been unloaded, blinded (log_level 0) or the log path blocked`;
      out.push({
        streamId: `quiet:${key}`,
        origin: 'quiet-monitor',
        offset: h.lastSeenMs,
        container: h.container,
        original: '',
        text: '',
        host: h.host,
        timeUs: t * 1000,
        notice: { type: 'quiet', detail },
      });
    }
    return out;
  }
}
