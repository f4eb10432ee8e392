/**
 * The one path: source -> parse/assemble -> normalize -> fan out. For every source batch
 * the pipeline writes the transactional sinks (file, stdout) and, in ONE state transaction,
 * queues the events for every queued output, stores the sinks' new lengths, the dead letters
 * of malformed input and the source positions. Nothing is held in memory across batches, so
 * a crash at any instant loses nothing: what was not committed is read again.
 */
import type { LkrgEvent, RawRecord, RecordBatch, Source, SourceGaugeFamily } from '../core/types.js';
import type { EcsDocument } from '../core/output.js';
import type { StateStore, QueueInsert } from '../state/state-store.js';
import type { TransactionalSink, FileSinkState } from '../../outputs/file/file-sink.js';
import { RunSummary } from './run-summary.js';
import type { EventFilter } from './event-filter.js';

/** The assembler contract the pipeline needs (src/parse/event-assembler.ts implements it). */
export interface Assembler {
  push(record: RawRecord): LkrgEvent[];
  flush(): LkrgEvent[];
}

/** The normalizer contract the pipeline needs (src/normalize implements it). */
export interface EventNormalizer {
  toEcs(event: LkrgEvent): EcsDocument;
  /**
   * The event's ECS document as compact JSON, byte-identical to `JSON.stringify(toEcs(event))`,
   * written without building the document (the hot path: every queued or ECS-written event).
   */
  toEcsJson(event: LkrgEvent): string;
  /** `event.dataset` of the event's document without building it. */
  datasetOf(event: LkrgEvent): string;
  /** `event.severity` of the event's document without building it (output filters). */
  severityOf(event: LkrgEvent): number;
  /** `data_stream.namespace` of every document this normalizer writes (forwarded documents keep their own). */
  readonly namespace: string;
  /** The document as compact JSON, byte-identical to JSON.stringify (may reuse cached fragments). */
  toJson(doc: EcsDocument): string;
  toCef(doc: EcsDocument): string;
}

/** A queued output as the pipeline sees it: where to queue and how full it may get. */
export interface QueueTarget {
  readonly name: string;
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly whenFull: 'block' | 'drop_oldest';
}

/** Progress of a run, for the replay progress bar. */
export interface PipelineProgress {
  bytes: number;
  records: number;
  events: number;
  malformed: number;
}

export interface PipelineOptions {
  readonly store: StateStore;
  readonly sources: readonly { readonly source: Source; readonly stateId: string }[];
  readonly makeAssembler: () => Assembler;
  readonly normalizer: EventNormalizer;
  /** The normalizer of one source when it differs (its own tags and labels); else `normalizer`. */
  readonly normalizerFor?: (stateId: string) => EventNormalizer | undefined;
  readonly sinks: readonly TransactionalSink[];
  readonly queues: readonly QueueTarget[];
  readonly signal: AbortSignal;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly onProgress?: (p: PipelineProgress) => void;
  /** Called after each commit with the queued row counts (wakes the delivery workers). */
  readonly onQueued?: (output: string, count: number, bytes: number) => void;
  /** Current depth of a queued output (events, bytes), for back-pressure. */
  readonly queueDepth?: (output: string) => { events: number; bytes: number };
  /** The summary to fill (the metrics endpoint reads it while the run goes on); a new one by default. */
  readonly summary?: RunSummary;
  /**
   * Output filters by output name (sinks and queued outputs; config `outputs[].filter`): an
   * output with one gets only the events it passes. Outputs without one get every event.
   */
  readonly filters?: ReadonlyMap<string, EventFilter>;
  /** Let sources set gauges in the summary (SourceContext.gauge): only when /metrics is served. */
  readonly sourceGauges?: boolean;
}

/**
 * Runs every source to its end (replay) or until the signal aborts (live). Called by the CLI.
 * Throws on I/O or database errors (the caller exits non-zero; nothing uncommitted is lost).
 */
export async function runPipeline(opts: PipelineOptions): Promise<RunSummary> {
  const summary = opts.summary ?? new RunSummary();
  const progress: PipelineProgress = { bytes: 0, records: 0, events: 0, malformed: 0 };
  for (const sink of opts.sinks) sink.open(opts.store.loadSinkState<FileSinkState>(sink.name));
  try {
    await Promise.all(opts.sources.map((s) => runSource(s.source, s.stateId, opts, summary, progress)));
  } finally {
    for (const sink of opts.sinks) sink.close();
  }
  return summary;
}

async function runSource(
  source: Source,
  stateId: string,
  opts: PipelineOptions,
  summary: RunSummary,
  progress: PipelineProgress,
): Promise<void> {
  const assembler = opts.makeAssembler();
  const positions = opts.store.loadPositions(stateId);
  const gauge = opts.sourceGauges
    ? (f: SourceGaugeFamily, labels: Readonly<Record<string, string>>, v: number | null) => summary.setGauge(f, f === 'kafka_consumer_lag' ? labels : { source: stateId, ...labels }, v)
    : undefined;
  summary.setSourceProblem(stateId, null);
  const health = (problem: string | null): void => summary.setSourceProblem(stateId, problem);
  const iterable = source.read({ positions, signal: opts.signal, log: opts.log, health, ...(gauge ? { gauge } : {}) });
  for await (const batch of iterable) {
    await waitForRoom(opts);
    processBatch(batch, stateId, assembler, opts, summary, progress);
    opts.onProgress?.(progress);
    if (opts.signal.aborted) break;
  }
}

/** Synchronous from sink write to commit: no other batch can interleave between them. */
function processBatch(
  batch: RecordBatch,
  stateId: string,
  assembler: Assembler,
  opts: PipelineOptions,
  summary: RunSummary,
  progress: PipelineProgress,
): void {
  const normalizer = opts.normalizerFor?.(stateId) ?? opts.normalizer;
  const events: LkrgEvent[] = [];
  for (const rec of batch.records) {
    const out = assembler.push(rec);
    for (let i = 0; i < out.length; i++) events.push(out[i]!);
  }
  const tail = assembler.flush();
  for (let i = 0; i < tail.length; i++) events.push(tail[i]!);

  // ECS JSON straight from the events (no document objects); documents only for CEF sinks
  const json: string[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    json[i] = normalizer.toEcsJson(events[i]!);
    summary.add(events[i]!);
  }

  // per output filter: the indexes of the events it gets (absent: all of them)
  const filters = opts.filters;
  const picked = filters && filters.size > 0 && events.length > 0 ? new Map<string, number[]>() : undefined;
  if (picked) {
    for (const [name, f] of filters!) {
      const keep: number[] = [];
      for (let i = 0; i < events.length; i++) if (f.passes(events[i]!, normalizer)) keep.push(i);
      picked.set(name, keep);
    }
  }
  const pick = <T>(name: string, all: readonly T[]): readonly T[] => {
    const keep = picked?.get(name);
    return keep === undefined || keep.length === all.length ? all : keep.map((i) => all[i]!);
  };

  const sinkStates = new Map<string, unknown>();
  // CEF lines only for the events a CEF sink gets, each encoded once
  const cef: (string | undefined)[] = [];
  const cefOf = (i: number): string => (cef[i] ??= normalizer.toCef(normalizer.toEcs(events[i]!)));
  for (const sink of opts.sinks) {
    let lines: readonly string[];
    if (sink.format === 'ecs') lines = pick(sink.name, json);
    else lines = (picked?.get(sink.name) ?? events.map((_, i) => i)).map(cefOf);
    const state = sink.write(lines);
    if (state) sinkStates.set(sink.name, state);
  }

  let queued: Map<string, readonly QueueInsert[]> | undefined;
  let allRows: readonly QueueInsert[] = [];
  let allBytes = 0;
  if (opts.queues.length && events.length) {
    const rows: QueueInsert[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const payload = json[i]!;
      const bytes = Buffer.byteLength(payload);
      allBytes += bytes;
      const namespace = e.record.document?.namespace ?? normalizer.namespace;
      rows[i] = { eventId: e.id, key: keyOf(e), dataset: normalizer.datasetOf(e), namespace, payload, bytes };
    }
    allRows = rows;
    queued = new Map(opts.queues.map((q) => [q.name, pick(q.name, rows)]));
  }

  const now = Date.now();
  opts.store.commitBatch({
    sourceId: stateId,
    positions: batch.positions,
    queued,
    sinkStates,
    inputDeadLetters: batch.malformed.map((m) => ({
      origin: m.origin,
      offset: m.offset,
      reason: m.line !== undefined ? `line ${m.line}: ${m.reason}` : m.reason,
      firstFailedAt: now,
      lastFailedAt: now,
      payload: m.raw,
    })),
    counters: [
      ['pipeline', 'records_read', batch.records.length],
      ['pipeline', 'events', events.length],
      ['pipeline', 'malformed', batch.malformed.length],
      ...opts.queues.map((q) => [q.name, 'queued', queued?.get(q.name)?.length ?? 0] as const),
      ...[...(picked ?? [])].filter(([, keep]) => keep.length < events.length).map(([name, keep]) => [name, 'filtered', events.length - keep.length] as const),
    ],
  });
  if (queued) {
    for (const q of opts.queues) {
      const rows = queued.get(q.name)!;
      if (rows.length === 0) continue;
      // a filtered queue counts the bytes of its own rows
      const bytes = rows === allRows ? allBytes : rows.reduce((n, r) => n + r.bytes!, 0);
      opts.onQueued?.(q.name, rows.length, bytes);
    }
  }
  summary.malformed += batch.malformed.length;
  for (const m of batch.malformed) summary.noteMalformed(m);
  progress.bytes += batch.bytes;
  progress.records += batch.records.length;
  progress.events += events.length;
  progress.malformed += batch.malformed.length;
}

/** Back-pressure: a full queue with when_full=block holds the source until there is room. */
async function waitForRoom(opts: PipelineOptions): Promise<void> {
  if (!opts.queueDepth) return;
  for (const q of opts.queues) {
    let warned = false;
    for (;;) {
      const d = opts.queueDepth(q.name);
      if (d.events < q.maxEvents && d.bytes < q.maxBytes) break;
      if (q.whenFull === 'drop_oldest') {
        const excess = Math.max(d.events - q.maxEvents + 1, 1);
        const dropped = opts.store.dropOldest(q.name, Math.max(excess, 100));
        opts.log('warn', `Output ${q.name}: queue full, dropped the ${dropped} oldest events (when_full: drop_oldest).`);
        break;
      }
      if (!warned) {
        opts.log('warn', `Output ${q.name}: queue full (${d.events} events, ${d.bytes} bytes); holding the sources until it drains.`);
        warned = true;
      }
      if (opts.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function keyOf(e: LkrgEvent): string {
  const h = e.record.host;
  return h.ip ?? h.name ?? h.id ?? e.record.streamId;
}
