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
