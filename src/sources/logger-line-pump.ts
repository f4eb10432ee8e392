/**
 * Moves the lines of pushed chunks into a {@link LoggerLineHandler}, batch by batch: runs of
 * whole lines go through the WebAssembly {@link LoggerLineScanner} (one call reads every
 * header of the run), a line carried over between chunks, an overlong line and any line the
 * scanner does not accept go through the handler's JavaScript scanner. Either way the handler
 * sees the same lines with the same fields, offsets and line numbers.
 *
 * Used by the logger-store source (replay, live tail and a rotated archive's rest). Push a
 * chunk into the splitter, then call {@link pump} until it returns false; when it returns true
 * the batch is full: take it with a position at {@link consumed} / {@link line}.
 */
import type { BatchBuilder } from './batch-builder.js';
import type { LineSplitter } from './line-splitter.js';
import type { LoggerLineHandler } from './logger-line-handler.js';
import {
  LINE_CANDIDATE, LINE_CONTINUATION, LINE_OK, ST_BOOT_WALL, ST_BUDGET, ST_ENABLED, ST_FAST_BYTES, ST_FAST_LINES,
  ST_LAST_FLAG_C, ST_LAST_SEND, ST_LAST_SEND_UP, ST_LAST_SEQ, ST_LAST_UP, ST_MAX_LINE, ST_MAX_ROWS, type LoggerLineScanner,
} from './logger-line-scanner.js';

/** See module doc. Never throws for any input bytes. */
export class LoggerLinePump {
  /** Lines handed to the handler so far (1-based number of the last one). */
  line: number;
  /** Stream offset just after the last line handed to the handler. */
  consumed: number;

  private k = 0;
  private n = 0;
  private inRun = false;
  private runBuf: Buffer = Buffer.alloc(0);
  private runEnd = 0;
  /** Stream offset minus buffer index inside the current run. */
  private bias = 0;

  /**
   * @param scanner null: every line goes through the JavaScript scanner. It may be shared by
   *   readers that take turns (the pump rescans its run when another one used it meanwhile).
   * @param line lines already consumed in this file
   */
  constructor(
    private readonly sp: LineSplitter,
    private readonly h: LoggerLineHandler,
    private readonly b: BatchBuilder,
    private readonly scanner: LoggerLineScanner | null,
    line: number,
  ) {
    this.line = line;
    this.consumed = sp.consumed;
  }

  /** Handles lines until the batch is full (true) or the pushed chunk is used up (false). */
  pump(): boolean {
    const { sp, h, b, scanner: sc } = this;
    for (;;) {
      // another reader used the shared scanner since: scan the rest of the run again
      if (this.inRun && sc!.owner !== this) this.load(sc!, this.consumed - this.bias, this.runEnd);
      if (this.k < this.n) {
        this.scannedLine(sc!, this.k++);
        if (b.full()) return true;
        continue;
      }
      if (this.inRun) {
        if (this.step(sc!)) {
          if (b.full()) return true;
          continue;
        }
        this.inRun = false;
      }
      if (sc !== null && sp.takeRun(sc.inputCap)) {
        this.runBuf = sp.buf;
        this.runEnd = sp.runEnd;
        this.bias = sp.runOffset - sp.runStart;
        this.load(sc, sp.runStart, sp.runEnd);
        continue;
      }
      if (!sp.next()) return false;
      this.line++;
      h.line(b, sp.buf, sp.start, sp.end, sp.lineOffset, this.line, sp.overlong);
      b.bytes += sp.lineBytes;
      this.consumed = sp.consumed;
      if (b.full()) return true;
    }
  }

  private load(sc: LoggerLineScanner, from: number, to: number): void {
    sc.owner = this;
    sc.load(this.runBuf, from, to);
    this.inRun = true;
    this.k = 0;
    this.n = 0;
  }

  /**
   * One scanner call: with the fast path (the handler's one boot stream, see
   * LoggerLineHandler.fastStream) ordinary lines are consumed in WebAssembly and their effect
   * on the stream, the batch, the line count and the offset is applied here; the rows it
   * returns are handled by the caller. False when the run is used up.
   */
  private step(sc: LoggerLineScanner): boolean {
    const h = this.h;
    const st = sc.state;
    const stream = h.fastStream();
    if (stream !== undefined) {
      st[ST_ENABLED] = 1;
      st[ST_BOOT_WALL] = stream.bootWallUs;
      st[ST_LAST_SEQ] = stream.lastSeq;
      st[ST_LAST_SEND] = stream.lastSendUs;
      st[ST_LAST_SEND_UP] = stream.lastSendUptimeUs;
      st[ST_BUDGET] = this.b.bytesLeft();
      st[ST_MAX_LINE] = this.sp.maxLineBytes;
      st[ST_MAX_ROWS] = 1; // the first row ends the call: the tracker must see it up to date
    } else {
      st[ST_ENABLED] = 0;
      // one line at a time while the fast path may come at the next line (the first record
      // of a stream, a pending duplicate run), a few with several boot streams, the whole
      // table when every line becomes a record anyway
      st[ST_MAX_ROWS] = h.allLines ? sc.capacity : h.tracker.state.boots.length > 1 ? 64 : 1;
    }
    if (!sc.scan()) return false;
    this.k = 0;
    this.n = sc.count;
    const lines = st[ST_FAST_LINES]!;
    if (stream !== undefined && lines > 0) {
      // the stream as track() would have left it after these lines
      stream.bootWallUs = st[ST_BOOT_WALL]!;
      stream.lastSeq = st[ST_LAST_SEQ]!;
      stream.lastUptimeUs = st[ST_LAST_UP]!;
      stream.lastSendUs = st[ST_LAST_SEND]!;
      stream.lastSendUptimeUs = st[ST_LAST_SEND_UP]!;
      stream.lastFlag = st[ST_LAST_FLAG_C] === 1 ? 'c' : '-';
      h.tracker.pushRecentRun(stream, sc.ring, sc.ringPairs());
      this.line += lines;
      this.b.bytes += st[ST_FAST_BYTES]!;
      this.consumed = sc.fastEnd + this.bias;
    }
    return true;
  }

  private scannedLine(sc: LoggerLineScanner, k: number): void {
    const buf = this.runBuf;
    const s = sc.start[k]!;
    const e = sc.end[k]!;
    const offset = s + this.bias;
    const line = ++this.line;
    const len = e - s;
    const st = sc.status[k]!;
    const h = this.h;
    if (len > this.sp.maxLineBytes) {
      h.line(this.b, buf, s, s + this.sp.maxLineBytes, offset, line, true);
    } else if ((st & LINE_OK) === 0) {
      h.line(this.b, buf, s, e, offset, line, false);
    } else {
      const f = h.f;
      f.recvUs = sc.recvUs[k]!;
      f.sendUs = sc.sendUs[k]!;
      f.sendUptimeUs = sc.sendUptimeUs[k]!;
      f.prio = sc.prio[k]!;
      f.seq = sc.seq[k]!;
      f.eventUptimeUs = sc.eventUptimeUs[k]!;
      f.flag = (st & LINE_CONTINUATION) !== 0 ? 'c' : '-';
      f.msgStart = sc.msg[k]!;
      h.scanned(this.b, buf, s, e, offset, line, (st & LINE_CANDIDATE) !== 0);
    }
    this.b.bytes += len + 1;
    this.consumed = offset + len + 1;
  }
}
