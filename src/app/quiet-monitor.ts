/**
 * Live-mode liveness check: wraps a source and reports a host whose LKRG went quiet, i.e.
 * sent no LKRG line (heartbeat, alert, anything) for longer than `quietAfterMs` although it
 * had spoken before. The report is a synthetic `quiet` notice record in the event stream
 * (once per silence; the host speaking again re-arms it). Set the threshold above twice the
 * LKRG heartbeat interval when `lkrg.heartbeat=1`, or to the longest normal silence otherwise.
 *
 * The hosts it knows (and whether their current silence was reported) are saved with the
 * source's positions (stream `quiet-monitor`), so after a restart a host that spoke before is
 * still watched: it must speak within `quietAfterMs` of the restart, or it is reported (the
 * time is counted from the restart, so hosts whose backlog is still being read are not). A
 * silence reported before the restart is not reported again. Wrapped around live sources by
 * sourcesFromConfig (`quiet_after_s`).
 */
import type { RawRecord, RecordBatch, Source, SourceContext, SourcePosition } from '../core/types.js';

/** Position key of the monitor's saved hosts among its source's positions. */
export const QUIET_STREAM = 'quiet-monitor';

/** What is saved per host: key, host identity, container, reported. */
type SavedHost = [string, RawRecord['host'], RawRecord['container'], boolean];

interface HostState {
  lastSeenMs: number;
  reported: boolean;
  host: RawRecord['host'];
  container: RawRecord['container'];
}

/** See module doc. */
export class QuietMonitor implements Source {
  readonly id: string;
  private readonly hosts = new Map<string, HostState>();
  /** A host was added or its reported flag changed since the last save. */
  private dirty = false;

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
    this.restore(ctx.positions.get(QUIET_STREAM), now());
    const it = this.inner.read(ctx)[Symbol.asyncIterator]();
    let next = it.next();
    // checked every `every` ms whether the inner source is idle or busy: a fleet whose other
    // hosts keep talking must not hide the one that went quiet
    let lastCheck = now();
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const wait = Math.max(0, lastCheck + every - now());
      const tick = new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), wait)));
      const res = await Promise.race([next, tick]);
      clearTimeout(timer);
      if (res !== 'tick') {
        if (res.done) return;
        this.observe(res.value, now());
        // new hosts are saved with the batch that brought them (committed with its positions)
        yield this.dirty ? { ...res.value, positions: { ...res.value.positions, ...this.saved() } } : res.value;
        next = it.next();
      }
      if (now() - lastCheck >= every || res === 'tick') {
        lastCheck = now();
        const notices = this.check(lastCheck);
        if (notices.length || this.dirty) yield { records: notices, malformed: [], positions: this.saved(), bytes: 0 };
        if (ctx.signal.aborted) return;
      }
    }
  }

  /** The hosts as saved in the positions; clears the dirty flag. */
  private saved(): Record<string, SourcePosition> {
    this.dirty = false;
    const hosts: SavedHost[] = [...this.hosts].map(([k, h]) => [k, h.host, h.container, h.reported]);
    return { [QUIET_STREAM]: { v: 1, hosts } as unknown as SourcePosition };
  }

  /** Hosts saved before a restart: watched again, their time counted from `t` (the restart). */
  private restore(saved: SourcePosition | undefined, t: number): void {
    const p = saved as { v?: unknown; hosts?: unknown } | undefined;
    if (p?.v !== 1 || !Array.isArray(p.hosts)) return;
    for (const e of p.hosts as SavedHost[]) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'object' || e[1] === null) continue;
      this.hosts.set(e[0], { lastSeenMs: t, reported: e[3] === true, host: e[1], container: e[2] });
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
        if (h.reported) {
          h.reported = false;
          this.dirty = true;
        }
      } else {
        this.hosts.set(key, { lastSeenMs: t, reported: false, host: r.host, container: r.container });
        this.dirty = true;
      }
    }
  }

  private check(t: number): RawRecord[] {
    const out: RawRecord[] = [];
    for (const [key, h] of this.hosts) {
      const silent = t - h.lastSeenMs;
      if (h.reported || silent < this.opts.quietAfterMs) continue;
      h.reported = true;
      this.dirty = true;
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
