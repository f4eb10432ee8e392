/**
 * The file and stdout outputs: transactional sinks. They are written inside the pipeline's
 * commit, so they need no queue: the pipeline writes a batch's lines, then commits the
 * source positions together with the file's new length. On start the file is truncated back
 * to the last committed length, so after a crash (even SIGKILL between the write and the
 * commit) the file holds every event exactly once.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** What a transactional sink stores in the state file. */
export interface FileSinkState {
  readonly path: string;
  readonly length: number;
}

/**
 * A sink written synchronously within the pipeline's commit. Called by the pipeline only:
 * `open` once with the committed state, `write` per batch (returns the state to commit),
 * `close` at the end. Errors are I/O errors (disk full, permission): the pipeline stops and
 * the uncommitted batch is re-read on the next start.
 */
export interface TransactionalSink {
  readonly name: string;
  readonly format: 'ecs' | 'cef';
  open(committed: FileSinkState | undefined): void;
  /** Appends lines (each without newline); returns the state to commit with the batch. */
  write(lines: readonly string[]): FileSinkState | undefined;
  close(): void;
}

/** Appends NDJSON (ECS) or CEF lines to a file; truncates to the committed length on open. */
export class FileSink implements TransactionalSink {
  private fd = -1;
  private length = 0;
  private scratch = Buffer.alloc(0);

  constructor(
    readonly name: string,
    readonly path: string,
    readonly format: 'ecs' | 'cef',
    private readonly fsync: boolean,
  ) {}

  open(committed: FileSinkState | undefined): void {
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, 'a+');
    const size = fstatSync(this.fd).size;
    // Only what was committed together with a source position is kept: a tail written after
    // the last commit (crash between write and commit) is cut, and re-read from the source.
    const keep = committed && committed.path === this.path ? Math.min(committed.length, size) : 0;
    if (size !== keep) ftruncateSync(this.fd, keep);
    this.length = keep;
  }

  write(lines: readonly string[]): FileSinkState {
    if (lines.length) {
      this.followRotation();
      // UTF-8 straight into one reused buffer: no joined string, no second copy
      let max = lines.length;
      for (let i = 0; i < lines.length; i++) max += lines[i]!.length * 3;
      if (this.scratch.length < max) this.scratch = Buffer.allocUnsafe(Math.max(max, this.scratch.length * 2));
      const buf = this.scratch;
      let end = 0;
      for (let i = 0; i < lines.length; i++) {
        end += buf.write(lines[i]!, end, 'utf8');
        buf[end++] = 10;
      }
      let off = 0;
      while (off < end) off += writeSync(this.fd, buf, off, end - off, this.length + off);
      this.length += end;
      if (this.fsync) fsyncSync(this.fd);
      // do not keep a huge buffer after an unusually large batch
      if (this.scratch.length > 16 * 1024 * 1024) this.scratch = Buffer.alloc(0);
    }
    return { path: this.path, length: this.length };
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * logrotate of the output file, checked before each batch: after rename-and-create (or a
   * delete) the path names another file, or none: it is opened (created) and written from its
   * end; after copytruncate the file is shorter than written: the length follows it (the file is
   * opened O_APPEND, so no hole of NUL bytes is left). The committed state then names the new
   * content, so a restart keeps it whole.
   */
  private followRotation(): void {
    let st: Stats | undefined;
    try {
      st = statSync(this.path);
    } catch {
      st = undefined;
    }
    const own = fstatSync(this.fd);
    if (st === undefined || st.ino !== own.ino || st.dev !== own.dev) {
      closeSync(this.fd);
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, 'a+');
      this.length = fstatSync(this.fd).size;
    } else if (own.size < this.length) this.length = own.size;
  }
}

/** Writes lines to a stream (stdout); nothing to commit, so at-least-once only. */
export class StreamSink implements TransactionalSink {
  constructor(
    readonly name: string,
    readonly format: 'ecs' | 'cef',
    private readonly out: { write(chunk: string): boolean } = process.stdout,
  ) {}
  open(): void {}
  write(lines: readonly string[]): undefined {
    if (lines.length) this.out.write(lines.join('\n') + '\n');
    return undefined;
  }
  close(): void {}
}
