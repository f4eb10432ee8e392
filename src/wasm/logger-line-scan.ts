// AssemblyScript, compiled to dist/wasm/logger-line-scan.wasm by `npm run build` (asc).
// Not part of the tsc build (tsconfig excludes src/wasm).
//
// The lkrg-logger store line scanner: for a run of complete lines it finds every newline,
// reads the seven header fields `recv,send,send_uptime,prio,seq,event_uptime,flag;` of each
// line exactly as scanLoggerFields (src/parse/containers/logger-record.ts) accepts them, and
// tests the message the way LkrgByteFilter (src/parse/lkrg-prefilter.ts) does. The results go
// into column tables the JavaScript driver (src/sources/logger-line-scanner.ts) reads. A line
// the scanner does not accept is only marked: the driver hands it to the JavaScript scanner,
// which names the reason, so both stay the single source of the record format's rules.
//
// Memory: [64][input: inputCap bytes + 128 slack for wide reads][i32 columns][f64 columns],
// laid out by init().

/** Lines per scan() call (the column tables' length). */
const CAP: i32 = 8192;
/** Largest exact integer of a JavaScript number (2^53 - 1). */
const MAX_SAFE: u64 = 9007199254740991;

/** Status bits of a line. */
const OK: i32 = 1; // the header is valid: the columns hold its fields
const CANDIDATE: i32 = 2; // the message may be LKRG output (LkrgByteFilter.test would say true)
const CONTINUATION: i32 = 4; // flag 'c'

let input: usize = 0;
let colStart: usize = 0;
let colEnd: usize = 0;
let colMsg: usize = 0;
let colStatus: usize = 0;
let colPrio: usize = 0;
let colRecv: usize = 0;
let colSend: usize = 0;
let colSendUp: usize = 0;
let colSeq: usize = 0;
let colEvUp: usize = 0;
/** Input index just after the last line scan() consumed. */
let scanned: i32 = 0;
/** The fast path's stream state (f64 slots, see ST_*), shared with the driver. */
let st: usize = 0;
/** The last RING (seq, hash) pairs the fast path consumed (f64 pairs), and how many in total. */
let ring: usize = 0;
let ringCount: i32 = 0;

// Slots of the state block: the driver writes the inputs before scan(), reads the outputs after
// (the stream slots 1-6 are the stream's state after the consumed lines when ST_FAST_LINES > 0).
const ST_ENABLED = 0; // in: 1 = consume ordinary lines of the stream in place (the fast path)
const ST_BOOT_WALL = 1; // in/out: the stream's bootWallUs
const ST_LAST_SEQ = 2; // in/out: lastSeq
const ST_LAST_UP = 3; // out: lastUptimeUs
const ST_LAST_SEND = 4; // in/out: lastSendUs (kept when no consumed line moves it)
const ST_LAST_SEND_UP = 5; // in/out: lastSendUptimeUs
const ST_LAST_FLAG_C = 6; // out: 1 when the stream's last flag is 'c'
const ST_BUDGET = 7; // in: stop consuming once this many bytes were consumed (the batch is then full)
const ST_MAX_LINE = 8; // in: longer lines are the driver's (cut and reported)
const ST_FAST_LINES = 9; // out: lines consumed by the fast path
const ST_FAST_BYTES = 10; // out: their bytes, newlines included
const ST_MAX_ROWS = 11; // in: rows per call (with the fast path the first row ends the call anyway)
const RING: i32 = 64;

/** Lays the memory out for inputs of up to `cap` bytes; returns the input address. Call once. */
export function init(cap: i32): usize {
  // 64 bytes before the input: digit words of a first field are read from up to 16 bytes before it
  const base: usize = ((__heap_base + 15) & ~(<usize>15)) + 64;
  input = base;
  const i32s: usize = (input + <usize>cap + 128) & ~(<usize>7);
  colStart = i32s;
  colEnd = colStart + <usize>CAP * 4;
  colMsg = colEnd + <usize>CAP * 4;
  colStatus = colMsg + <usize>CAP * 4;
  colPrio = colStatus + <usize>CAP * 4;
  colRecv = colPrio + <usize>CAP * 4;
  colSend = colRecv + <usize>CAP * 8;
  colSendUp = colSend + <usize>CAP * 8;
  colSeq = colSendUp + <usize>CAP * 8;
  colEvUp = colSeq + <usize>CAP * 8;
  st = colEvUp + <usize>CAP * 8;
  ring = st + 16 * 8;
  const top: usize = ring + <usize>RING * 16;
  const have: usize = <usize>memory.size() << 16;
  if (top > have) memory.grow(<i32>((top - have + 65535) >> 16));
  return input;
}

export function capacity(): i32 {
  return CAP;
}
export function startColumn(): usize {
  return colStart;
}
export function recvColumn(): usize {
  return colRecv;
}
export function scannedTo(): i32 {
  return scanned;
}
export function stateBlock(): usize {
  return st;
}
export function ringBlock(): usize {
  return ring;
}
/** (seq, hash) pairs the fast path put in the ring during the last scan() (the ring keeps the last RING). */
export function ringPairs(): i32 {
  return ringCount;
}

/** Index of the first byte 10 in input[from, len), or -1. Reads up to 15 bytes past len (slack). */
function newline(from: i32, len: i32): i32 {
  const nl = i8x16.splat(10);
  let i = from;
  while (i < len) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(input + <usize>i), nl));
    if (m != 0) {
      const at = i + ctz(m);
      return at < len ? at : -1;
    }
    i += 16;
  }
  return -1;
}

/** True when input[from, end) holds `LKRG` or `lkrg` entirely. */
function hasLkrg(from: i32, end: i32): bool {
  const last = end - 4; // last index where a 4-byte word fits
  if (last < from) return false;
  const L = i8x16.splat(0x4c);
  const K = i8x16.splat(0x4b);
  const l = i8x16.splat(0x6c);
  const k = i8x16.splat(0x6b);
  let i = from;
  while (i <= last) {
    const a = v128.load(input + <usize>i);
    const b = v128.load(input + <usize>i + 1);
    // positions of `LK` or `lk`, then the whole word is compared
    let m = i8x16.bitmask(v128.or(v128.and(i8x16.eq(a, L), i8x16.eq(b, K)), v128.and(i8x16.eq(a, l), i8x16.eq(b, k))));
    while (m != 0) {
      const at = i + ctz(m);
      if (at > last) return false;
      const w = load<u32>(input + <usize>at);
      if (w == 0x47524b4c || w == 0x67726b6c) return true;
      m &= m - 1;
    }
    i += 16;
  }
  return false;
}

/** Positions of `,` in the 64 bytes at input + at, as bits. */
function commas64(at: i32): u64 {
  const c = i8x16.splat(44);
  const q = input + <usize>at;
  const m0 = <u64>i8x16.bitmask(i8x16.eq(v128.load(q), c));
  const m1 = <u64>i8x16.bitmask(i8x16.eq(v128.load(q + 16), c));
  const m2 = <u64>i8x16.bitmask(i8x16.eq(v128.load(q + 32), c));
  const m3 = <u64>i8x16.bitmask(i8x16.eq(v128.load(q + 48), c));
  return m0 | (m1 << 16) | (m2 << 32) | (m3 << 48);
}

const ZEROS: u64 = 0x3030303030303030;
/** Returned by digits() for a run that is not all decimal digits. */
const NOT_DIGITS: u64 = 0xffffffffffffffff;

/**
 * The value of the last `n` (1..8) bytes before input + e as decimal digits, or NOT_DIGITS.
 * Eight bytes at a time (SWAR): the bytes before the run read as leading zeros.
 */
function eight(e: i32, n: i32): u64 {
  let x = load<u64>(input + <usize>e - 8);
  if (n < 8) {
    const low: u64 = (<u64>1 << (<u64>(8 - n) << 3)) - 1;
    x = (x & ~low) | (ZEROS & low);
  }
  if ((((x + 0x4646464646464646) | (x - ZEROS)) & 0x8080808080808080) != 0) return NOT_DIGITS;
  x = ((x & 0x0f0f0f0f0f0f0f0f) * 2561) >> 8;
  x = ((x & 0x00ff00ff00ff00ff) * 6553601) >> 16;
  return ((x & 0x0000ffff0000ffff) * 42949672960001) >> 32;
}

/** The value of input[s, e) (1..16 bytes) as decimal digits, or NOT_DIGITS. */
function digits(s: i32, e: i32): u64 {
  const n = e - s;
  if (n <= 8) return eight(e, n);
  const lo = eight(e, 8);
  const hi = eight(e - 8, n - 8);
  if ((lo | hi) == NOT_DIGITS) return NOT_DIGITS;
  return hi * 100000000 + lo;
}

/**
 * Scans the lines of input[from, len) (len: the bytes the driver copied in; the input is
 * expected to end with a newline, a tail without one is left for the caller) and puts them in
 * the columns, at most CAP (and at most the state's ST_MAX_ROWS). Positions in the columns are input indexes plus `bias` (the
 * caller's buffer offset). scannedTo() tells where to continue.
 *
 * With the fast path enabled, an ordinary line (valid header, not an LKRG candidate, not
 * overlong) that simply continues the one boot stream (the next sequence number, the same
 * boot wall time within the tracker's tolerance) is consumed here: the stream state is
 * updated exactly as LoggerBootTracker.track would, its (seq, hash) pair goes to the ring and
 * no row is written. Any other line gets a row and ends the call, so the driver brings the
 * tracker up to date before it handles that line. Returns the number of rows.
 */
export function scan(from: i32, len: i32, bias: i32): i32 {
  let p = from;
  let n: i32 = 0;
  const fast = load<f64>(st + ST_ENABLED * 8) == 1;
  const budget = <i64>load<f64>(st + ST_BUDGET * 8);
  const maxLine = <i32>load<f64>(st + ST_MAX_LINE * 8);
  const maxRows = min(CAP, max(1, <i32>load<f64>(st + ST_MAX_ROWS * 8)));
  let fastLines: i32 = 0;
  let fastBytes: i64 = 0;
  ringCount = 0;
  while (n < maxRows) {
    const nl = newline(p, len);
    if (nl < 0) break;
    const k = <usize>n << 2;
    const k8 = <usize>n << 3;
    const status = header(p, nl, k, k8, bias);
    if (fast && (status & (OK | CANDIDATE)) == OK && nl - p <= maxLine && continues(k, k8, nl, bias, status)) {
      fastLines++;
      fastBytes += nl - p + 1;
      p = nl + 1;
      if (fastBytes >= budget) break;
      continue;
    }
    store<i32>(colStart + k, p + bias);
    store<i32>(colEnd + k, nl + bias);
    store<i32>(colStatus + k, status);
    n++;
    p = nl + 1;
    if (fast) break;
  }
  scanned = p;
  store<f64>(st + ST_FAST_LINES * 8, <f64>fastLines);
  store<f64>(st + ST_FAST_BYTES * 8, <f64>fastBytes);
  return n;
}

/**
 * The fast path's test and update for the line whose header is in row k (message up to end):
 * LoggerBootTracker.track with one stream, the same double arithmetic, and recordHash.
 */
function continues(k: usize, k8: usize, end: i32, bias: i32, status: i32): bool {
  const send = load<f64>(colSend + k8);
  const sendUp = load<f64>(colSendUp + k8);
  const seq = load<f64>(colSeq + k8);
  const bw = send - sendUp;
  const lastSendUp = load<f64>(st + ST_LAST_SEND_UP * 8);
  const d = Math.abs(bw - load<f64>(st + ST_BOOT_WALL * 8));
  const tol = 2000000.0 + Math.abs(sendUp - lastSendUp) * 0.001;
  if (!(d <= tol)) return false;
  if (seq != load<f64>(st + ST_LAST_SEQ * 8) + 1) return false;
  const up = load<f64>(colEvUp + k8);
  const flagC: i32 = status & CONTINUATION ? 1 : 0;
  store<f64>(st + ST_LAST_SEQ * 8, seq);
  store<f64>(st + ST_LAST_UP * 8, up);
  store<f64>(st + ST_LAST_FLAG_C * 8, <f64>flagC);
  if (sendUp >= lastSendUp) {
    store<f64>(st + ST_LAST_SEND * 8, send);
    store<f64>(st + ST_LAST_SEND_UP * 8, sendUp);
    store<f64>(st + ST_BOOT_WALL * 8, bw);
  }
  // recordHash (src/sources/logger-boot-tracker.ts), in 32-bit integer arithmetic
  const u = <i64>up;
  const msg = load<i32>(colMsg + k) - bias;
  let h: i32 = (<i32>u ^ (<i32>(u >>> 32) * <i32>0x85ebca6b)) * <i32>0x9e3779b1;
  h ^= (load<i32>(colPrio + k) << 21) ^ ((end - msg) << 1) ^ flagC;
  if (msg + 4 <= end) h = (h ^ load<i32>(input + <usize>msg)) * <i32>0xc2b2ae35;
  const hash = <u32>(h ^ <i32>(<u32>h >>> 15));
  const slot = ring + (<usize>(ringCount & (RING - 1)) << 4);
  store<f64>(slot, seq);
  store<f64>(slot + 8, <f64>hash);
  ringCount++;
  return true;
}

/** Reads the header of input[p, end) into row k; returns the status bits (0: not accepted). */
function header(p: i32, end: i32, k: usize, k8: usize, bias: i32): i32 {
  let s = p;
  let window = p;
  let mask = commas64(p);
  let prio: u64 = 0;
  for (let f = 0; f < 6; f++) {
    // the next comma: each field is 1..16 digits, so it is at most 16 bytes after s
    while (mask == 0) {
      window += 64;
      if (window > s + 16 || window >= end) return 0;
      mask = commas64(window);
    }
    const e = window + <i32>ctz(mask);
    mask &= mask - 1;
    if (e >= end || e == s || e - s > 16) return 0;
    const v = digits(s, e);
    if (v > MAX_SAFE) return 0; // NOT_DIGITS too
    const d = <f64><i64>v; // v <= 2^53: the signed conversion is exact (and cheaper)
    if (f == 0) store<f64>(colRecv + k8, d);
    else if (f == 1) store<f64>(colSend + k8, d);
    else if (f == 2) store<f64>(colSendUp + k8, d);
    else if (f == 3) prio = v;
    else if (f == 4) store<f64>(colSeq + k8, d);
    else store<f64>(colEvUp + k8, d);
    s = e + 1;
  }
  let i = s;
  if (prio > 1023) return 0;
  if (i >= end) return 0;
  const flag = load<u8>(input + <usize>i);
  if (flag != 45 && flag != 99) return 0;
  if (i + 1 >= end || load<u8>(input + <usize>(i + 1)) != 59) return 0;
  const msg = i + 2;
  store<i32>(colPrio + k, <i32>prio);
  store<i32>(colMsg + k, msg + bias);
  let status = OK;
  if (flag == 99) status |= CONTINUATION;
  if (msg < end && candidate(msg, end)) status |= CANDIDATE;
  return status;
}

/** True when input[at, end) has no backslash before index at + n (an escape could hide a word there). */
function plain(at: i32, end: i32, n: i32): bool {
  const stop = min(end, at + n);
  for (let i = at; i < stop; i++) if (load<u8>(input + <usize>i) == 92) return false;
  return true;
}

/**
 * LkrgByteFilter.test (src/parse/lkrg-prefilter.ts): continuation lines, stack frames and
 * escaped tabs (space, tab, backslash first), `Kernel panic`, `Hidden module`, `HIDDEN MODULE`,
 * `---`, `name[` at the start (or a backslash within that many bytes), `LKRG`/`lkrg` anywhere.
 */
function candidate(msg: i32, end: i32): bool {
  const q = input + <usize>msg;
  const n = end - msg;
  const c = load<u8>(q);
  if (c == 32 || c == 9 || c == 92) return true;
  if (c == 75) {
    // Kernel panic
    if ((n >= 12 && load<u64>(q) == 0x70206c656e72654b && load<u32>(q + 8) == 0x63696e61) || !plain(msg, end, 12)) return true;
  } else if (c == 72) {
    // Hidden module, HIDDEN MODULE
    if (n >= 13 && load<u8>(q + 12) == 101 && load<u64>(q) == 0x6d206e6564646948 && load<u32>(q + 8) == 0x6c75646f) return true;
    if (n >= 13 && load<u8>(q + 12) == 69 && load<u64>(q) == 0x4d204e4544444948 && load<u32>(q + 8) == 0x4c55444f) return true;
    if (!plain(msg, end, 13)) return true;
  } else if (c == 45) {
    // ---
    if ((n >= 3 && load<u16>(q) == 0x2d2d && load<u8>(q + 2) == 45) || !plain(msg, end, 3)) return true;
  } else if (c == 110) {
    // name[
    if ((n >= 5 && load<u32>(q) == 0x656d616e && load<u8>(q + 4) == 91) || !plain(msg, end, 5)) return true;
  }
  return hasLkrg(msg, end);
}
