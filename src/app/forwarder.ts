/**
 * Wires one run: state file, sources, assembler, normalizer, transactional sinks, queued
 * outputs with their delivery workers, signals and graceful shutdown. Used by the CLI's
 * `run`, `replay`, `parse` and `demo` commands.
 */
import type { Source } from '../core/types.js';
import { StateStore } from '../state/state-store.js';
import { runPipeline, type PipelineProgress, type QueueTarget } from '../pipeline/pipeline.js';
import { EventFilter } from '../pipeline/event-filter.js';
import { RunSummary } from '../pipeline/run-summary.js';
import { startMetricsServer } from './metrics-server.js';
import { DeliveryWorker, type DeliverySettings } from '../delivery/delivery-worker.js';
import { deliveryThreadsAvailable, ThreadedDelivery, type Delivery } from '../delivery/delivery-thread.js';
import { outputType } from '../../outputs/output-registry.js';
import type { TransactionalSink } from '../../outputs/file/file-sink.js';
import { EventAssembler } from '../parse/event-assembler.js';
import { createNormalizer } from './normalizer-factory.js';
import { ConfigError } from '../core/types.js';
import { outputName } from '../config/forwarder-config.js';

export interface RunOptions {
  readonly statePath: string;
  /** Sources with their state ids, and the tags/labels a source's section adds to the run's. */
  readonly sources: readonly {
    readonly source: Source;
    readonly stateId: string;
    readonly tags?: readonly string[] | undefined;
    readonly labels?: Readonly<Record<string, string>> | undefined;
  }[];
  readonly outputs: readonly Record<string, unknown>[];
  readonly includeNonLkrg: boolean;
  readonly namespace: string;
  readonly keepOriginal: boolean;
  /** Config `tags` / `labels`: added to every ECS document. */
  readonly tags?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Replay: wait until every queued output drained before returning. */
  readonly drainQueues: boolean;
  readonly shutdownTimeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly onProgress?: (p: PipelineProgress) => void;
  /** Replay without --resume: forget the sources' positions and the sinks' files first. */
  readonly fresh?: boolean;
  /** `metrics.listen`: serve /metrics and /health there for the length of the run. */
  readonly metricsListen?: string;
}

export interface RunResult {
  readonly summary: RunSummary;
  readonly workers: readonly Delivery[];
  readonly store: StateStore;
}

/** How often the forwarder lets the state file return free space (StateStore.reclaimSpace). */
const RECLAIM_INTERVAL_MS = 60_000;

/**
 * Runs sources to their end (or until the signal aborts), delivering to every output.
 * Throws ConfigError for bad output sections and I/O/database errors otherwise. The state
 * store is closed before returning.
 */
export async function runForwarder(opts: RunOptions): Promise<Omit<RunResult, 'store'> & { counters: Map<string, Map<string, number>> }> {
  const store = new StateStore(opts.statePath);
  const sinks: TransactionalSink[] = [];
  const workers: Delivery[] = [];
  // Each queued output delivers from its own thread when it can (compiled code, state in a
  // file): its client work then runs beside parsing instead of taking turns with it.
  const threaded = deliveryThreadsAvailable(opts.statePath);
  const summary = new RunSummary();
  let metrics: { close(): Promise<void> } | undefined;
  let reclaim: NodeJS.Timeout | undefined;
  const filters = new Map<string, EventFilter>();
  try {
    // Delivery threads start first: each imports its driver module and client library (a few
    // hundred ms of compiling) while this thread loads the catalog and the mappings and then
    // reads, parses and queues input. Nothing waits for a thread to be ready: what the pipeline
    // queues meanwhile waits in the state file (and its notices in the thread's port).
    const readies: Promise<void>[] = [];
    for (const [i, cfg] of opts.outputs.entries()) {
      const type = outputType(cfg.type as string);
      if (!type) throw new ConfigError(`outputs[${i}].type`, cfg.type, 'unknown output type');
      const name = outputName(cfg);
      const filter = EventFilter.fromConfig(cfg.filter, `outputs[${i}].filter`);
      if (filter) filters.set(name, filter);
      if (type.kind === 'sink') sinks.push(type.createSink!(cfg, name));
      else if (threaded) {
        const s = store.queueStats(name);
        const d = ThreadedDelivery.start({ statePath: opts.statePath, cfg, name, depth: { events: s.depth, bytes: s.bytes } }, opts.log);
        workers.push(d);
        readies.push(d.ready);
      } else {
        // imports the driver module (and its client library) on first use
        const driver = await type.createDriver!(cfg, name, opts.log);
        workers.push(new DeliveryWorker(store, driver, cfg as unknown as DeliverySettings, opts.log));
      }
    }
    // events queued for an output this configuration no longer names (renamed, removed) are
    // never delivered: say so at every start, with the way out
    const names = new Set(opts.outputs.map(outputName));
    for (const o of store.queuedOutputs()) {
      if (names.has(o)) continue;
      const q = store.queueStats(o);
      opts.log('warn', `${q.depth} event(s) are queued for output '${o}', which the configuration does not name: they are not delivered. ` +
        `If it was renamed: lkrg-siem queue move ${o} NEW_NAME; if it was removed for good: lkrg-siem queue purge ${o} (see lkrg-siem check-state)`);
    }
    // A thread that cannot build its driver (bad output section) stops the run: the pipeline is
    // aborted and the failure thrown below. What was queued for that output before stays queued
    // for a run with a corrected section (the other outputs deliver theirs as usual).
    const threadFailed = new AbortController();
    for (const r of readies) r.catch((err: unknown) => threadFailed.abort(err));
    const normalizer = createNormalizer({ namespace: opts.namespace, keepOriginal: opts.keepOriginal, tags: opts.tags, labels: opts.labels });
    // a source with tags or labels of its own gets its own normalizer: the run's, then its own
    // (its labels win on a clash)
    const bySource = new Map<string, ReturnType<typeof createNormalizer>>();
    for (const s of opts.sources) {
      if (!s.tags?.length && !(s.labels && Object.keys(s.labels).length)) continue;
      bySource.set(s.stateId, createNormalizer({
        namespace: opts.namespace, keepOriginal: opts.keepOriginal,
        tags: [...(opts.tags ?? []), ...(s.tags ?? [])], labels: { ...opts.labels, ...s.labels },
      }));
    }
    const makeAssembler = (): EventAssembler => new EventAssembler({ includeNonLkrg: opts.includeNonLkrg });
    makeAssembler(); // loads the catalog now, while the threads start
    if (threadFailed.signal.aborted) await Promise.all(readies);
    if (opts.fresh) {
      for (const s of opts.sources) store.resetPositions(s.stateId);
      for (const s of sinks) store.saveSinkState(s.name, { path: '', length: 0 });
    }
    for (const w of workers) w.start();
    const queues: QueueTarget[] = workers.map((w) => {
      const q = (opts.outputs.find((o) => outputName(o) === w.name)!.queue ?? {}) as Record<string, unknown>;
      return {
        name: w.name,
        maxEvents: (q.max_events as number) ?? 1_000_000,
        maxBytes: (q.max_bytes as number) ?? 1 << 30,
        whenFull: (q.when_full as 'block' | 'drop_oldest') ?? 'block',
      };
    });
    const byName = new Map(workers.map((w) => [w.name, w]));
    if (opts.metricsListen !== undefined) metrics = await startMetricsServer(opts.metricsListen, { store, workers, summary }, opts.log);
    // a drained backlog (an output that was down for hours) gives its space back, a step a minute
    reclaim = setInterval(() => {
      try {
        const freed = store.reclaimSpace();
        if (freed > 0) opts.log('info', `State file: ${Math.round(freed / 2 ** 20)} MiB of drained queue space returned to the file system.`);
      } catch (err) {
        opts.log('warn', `State file: could not return free space (${(err as Error).message}); retrying in a minute.`);
      }
    }, RECLAIM_INTERVAL_MS);
    reclaim.unref();
    await runPipeline({
      store,
      sources: opts.sources,
      makeAssembler,
      normalizer,
      ...(bySource.size > 0 ? { normalizerFor: (id: string) => bySource.get(id) } : {}),
      sinks,
      queues,
      signal: readies.length ? AbortSignal.any([opts.signal, threadFailed.signal]) : opts.signal,
      log: opts.log,
      onProgress: opts.onProgress,
      onQueued: (name, n, bytes) => byName.get(name)?.notifyQueued(n, bytes),
      queueDepth: (name) => byName.get(name)!.depth(),
      summary,
      filters,
      sourceGauges: opts.metricsListen !== undefined,
    });
    await Promise.all(readies); // throws the failure of a thread that never got ready
    if (opts.drainQueues && !opts.signal.aborted) {
      await Promise.race([
        Promise.all(workers.map((w) => w.drain())),
        new Promise((r) => opts.signal.addEventListener('abort', r, { once: true })),
      ]);
    }
    await Promise.all(workers.map((w) => w.stop(Date.now() + opts.shutdownTimeoutMs)));
    return { summary, workers, counters: store.counters() };
  } finally {
    await Promise.all(workers.map((w) => (w.status.state === 'stopped' ? undefined : w.stop(Date.now()))));
    if (reclaim) clearInterval(reclaim);
    await metrics?.close();
    store.close();
  }
}
