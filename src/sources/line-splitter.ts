/**
 * Pull-style newline splitter over a stream of Buffer chunks. Used by every file/stream
 * source: push a chunk, then call {@link LineSplitter.next} until it returns false.
 * Lines longer than `maxLineBytes` are cut: the first `maxLineBytes` bytes are reported
 * once the line ends (flag {@link LineSplitter.overlong}) and the rest is skipped, so memory
 * stays bounded whatever the input.
 */
export class LineSplitter {
  /** Buffer holding the current line (valid after next() returned true). */
  buf: Buffer = Buffer.alloc(0);
  /** Start (inclusive) and end (exclusive, newline not included) of the current line. */
  start = 0;
  end = 0;
  /** Absolute stream offset of the first byte of the current line. */
  lineOffset = 0;
  /** Total bytes the current line had (including the newline) in the stream. */
  lineBytes = 0;
  /** True when the current line was longer than the cap and is cut. */
  overlong = false;
  /** Absolute stream offset just after the last line returned by next(). */
  consumed: number;

  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private carry: Buffer[] = [];
  private carryLen = 0;
  private carryTotal = 0;
  private carryOffset = 0;

  /**
   * @param startOffset absolute offset of the first byte that will be pushed
   * @param maxLineBytes cap per line (default 64 KiB)
   */
  constructor(startOffset = 0, readonly maxLineBytes = 64 * 1024) {
    this.consumed = startOffset;
  }

  /** Adds a chunk; call only after next() returned false (the previous chunk is used up). */
  push(chunk: Buffer): void {
    this.chunk = chunk;
    this.pos = 0;
  }

  /** Advances to the next complete line. Returns false when more input is needed. */
  next(): boolean {
    const chunk = this.chunk;
    const nl = chunk.indexOf(10, this.pos);
    if (nl < 0) {
      if (this.pos < chunk.length) {
        if (this.carryTotal === 0) this.carryOffset = this.consumed;
        const room = this.maxLineBytes - this.carryLen;
        const take = Math.min(room, chunk.length - this.pos);
        if (take > 0) {
          // copy: the caller may reuse the chunk's memory
          this.carry.push(Buffer.from(chunk.subarray(this.pos, this.pos + take)));
          this.carryLen += take;
        }
        this.carryTotal += chunk.length - this.pos;
        this.pos = chunk.length;
      }
      return false;
    }
    if (this.carryTotal > 0) {
      const room = this.maxLineBytes - this.carryLen;
      const take = Math.min(room, nl - this.pos);
      if (take > 0) this.carry.push(chunk.subarray(this.pos, this.pos + take));
      const total = this.carryTotal + (nl - this.pos);
      this.buf = Buffer.concat(this.carry, this.carryLen + Math.max(0, take));
      this.start = 0;
      this.end = this.buf.length;
      this.lineOffset = this.carryOffset;
      this.lineBytes = total + 1;
      this.overlong = total > this.maxLineBytes;
      this.carry = [];
      this.carryLen = 0;
      this.carryTotal = 0;
    } else {
      const len = nl - this.pos;
      this.buf = chunk;
      this.start = this.pos;
      this.lineOffset = this.consumed;
      this.lineBytes = len + 1;
      if (len > this.maxLineBytes) {
        this.end = this.pos + this.maxLineBytes;
        this.overlong = true;
      } else {
        this.end = nl;
        this.overlong = false;
      }
    }
    this.pos = nl + 1;
    this.consumed = this.lineOffset + this.lineBytes;
    return true;
  }

  /** Start of the last run taken by {@link takeRun} in {@link buf}. */
  runStart = 0;
  /** End of that run (just after its last newline). */
  runEnd = 0;
  /** Absolute stream offset of the run's first byte. */
  runOffset = 0;

  /**
   * Takes every complete line left in the current chunk at once, when no line is carried over
   * from an earlier chunk: `buf[runStart, runEnd)` then holds whole lines, each ending with a
   * newline, at stream offset `runOffset`, and the splitter moves past them. Lines longer than
   * the cap are the caller's to cut. At most `maxBytes` are taken (a run ends on a line end).
   * Returns false when next() must be used instead (a carried line, or no newline left).
   */
  takeRun(maxBytes: number): boolean {
    if (this.carryTotal > 0) return false;
    const chunk = this.chunk;
    const from = this.pos;
    const last = chunk.lastIndexOf(10, Math.min(chunk.length, from + maxBytes) - 1);
    if (last < from) return false;
    this.buf = chunk;
    this.runStart = from;
    this.runEnd = last + 1;
    this.runOffset = this.consumed;
    this.pos = last + 1;
    this.consumed += last + 1 - from;
    return true;
  }

  /** Bytes of an incomplete last line held so far (0 when the input ended on a newline). */
  pendingBytes(): number {
    return this.carryTotal;
  }

  /** The incomplete tail (capped), for reporting at end of input. Resets the carry. */
  takeTail(): { buf: Buffer; offset: number; bytes: number } | null {
    if (this.carryTotal === 0) return null;
    const r = { buf: Buffer.concat(this.carry, this.carryLen), offset: this.carryOffset, bytes: this.carryTotal };
    this.carry = [];
    this.carryLen = 0;
    this.carryTotal = 0;
    return r;
  }
}
