/**
 * Accumulates records and malformed input into bounded {@link RecordBatch}es. Used by all
 * sources: a batch is cut when it reaches `maxRecords` records or `maxBytes` input bytes.
 */
import type { MalformedRecord, RawRecord, RecordBatch, SourcePosition } from '../core/types.js';

/** Limits shared by all sources. */
export interface BatchLimits {
  /** Records per batch (default 4096). */
  readonly maxRecords?: number;
  /** Input bytes per batch (default 1 MiB). */
  readonly maxBytes?: number;
}

/** Default of {@link BatchLimits.maxRecords}. */
export const DEFAULT_MAX_RECORDS = 4096;
/** Default of {@link BatchLimits.maxBytes}. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

/** Mutable batch under construction. */
export class BatchBuilder {
  records: RawRecord[] = [];
  malformed: MalformedRecord[] = [];
  bytes = 0;
  private readonly maxRecords: number;
  private readonly maxBytes: number;

  constructor(limits: BatchLimits = {}) {
    this.maxRecords = limits.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  /** True when the batch should be yielded now. */
  full(): boolean {
    return this.records.length + this.malformed.length >= this.maxRecords || this.bytes >= this.maxBytes;
  }

  /** Input bytes the batch may still take before it is full by size. */
  bytesLeft(): number {
    return this.maxBytes - this.bytes;
  }

  /** True when something (records, malformed or consumed bytes) is pending. */
  pending(): boolean {
    return this.records.length > 0 || this.malformed.length > 0 || this.bytes > 0;
  }

  /** Returns the batch with these positions and starts a new one. */
  take(positions: Readonly<Record<string, SourcePosition>>): RecordBatch {
    const b: RecordBatch = { records: this.records, malformed: this.malformed, positions, bytes: this.bytes };
    this.records = [];
    this.malformed = [];
    this.bytes = 0;
    return b;
  }
}

/** Resolves after `ms` or when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Joins small batches of several streams into batches within the same limits: the live file
 * sources join one polling round's batches (one per file that grew, often a record or two each),
 * so a fleet whose hosts each write now and then costs one commit per round instead of one per
 * file; the replays join the batches of many small files (a year of a fleet's daily archives).
 * Positions of different streams go side by side; a later position of the same stream replaces
 * the earlier one (its records come along).
 */
export class BatchMerger {
  private records: RawRecord[] = [];
  private malformed: MalformedRecord[] = [];
  private positions: Record<string, SourcePosition> = {};
  private bytes = 0;
  private has = false;
  private readonly maxRecords: number;
  private readonly maxBytes: number;

  constructor(limits: BatchLimits) {
    this.maxRecords = limits.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  /** Adds `b`; returns the batch gathered so far when `b` does not fit beside it (yield it first). */
  add(b: RecordBatch): RecordBatch | undefined {
    const n = this.records.length + this.malformed.length;
    const out = this.has && (n + b.records.length + b.malformed.length > this.maxRecords || this.bytes + b.bytes > this.maxBytes) ? this.take() : undefined;
    if (!this.has) {
      // the first batch of a merge is taken over as it is (a tail's full batches pass unchanged);
      // its arrays are this merger's from now on (BatchBuilder.take gave them away)
      this.records = b.records as RawRecord[];
      this.malformed = b.malformed as MalformedRecord[];
    } else {
      for (const r of b.records) this.records.push(r);
      for (const m of b.malformed) this.malformed.push(m);
    }
    Object.assign(this.positions, b.positions);
    this.bytes += b.bytes;
    this.has = true;
    return out;
  }

  /** The batch gathered so far, or undefined when nothing was added since the last take. */
  take(): RecordBatch | undefined {
    if (!this.has) return undefined;
    const b: RecordBatch = { records: this.records, malformed: this.malformed, positions: this.positions, bytes: this.bytes };
    this.records = [];
    this.malformed = [];
    this.positions = {};
    this.bytes = 0;
    this.has = false;
    return b;
  }
}

/**
 * The batches of `batches` joined by a {@link BatchMerger} within `limits` (the replays: one
 * batch per small file otherwise). Stops without the last batch when `signal` aborts.
 */
export async function* joinBatches(batches: AsyncIterable<RecordBatch>, limits: BatchLimits, signal: AbortSignal): AsyncGenerator<RecordBatch> {
  const merged = new BatchMerger(limits);
  for await (const b of batches) {
    const full = merged.add(b);
    if (full) yield full;
  }
  const rest = merged.take();
  if (rest && !signal.aborted) yield rest;
}

/** Small files a replay reads in place between two turns of the event loop (see turnEvery). */
export const FILES_PER_TURN = 16;

let turnCount = 0;

/**
 * Every `n`th call, lets the event loop run once (setImmediate). The replays read small files
 * in place (synchronous calls); without a turn now and then, a run of thousands of them would
 * hold off signals, the progress bar and the garbage collector's idle-time work (peak memory
 * of a 42,000-file replay: 227 MB without turns).
 */
export async function turnEvery(n: number): Promise<void> {
  if (++turnCount % n !== 0) return;
  await new Promise<void>((r) => setImmediate(r));
}
