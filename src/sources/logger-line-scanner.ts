/**
 * The lkrg-logger store line scanner: WebAssembly (src/wasm/logger-line-scan.ts, built by
 * `npm run build`) that splits a run of complete store lines and reads every header, so the
 * store source's per-line JavaScript is only boot/sequence tracking. It accepts exactly the
 * lines scanLoggerFields accepts, with the same field values, and marks the messages
 * LkrgByteFilter would pass (test/unit/sources/logger-line-scanner.test.ts holds it to both).
 * A line it does not accept is only marked; the caller gives it to the JavaScript scanner,
 * which reports the reason.
 *
 * Used by the logger-store source (replay and live). {@link LoggerLineScanner.create} returns
 * null when the module cannot be loaded (not built, or a runtime without WebAssembly SIMD):
 * the source then reads line by line in JavaScript, with the same results, only slower.
 */
import { readFileSync } from 'node:fs';

// The WebAssembly global exists in every Node release; the project's lib setting (ES2023, no
// DOM) leaves it untyped, so the few members used here are declared.
declare global {
  namespace WebAssembly {
    class Module {
      constructor(bytes: Uint8Array);
    }
    class Instance {
      constructor(module: Module, imports: object);
      readonly exports: unknown;
    }
    interface Memory {
      readonly buffer: ArrayBuffer;
    }
  }
}

/** Status bits of a scanned line (see the WebAssembly source). */
export const LINE_OK = 1;
export const LINE_CANDIDATE = 2;
export const LINE_CONTINUATION = 4;

interface ScanExports {
  readonly memory: WebAssembly.Memory;
  init(cap: number): number;
  capacity(): number;
  startColumn(): number;
  recvColumn(): number;
  scannedTo(): number;
  stateBlock(): number;
  ringBlock(): number;
  ringPairs(): number;
  scan(from: number, len: number, bias: number): number;
}

/** Slots of {@link LoggerLineScanner.state} (mirrors the WebAssembly source). */
export const ST_ENABLED = 0;
export const ST_BOOT_WALL = 1;
export const ST_LAST_SEQ = 2;
export const ST_LAST_UP = 3;
export const ST_LAST_SEND = 4;
export const ST_LAST_SEND_UP = 5;
export const ST_LAST_FLAG_C = 6;
export const ST_BUDGET = 7;
export const ST_MAX_LINE = 8;
export const ST_FAST_LINES = 9;
export const ST_FAST_BYTES = 10;
export const ST_MAX_ROWS = 11;
/** (seq, hash) pairs the ring keeps. */
export const RING_PAIRS = 64;

let compiled: WebAssembly.Module | null | undefined;

function moduleOnce(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  // built: dist/src/sources/ -> dist/wasm/; run from source (tests): src/sources/ -> dist/wasm/
  for (const rel of ['../../wasm/logger-line-scan.wasm', '../../dist/wasm/logger-line-scan.wasm']) {
    try {
      compiled = new WebAssembly.Module(readFileSync(new URL(rel, import.meta.url)));
      break;
    } catch {
      /* next */
    }
  }
  return compiled;
}

/**
 * One scanner with its own WebAssembly memory. The column tables stay valid until the next
 * {@link load} or {@link scan}, so readers that share a scanner take turns and check
 * {@link owner} (LoggerLinePump does). Never throws after create().
 */
export class LoggerLineScanner {
  /** Per line of the current table: start and end (exclusive, no newline) in the caller's buffer. */
  start!: Int32Array;
  end!: Int32Array;
  /** Message start in the caller's buffer (valid for LINE_OK lines). */
  msg!: Int32Array;
  status!: Int32Array;
  prio!: Int32Array;
  recvUs!: Float64Array;
  sendUs!: Float64Array;
  sendUptimeUs!: Float64Array;
  seq!: Float64Array;
  eventUptimeUs!: Float64Array;
  /** Rows in the current table. */
  count = 0;
  /**
   * The fast path's state block (slots ST_*; which are inputs and which outputs is documented
   * in the WebAssembly source): written before {@link scan}, read after.
   */
  state!: Float64Array;
  /** The last (seq, hash) pairs the fast path consumed: pair i of a scan at slot i % RING_PAIRS. */
  ring!: Float64Array;
  /** Buffer index just after the last line the fast path consumed in the last scan. */
  fastEnd = 0;
  /** Who loaded the current table (readers sharing one scanner check it before use). */
  owner: unknown = undefined;

  /** Rows the table holds. */
  readonly capacity: number;
  private readonly input: Uint8Array;
  private base = 0;
  private len = 0;
  private pos = 0;

  private constructor(private readonly x: ScanExports, readonly inputCap: number) {
    const at = x.init(inputCap);
    this.input = new Uint8Array(x.memory.buffer, at, inputCap);
    const cap = x.capacity();
    this.capacity = cap;
    const mem = x.memory.buffer;
    const i32 = (k: number): Int32Array => new Int32Array(mem, x.startColumn() + k * cap * 4, cap);
    const f64 = (k: number): Float64Array => new Float64Array(mem, x.recvColumn() + k * cap * 8, cap);
    [this.start, this.end, this.msg, this.status, this.prio] = [i32(0), i32(1), i32(2), i32(3), i32(4)];
    [this.recvUs, this.sendUs, this.sendUptimeUs, this.seq, this.eventUptimeUs] = [f64(0), f64(1), f64(2), f64(3), f64(4)];
    this.state = new Float64Array(mem, x.stateBlock(), 16);
    this.ring = new Float64Array(mem, x.ringBlock(), RING_PAIRS * 2);
  }

  /** A scanner for runs of up to `inputCap` bytes, or null when the module is unavailable. */
  static create(inputCap: number): LoggerLineScanner | null {
    const m = moduleOnce();
    if (m === null) return null;
    try {
      return new LoggerLineScanner(new WebAssembly.Instance(m, {}).exports as unknown as ScanExports, inputCap);
    } catch {
      return null;
    }
  }

  /**
   * Takes `buf[from, to)` (complete lines: `buf[to - 1]` is a newline; at most inputCap
   * bytes) for scanning; positions in the table are indexes into `buf`.
   */
  load(buf: Uint8Array, from: number, to: number): void {
    this.input.set(buf.subarray(from, to), 0);
    this.base = from;
    this.len = to - from;
    this.pos = 0;
    this.count = 0;
  }

  /**
   * Scans on from where the last scan stopped: fills the table (and, with the fast path
   * enabled in {@link state}, consumes ordinary lines before the first row). False when the
   * loaded lines are used up.
   */
  scan(): boolean {
    const from = this.pos;
    if (from >= this.len) {
      this.count = 0;
      return false;
    }
    this.count = this.x.scan(from, this.len, this.base);
    this.pos = this.x.scannedTo();
    this.fastEnd = this.base + from + this.state[ST_FAST_BYTES]!;
    return true;
  }

  /** Pairs the last scan put in the ring (it keeps the last RING_PAIRS). */
  ringPairs(): number {
    return this.x.ringPairs();
  }
}
