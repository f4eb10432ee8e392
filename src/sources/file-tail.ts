/**
 * Live file following shared by the logger-store source and the text source in live mode:
 * {@link FileTail} reads one path as it grows, across truncation, rewrite and logrotate, and
 * hands complete lines to a {@link TailLines} strategy that turns them into records.
 */
import { fstatSync, readSync, statSync, type Stats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { RecordBatch, SourceContext, SourcePosition } from '../core/types.js';
import { BatchBuilder, BatchMerger, sleep, type BatchLimits } from './batch-builder.js';
import {
  CHUNK_BYTES, FINGERPRINT_BYTES, fingerprint, headMatches, identify, isGzipName, readChunks, type FileIdentity, type RotatedName,
} from './file-identity.js';
import { LineSplitter } from './line-splitter.js';

/** Options of a {@link FileTail}; the sources pass their own options through. */
export interface FileTailOptions extends BatchLimits {
  /** Cap per line; longer lines are cut (default 64 KiB). */
  readonly maxLineBytes?: number;
  /** Read size (default 1 MiB). */
  readonly chunkBytes?: number;
  /**
   * How many rotated files stay followed (default 16): a writer may keep appending to the file
   * it opened, so after rename-and-create rotations every rotated file may still grow; past
   * this many the oldest is closed (logged). 0: rotated files are read to their end at the
   * rotation and then closed.
   */
  readonly rotatedFollowMax?: number;
  /**
   * A followed rotated file that was deleted (logrotate's `compress` or its `rotate N` limit)
   * is still read through the open descriptor until it has not grown for this long (default
   * 3,600,000 ms = 1 h). Its inode is freed when closed.
   */
  readonly rotatedDeletedFollowMs?: number;
  /**
   * Where the files found on the very first start of the source are read from (config
   * `start_at`): `beginning` (default) reads what they hold; `end` only what is appended from
   * then on. Files found later, and every restart, are unaffected (see {@link FirstSight}).
   */
  readonly startAt?: 'beginning' | 'end';
  /**
   * Bytes one poll reads of one followed name (its rotated files and the live file together),
   * default {@link ROUND_READ_BYTES}. A file with more waits for the next round, which then
   * begins at once: a host with a large backlog takes its turn with the others instead of
   * holding back their new lines until it is read to the end.
   */
  readonly roundReadBytes?: number;
  /** How often the `/metrics` backlog is measured again (default 5 s; tests make it short). */
  readonly gaugeIntervalMs?: number;
}

/**
 * Default of {@link FileTailOptions.roundReadBytes}: 16 MiB, some 100,000 store records, under a
 * second of work. Smaller shares cost CPU when catching up (4 MiB: 15% more for a 300 MB
 * backlog of 20 hosts, measured: the merged batches then live longer and more of them survive
 * into the old generation of the garbage collector); 16 MiB costs nothing measurable.
 */
export const ROUND_READ_BYTES = 16 * 1024 * 1024;

/**
 * How a tail without a saved position begins. `start`: the live file from byte 0 (a file found
 * on the source's very first start; its rotated files are history, for `replay`). `end`: the
 * live file from its end, after its last complete line (the same, with `start_at: end`).
 * `rotated`: the rotated files of its name first, oldest first, then the live file from 0 (a
 * file found after the first start: logrotate rotated those while lkrg-siem was stopped).
 */
export type FirstSight = 'start' | 'end' | 'rotated';

/**
 * Moves the complete lines pushed into a splitter into a batch: {@link pump} handles lines
 * until the batch is full (true) or the pushed chunk is used up (false), and keeps
 * {@link line} / {@link consumed} at the last line it handled.
 */
export interface LinePumper {
  pump(): boolean;
  readonly line: number;
  readonly consumed: number;
}

/**
 * What a {@link FileTail} does with lines: the per-format part of following a file. Called
 * only by the tail; none of the methods may throw for any input bytes.
 */
export interface TailLines {
  /** Path the records name as their origin; the tail sets it to the file being read. */
  origin: string;
  /** A pumper over `sp` (lines already consumed in the file: `line`) filling `b`. */
  pumper(sp: LineSplitter, b: BatchBuilder, line: number): LinePumper;
  /** A last line that will never get its newline (the file rotated away or was truncated). */
  incomplete(b: BatchBuilder, buf: Buffer, offset: number, line: number, bytes: number): void;
  /** The file was truncated or rewritten in place and is read again from its start. */
  notice(b: BatchBuilder, offset: number, type: 'truncated', detail: string): void;
  /** Called before a batch is taken (pending summaries go into it). */
  flush(b: BatchBuilder): void;
  /** Extra fields of the saved position (the logger source's boot tracker state). */
  state(): Readonly<Record<string, unknown>>;
}

/** Saved position of one followed file (JSON), plus the fields {@link TailLines.state} adds. */
export interface TailPosition {
  readonly v: 1;
  /** Name of the file being read when the batch was cut (for diagnostics). */
  readonly name: string;
  readonly file: FileIdentity;
  /** Byte offset just after the last line of the batch. */
  readonly offset: number;
  /** Lines consumed in that file. */
  readonly line: number;
  /**
   * Rotated files still read because a writer may keep appending to them, oldest first:
   * identity and how far each was consumed.
   */
  readonly retired?: readonly RetiredPosition[];
  /** The one rotated file positions of lkrg-siem 0.1 before `retired` carried; read, never written. */
  readonly rotated?: RetiredPosition;
}

/** Progress in one rotated file of a {@link TailPosition}. */
export interface RetiredPosition {
  /** File name when the position was saved (diagnostics; the file is found by its identity). */
  readonly name: string;
  /** Identity of the file as it was followed (plain, before any compression). */
  readonly file: FileIdentity;
  /** Decompressed byte offset after the last consumed line. */
  readonly offset: number;
  readonly line: number;
}

/** Default of {@link FileTailOptions.rotatedFollowMax}. */
export const ROTATED_FOLLOW_MAX = 16;
/** Default of {@link FileTailOptions.rotatedDeletedFollowMs}. */
export const ROTATED_DELETED_FOLLOW_MS = 3_600_000;

/** Reads up to this many bytes synchronously (see {@link readAt}). */
const SYNC_READ_MAX = 64 * 1024;

/**
 * Reads up to `len` bytes at `pos` into `buf`; resolves with the count. A small read (a few
 * lines a host wrote since the last poll, a file head) is synchronous: on this kind of machine a
 * read through libuv's pool costs 50 to 100 µs of CPU against 2 µs for the same read in place,
 * and a log server polls thousands of files. Larger reads (a backlog) go through the pool, which
 * also lets the event loop run (signals, /health, the delivery threads' messages) meanwhile.
 */
async function readAt(fh: FileHandle, buf: Buffer, len: number, pos: number): Promise<number> {
  if (len <= SYNC_READ_MAX) return readSync(fh.fd, buf, 0, len, pos);
  return (await fh.read(buf, 0, len, pos)).bytesRead;
}

/** The fingerprint part of a file identity, from the head of an open file. */
async function headPrint(fh: FileHandle): Promise<Pick<FileIdentity, 'fp' | 'fpLen'>> {
  const head = Buffer.alloc(FINGERPRINT_BYTES);
  const bytesRead = await readAt(fh, head, FINGERPRINT_BYTES, 0);
  return { fp: fingerprint(head, bytesRead), fpLen: bytesRead };
}

/** `ident`, its fingerprint extended once the file was read past it (up to FINGERPRINT_BYTES). */
async function extendedPrint(fh: FileHandle, ident: FileIdentity, readPos: number): Promise<FileIdentity> {
  return ident.fpLen < FINGERPRINT_BYTES && readPos > ident.fpLen ? { ...ident, ...(await headPrint(fh)) } : ident;
}

/**
 * Offset just after the last newline before `size` (searched in the last 64 KiB), 0 when there
 * is none: where a reader that starts at the end of a file begins without taking half a line.
 */
async function lineStartBefore(fh: FileHandle, size: number): Promise<number> {
  const n = Math.min(size, 64 * 1024);
  if (n === 0) return 0;
  const b = Buffer.alloc(n);
  const { bytesRead } = await fh.read(b, 0, n, size - n);
  const nl = b.subarray(0, bytesRead).lastIndexOf(10);
  return nl < 0 ? (size > n ? size : 0) : size - n + nl + 1;
}

/** stat() of a path now, or undefined when it cannot be had (gone, renamed away). */
function statNow(p: string): Stats | undefined {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** fstat() of an open file now, or undefined when it fails. */
function fstatNow(fh: FileHandle): Stats | undefined {
  try {
    return fstatSync(fh.fd);
  } catch {
    return undefined;
  }
}

/** File identity of a position saved before the live file was opened. */
const NO_FILE: FileIdentity = Object.freeze({ dev: 0, ino: 0, fp: '', fpLen: 0 });

/**
 * A rotated file to read on from `offset`: an open descriptor to follow, or the chunks of a gzip
 * archive to finish (its line splitter is `sp` when the tail hands over its own).
 */
function retiredFile(
  src: { fh: FileHandle } | { archive: AsyncGenerator<Buffer> },
  ident: FileIdentity,
  path: string,
  at: { readPos: number; offset: number; line: number; sp: LineSplitter },
): RetiredFile {
  return { ...src, ident, path, ...at, grew: 'archive' in src, lastGrowthMs: Date.now(), deleted: false };
}

/** A rotated file a live tail still reads (see FileTail.retired). */
interface RetiredFile {
  /** Open descriptor of the rotated inode (followed), or undefined for an archive. */
  fh?: FileHandle | undefined;
  /** Chunks of a gzip archive holding the rotated file (read once to its end). */
  archive?: AsyncGenerator<Buffer>;
  /** Its identity; the fingerprint grows with what was read, up to FINGERPRINT_BYTES. */
  ident: FileIdentity;
  /** Its current name (records' origin). */
  path: string;
  readPos: number;
  offset: number;
  readonly sp: LineSplitter;
  line: number;
  /** It grew after the rotation (logged once). */
  grew: boolean;
  lastGrowthMs: number;
  /** Found deleted (logged once). */
  deleted: boolean;
}
/**
 * Live follower of one file (an lkrg-logger client file, a syslog file): reads what is
 * appended, survives truncation, rewrite in place and rotation, keeps following rotated files a
 * writer still appends to, and saves its progress as a {@link TailPosition}. The sources create
 * one per followed path and call {@link poll} at every poll interval; what the lines become is
 * the {@link TailLines} strategy's business. Never throws for file contents; fs errors on the
 * followed file are logged and retried at the next poll.
 */
export class FileTail {
  private fh: FileHandle | undefined;
  private ident: FileIdentity | undefined;
  private offset = 0; // consumed (complete lines)
  private readPos = 0; // bytes handed to the splitter
  private line = 0;
  private sp: LineSplitter;
  private started = false;
  private readonly b: BatchBuilder;
  private warned = new Set<string>();
  /**
   * Files this tail followed before rotations, oldest first, still read: a writer that keeps
   * its descriptor (an lkrg-logger session opens the client file once and never reopens it,
   * LKRG issue #320; rsyslog until its HUP) keeps appending to the renamed file after a
   * rename-and-create rotation, after the next rotation to the file renamed again, and after
   * logrotate compressed or removed it to the deleted inode, which only an open descriptor
   * still reaches. Drained before the live file at every poll; their progress is part of the
   * saved position (`retired`).
   */
  private retired: RetiredFile[] = [];
  /** Save the position as soon as the live file is open (it is read from 0, see poll). */
  private announce = false;
  /** Bytes the current poll may still read (see FileTailOptions.roundReadBytes). */
  private budget = 0;
  private unread = false;

  /** True when the last poll stopped at its read budget with more to read (poll again at once). */
  get more(): boolean {
    return this.unread;
  }

  /**
   * Bytes the followed files hold now beyond what was read (live file and followed rotated
   * files, one fstat each; gzip archives being finished count 0): the `/metrics` backlog.
   */
  unreadBytes(): number {
    const size = (fh: FileHandle | undefined): number | undefined => {
      const st = fh ? fstatNow(fh) : undefined;
      return st?.isFile() ? st.size : undefined;
    };
    const live = size(this.fh);
    let n = live !== undefined ? Math.max(0, live - this.readPos) : 0;
    for (const r of this.retired) {
      const rs = size(r.fh);
      if (rs !== undefined) n += Math.max(0, rs - r.readPos);
    }
    return n;
  }

  /** Files this tail reads: the live file (when open) and the rotated files it still follows. */
  fileCount(): number {
    return (this.fh !== undefined ? 1 : 0) + this.retired.length;
  }

  /**
   * @param streamId the position key in the state file
   * @param label what the file is, in warnings (a client IPv4, a path)
   * @param file the path to follow
   * @param archives the files of `file`'s name seen when the tail was created, oldest first (a
   *   rotated file compressed while lkrg-siem was stopped is looked for among the `.gz` ones)
   * @param firstSight how to begin when there is no saved position ({@link FirstSight}; the
   *   sources get it from {@link followFiles})
   * @param followedSinceMs when the source was first started (ms; {@link followFiles} keeps it):
   *   with `rotated`, rotated files last written before it are history and are not read
   */
  constructor(
    private readonly streamId: string,
    private readonly label: string,
    private readonly file: string,
    private readonly archives: readonly { readonly path: string; readonly rot: RotatedName }[],
    private readonly opts: FileTailOptions,
    private readonly ctx: SourceContext,
    private readonly lines: TailLines,
    private readonly firstSight: FirstSight = 'start',
    private readonly followedSinceMs = 0,
  ) {
    this.sp = new LineSplitter(0, opts.maxLineBytes);
    this.b = new BatchBuilder(opts);
  }

  async close(): Promise<void> {
    await this.closeCurrent();
    for (const r of this.retired.splice(0)) await this.closeRetired(r);
  }

  private async closeCurrent(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  /** Stops reading a rotated file: its torn last line (if any) is reported, the file closed. */
  private async closeRetired(r: RetiredFile): Promise<void> {
    const tail = r.sp.takeTail();
    if (tail) {
      const origin = this.lines.origin;
      this.lines.origin = r.path;
      this.lines.incomplete(this.b, tail.buf, tail.offset, r.line + 1, tail.bytes);
      this.lines.origin = origin;
    }
    if (r.fh) await r.fh.close().catch(() => undefined);
    if (r.archive) await r.archive.return(undefined).catch(() => undefined);
  }

  /** Moves the followed file to the rotated files (the live path now names another inode). */
  private async retire(rotatedPath: string | null): Promise<void> {
    // the rotation also renamed the files rotated before (`.1` -> `.2`)
    for (const r of this.retired) if (r.fh) await this.refreshRetiredPath(r);
    const ident = this.ident!;
    const p = rotatedPath ?? `${this.file} (rotated, inode ${ident.ino})`;
    this.retired.push(retiredFile({ fh: this.fh! }, ident, p, { readPos: this.readPos, offset: this.offset, line: this.line, sp: this.sp }));
    // until the new live file is open, a saved position names no live file
    this.fh = undefined;
    this.ident = undefined;
    this.offset = 0;
    this.readPos = 0;
    this.line = 0;
    const max = this.opts.rotatedFollowMax ?? ROTATED_FOLLOW_MAX;
    while (this.retired.length > max) {
      const r = this.retired.shift()!;
      if (max > 0) this.ctx.log('warn', `${r.path}: no longer read (more than ${max} rotated files of ${this.label} are followed, rotated_follow_max); what its writer still appends to it is not forwarded`);
      await this.closeRetired(r);
    }
  }

  /**
   * Reads what was appended to the rotated files since the last poll, and finishes archives
   * (a rotated file found compressed after a restart). Closes a deleted file that stopped
   * growing and a file that shrank.
   */
  private async *drainRetired(): AsyncGenerator<RecordBatch> {
    const size = this.opts.chunkBytes ?? CHUNK_BYTES;
    const idleMs = this.opts.rotatedDeletedFollowMs ?? ROTATED_DELETED_FOLLOW_MS;
    for (const r of [...this.retired]) {
      let done = false;
      let grewNow = false;
      // a followed rotated file: its size first (synchronous, see poll); read only what it gained
      const before = r.fh ? fstatNow(r.fh) : undefined;
      const known = before?.isFile() ? before.size : undefined;
      for (;;) {
        if (this.ctx.signal.aborted) return;
        if (this.budget <= 0) {
          this.unread = true;
          break;
        }
        let chunk: Buffer;
        if (r.archive) {
          const next = await r.archive.next();
          if (next.done) {
            done = true;
            break;
          }
          chunk = next.value;
        } else {
          const want = Math.min(known === undefined ? size : known - r.readPos, size, this.budget);
          if (want <= 0) break;
          chunk = Buffer.allocUnsafe(want);
          const bytesRead = await readAt(r.fh!, chunk, want, r.readPos);
          if (bytesRead === 0) break;
          chunk = chunk.subarray(0, bytesRead);
          if (!grewNow) {
            // it grew: under which name is it now (the records' origin)?
            grewNow = true;
            r.lastGrowthMs = Date.now();
            await this.refreshRetiredPath(r);
          }
          if (!r.grew) {
            r.grew = true;
            this.ctx.log('info', `${r.path} is still written to after the rotation (its writer keeps it open); reading it too`);
          }
        }
        r.readPos += chunk.length;
        this.budget -= chunk.length;
        if (r.fh) r.ident = await extendedPrint(r.fh, r.ident, r.readPos);
        r.sp.push(chunk);
        const origin = this.lines.origin;
        this.lines.origin = r.path;
        try {
          yield* this.pumpBatches(r.sp, r.line, (line, consumed) => {
            r.line = line;
            r.offset = consumed;
          });
        } finally {
          this.lines.origin = origin;
        }
      }
      if (!done && r.fh) {
        const st = grewNow ? fstatNow(r.fh) : before;
        if (st === undefined || st.size < r.readPos) {
          this.ctx.log('warn', `${r.path}: a rotated file shrank or became unreadable; no longer read`);
          done = true;
        } else if (st.nlink === 0) {
          if (!r.deleted) {
            r.deleted = true;
            this.ctx.log('info', `${r.path} was deleted (compressed or removed by logrotate); still read through the open descriptor until it has been quiet for ${Math.round(idleMs / 1000)} s (rotated_deleted_follow_s)`);
          }
          if (Date.now() - r.lastGrowthMs >= idleMs) {
            this.ctx.log('info', `${r.path}: deleted and quiet for ${Math.round(idleMs / 1000)} s; closed`);
            done = true;
          }
        }
      }
      if (done) {
        this.retired.splice(this.retired.indexOf(r), 1);
        await this.closeRetired(r);
      }
    }
  }

  /** Path a rotated inode has now: logrotate renames `.1` to `.2` and so on. */
  private async refreshRetiredPath(r: RetiredFile): Promise<void> {
    const st = await stat(r.path).catch(() => undefined);
    if (st && st.ino === r.ident.ino && st.dev === r.ident.dev) return;
    const p = await this.rotatedPath(r.ident.ino, r.ident.dev);
    if (p !== null) r.path = p;
  }

  /** Path the rotated inode has now (logrotate renamed it), or null when no file has it. */
  private async rotatedPath(ino: number, dev: number): Promise<string | null> {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    try {
      for (const name of await readdir(dir)) {
        if (!name.startsWith(base) || name === base) continue;
        const st = await stat(path.join(dir, name)).catch(() => undefined);
        if (st && st.ino === ino && st.dev === dev) return path.join(dir, name);
      }
    } catch {
      /* fall through */
    }
    return null;
  }

  /**
   * After a restart: the rotated file of a saved position, found by its inode (still followed,
   * a session may write to it) or, when logrotate compressed it meanwhile, by its content head in
   * a gzip archive (read from the saved offset to its end). False when it is gone.
   */
  private async restoreRetired(saved: RetiredPosition): Promise<boolean> {
    const p = await this.rotatedPath(saved.file.ino, saved.file.dev);
    if (p !== null && !isGzipName(p) && (await headMatches(p, saved.file).catch(() => false))) {
      try {
        this.retired.push(retiredFile({ fh: await open(p, 'r') }, saved.file, p, this.savedAt(saved)));
        return true;
      } catch {
        /* try the archives */
      }
    }
    // an archive is recognized by the content head; a file saved before any byte of it was
    // seen (fpLen 0) cannot be told from any other
    for (let i = this.archives.length - 1; i >= 0 && saved.file.fpLen > 0; i--) {
      const f = this.archives[i]!;
      if (f.path === this.file || !f.rot.gz) continue;
      if (!(await headMatches(f.path, saved.file).catch(() => false))) continue;
      this.ctx.log('info', `${f.path}: finishing the rotated file ${saved.name}, compressed while lkrg-siem was stopped, from byte ${saved.offset}`);
      const archive = readChunks(f.path, saved.offset, this.opts.chunkBytes ?? CHUNK_BYTES, this.ctx.signal);
      this.retired.push(retiredFile({ archive }, saved.file, f.path, this.savedAt(saved)));
      return true;
    }
    return false;
  }

  /** Reading state of a saved rotated file: on from its offset. */
  private savedAt(saved: RetiredPosition): { readPos: number; offset: number; line: number; sp: LineSplitter } {
    return { readPos: saved.offset, offset: saved.offset, line: saved.line, sp: new LineSplitter(saved.offset, this.opts.maxLineBytes) };
  }

  private pos(): Record<string, SourcePosition> {
    // no live file opened yet (only rotated files read): the live file is then read from 0
    const p: TailPosition = {
      v: 1, name: path.basename(this.file), file: this.ident ?? NO_FILE, offset: this.offset, line: this.line, ...this.lines.state(),
      ...(this.retired.length > 0 ? { retired: this.retired.map((r) => ({ name: path.basename(r.path), file: r.ident, offset: r.offset, line: r.line })) } : {}),
    };
    return { [this.streamId]: p as unknown as SourcePosition };
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.log('warn', msg);
  }

  /**
   * First call: restore the saved rotated files, then open the live file at the saved offset,
   * or, when the saved file was rotated while lkrg-siem was stopped, follow (or finish) it as a
   * rotated file and read the new live file from 0.
   */
  private async start(): Promise<void> {
    this.started = true;
    const saved = this.ctx.positions.get(this.streamId) as TailPosition | undefined;
    this.announce = true;
    if (!saved || saved.v !== 1) {
      if (this.firstSight === 'rotated') await this.rotatedBeforeFirstSight();
      return;
    }
    for (const r of saved.retired ?? (saved.rotated ? [saved.rotated] : [])) {
      if (!(await this.restoreRetired(r))) {
        this.ctx.log('warn', `${this.streamId}: the rotated file ${r.name} of the saved position is gone; what it held after byte ${r.offset} cannot be read`);
      }
    }
    // the live file itself?
    try {
      const st = await stat(this.file);
      if (st.dev === saved.file.dev && st.ino === saved.file.ino && st.size >= saved.offset && (await headMatches(this.file, saved.file))) {
        await this.openLive(saved.offset, saved.line);
        this.announce = false;
        return;
      }
    } catch {
      /* fall through */
    }
    if (saved.file.ino === NO_FILE.ino) return; // no live file was open: read it from 0
    // rotated while we were down: follow it (plain) or finish it (gzip), oldest first
    const main: RetiredPosition = { name: saved.name, file: saved.file, offset: saved.offset, line: saved.line };
    const same = (f: FileIdentity): boolean => f.dev === main.file.dev && f.ino === main.file.ino && f.fp === main.file.fp;
    if (this.retired.some((r) => same(r.ident))) return; // already restored as a rotated file
    if (await this.restoreRetired(main)) {
      // the live file is then read from 0; rotated files newer than the saved one were written
      // and rotated while lkrg-siem was stopped (logrotate ran more than once meanwhile)
      // (newer in the naming scheme of the file found: `.N` or `-DATE`)
      const at = this.archives.findIndex((a) => a.path === this.retired[this.retired.length - 1]!.path);
      const known = new Set(this.retired.map((r) => r.path));
      if (at >= 0) {
        const numbered = this.archives[at]!.rot.n > 0;
        const newer = this.archives.slice(at + 1).filter((a) => !known.has(a.path) && (a.rot.n > 0) === numbered);
        await this.readRotatedFiles(newer, 'written and rotated while lkrg-siem was stopped');
      }
      return;
    }
    try {
      const st = await stat(this.file);
      if (st.dev === saved.file.dev && st.ino === saved.file.ino) {
        this.lines.notice(this.b, 0, 'truncated', `${this.file} was replaced (same inode, different content); reading it from the start`);
      }
    } catch {
      /* ignore */
    }
    this.ctx.log('warn', `${this.streamId}: the file of the saved position is gone; reading ${this.file} from the start`);
  }

  /**
   * A file seen for the first time after the source's first start, with rotated files of its
   * name beside it: those written since that start were rotated while lkrg-siem was stopped, so
   * they are read first. Those last written before it (a host back after a long absence, its old
   * archives still there) are history, as on the first start: not read (replay them).
   */
  private async rotatedBeforeFirstSight(): Promise<void> {
    const recent: typeof this.archives[number][] = [];
    const old: string[] = [];
    for (const a of this.archives) {
      const mtime = statNow(a.path)?.mtimeMs;
      // (a second of slack: file times come from the kernel's coarse clock, a tick behind)
      if (mtime !== undefined && mtime < this.followedSinceMs - 1000) old.push(path.basename(a.path));
      else recent.push(a);
    }
    if (old.length > 0) {
      this.ctx.log('info', `${this.file}: first seen now; ${old.length} rotated file(s) of its name were last written before this source's first start (${new Date(this.followedSinceMs).toISOString()}) and are not read: ${old.join(', ')} (replay them if they are wanted)`);
    }
    await this.readRotatedFiles(recent, `rotated before lkrg-siem first saw ${this.file}, while it was stopped`);
  }

  /**
   * Adds the rotated files among `files` (oldest first) to the rotated files read before the
   * live file, from their start: the newest, if not compressed, stays followed (its writer may
   * not have reopened yet); the others are read to their end once. `why` goes into the log.
   */
  private async readRotatedFiles(files: readonly { readonly path: string; readonly rot: RotatedName }[], why: string): Promise<void> {
    const rotated = files.filter((a) => a.path !== this.file && (a.rot.n > 0 || a.rot.date !== undefined || a.rot.gz));
    for (const [i, a] of rotated.entries()) {
      try {
        const ident = await identify(a.path);
        const at = this.savedAt({ name: path.basename(a.path), file: ident, offset: 0, line: 0 });
        const src = i === rotated.length - 1 && !a.rot.gz
          ? { fh: await open(a.path, 'r') }
          : { archive: readChunks(a.path, 0, this.opts.chunkBytes ?? CHUNK_BYTES, this.ctx.signal) };
        this.retired.push(retiredFile(src, ident, a.path, at));
        this.ctx.log('info', `${a.path}: ${why}; reading it`);
      } catch (e) {
        this.ctx.log('warn', `${a.path}: ${why}, but unreadable (${(e as Error).message}); skipped`);
      }
    }
  }

  /**
   * Opens the live file to read from `offset` (`atEnd`: from after its last complete line, the
   * first sight with `start_at: end`). False when it cannot be opened (logged once).
   */
  private async openLive(offset: number, line: number, atEnd = false): Promise<boolean> {
    await this.closeCurrent();
    try {
      this.fh = await open(this.file, 'r');
    } catch (e) {
      this.warnOnce(`open:${(e as NodeJS.ErrnoException).code}`, `${this.file}: ${(e as Error).message}`);
      return false;
    }
    const st = await this.fh.stat();
    if (atEnd) {
      offset = await lineStartBefore(this.fh, st.size);
      if (offset > 0) this.ctx.log('info', `${this.file}: start_at end: following from byte ${offset}; the ${offset} bytes before are not read`);
    }
    this.ident = { dev: st.dev, ino: st.ino, ...(await headPrint(this.fh)) };
    this.offset = offset;
    this.readPos = offset;
    this.line = line;
    this.sp = new LineSplitter(offset, this.opts.maxLineBytes);
    this.lines.origin = this.file;
    return true;
  }

  /** Reads what is new; yields full batches, then the rest (promptly) with the position. */
  async *poll(): AsyncGenerator<RecordBatch> {
    this.budget = this.opts.roundReadBytes ?? ROUND_READ_BYTES;
    this.unread = false;
    if (!this.started) await this.start();
    const haveLive = this.fh !== undefined || (await this.openLive(0, 0, this.announce && this.firstSight === 'end'));
    if (haveLive && this.announce) {
      // the file is read from 0 without a saved position for it: save one before reading, so
      // that a crash before the first batch, followed by a rotation, still finds this file
      this.announce = false;
      yield this.b.take(this.pos());
    }
    // rotated files first: they hold older lines than the live file
    yield* this.drainRetired();
    if (!haveLive) {
      if (this.b.pending()) yield this.b.take(this.pos());
      return;
    }
    // rotation / truncation / replacement checks. Synchronous: a stat of a local file costs
    // a microsecond or two, the promise round trip through libuv's pool ten times that, and an
    // idle log server polls thousands of files twice a second
    // (undefined: renamed away, new file not yet created: drain the old inode)
    const st = statNow(this.file);
    const fst = fstatNow(this.fh!);
    const rotated = st !== undefined && (st.ino !== this.ident!.ino || st.dev !== this.ident!.dev);
    if (!rotated && fst !== undefined && fst.size < this.readPos) {
      this.lines.notice(this.b, this.offset, 'truncated', `${this.file} shrank from ${this.readPos} to ${fst.size} bytes; reading it from the start`);
      this.ctx.log('warn', `${this.file} was truncated; reading it from the start`);
      this.resetTo(0);
    }
    // a rewrite in place that left the file at least as long is found by drain(), which checks
    // the head after every read; a rotated file's last lines carry the name it has now
    const rotatedPath = rotated ? await this.rotatedPath(this.ident!.ino, this.ident!.dev) : null;
    if (rotatedPath !== null) this.lines.origin = rotatedPath;
    // at a rotation the old file is read to its end whatever the round's share (with
    // rotated_follow_max 0 it is closed right after)
    if (rotated) this.budget = Infinity;
    // nothing appended (the usual case of an idle poll): no read, no buffer
    if (fst === undefined || !fst.isFile() || fst.size > this.readPos) yield* this.drain(fst?.isFile() ? fst.size : undefined);
    if (rotated) {
      // the old inode is read to its end; it stays open (with a torn last line kept) in case a
      // session still writes to it, and the new file is followed from 0
      this.ctx.log('info', `${this.file} was rotated; following the new file`);
      await this.retire(rotatedPath);
      this.lines.origin = this.file;
      if (await this.openLive(0, 0)) yield* this.drain();
    }
    this.lines.flush(this.b);
    if (this.b.pending()) yield this.b.take(this.pos());
  }

  /** True when the first fpLen bytes of the open file still have the known fingerprint. */
  private async headUnchanged(): Promise<boolean> {
    const head = Buffer.alloc(this.ident!.fpLen);
    const bytesRead = await readAt(this.fh!, head, head.length, 0);
    return bytesRead === head.length && fingerprint(head, bytesRead) === this.ident!.fp;
  }

  /** The file was rewritten in place (same inode, other content): report it, read it from 0. */
  private rewritten(): void {
    this.lines.notice(this.b, this.offset, 'truncated', `${this.file} was rewritten in place; reading it from the start`);
    this.ctx.log('warn', `${this.file} was rewritten in place; reading it from the start`);
    this.resetTo(0);
  }

  private resetTo(offset: number): void {
    // a torn last line of the old content will never be completed: report it, do not drop it
    const tail = this.sp.takeTail();
    if (tail) this.lines.incomplete(this.b, tail.buf, tail.offset, this.line + 1, tail.bytes);
    // the content changed: the fingerprint is recomputed from the new head as it is read
    this.ident = { ...this.ident!, fp: fingerprint(Buffer.alloc(0), 0), fpLen: 0 };
    this.offset = offset;
    this.readPos = offset;
    this.line = 0;
    this.sp = new LineSplitter(offset, this.opts.maxLineBytes);
  }

  /**
   * Reads the live file from readPos to its end. `knownSize`: its size at the poll's fstat (a
   * regular file); reads then stop there and buffers are no larger than what is there. What is
   * appended after the fstat is read at the next poll, which follows at once after a poll that
   * read something. Undefined (not a regular file, fstat failed): read until a read returns 0.
   */
  private async *drain(knownSize?: number): AsyncGenerator<RecordBatch> {
    const max = this.opts.chunkBytes ?? CHUNK_BYTES;
    for (;;) {
      if (this.ctx.signal.aborted) return;
      const left = knownSize === undefined ? max : Math.min(max, knownSize - this.readPos);
      if (left <= 0) return;
      if (this.budget <= 0) {
        this.unread = true;
        return;
      }
      const want = Math.min(left, this.budget);
      const chunk = Buffer.allocUnsafe(want);
      const bytesRead = await readAt(this.fh!, chunk, want, this.readPos);
      if (bytesRead === 0) return;
      // The poll compared size and head before this read, but the file may have been truncated
      // or rewritten in place since (copytruncate, an editor): then these bytes come from the
      // middle of the new content. The head, read after the chunk, tells: unchanged means the
      // chunk continues what was read before.
      if (this.readPos > 0 && this.ident!.fpLen > 0 && !(await this.headUnchanged())) {
        this.rewritten();
        continue;
      }
      this.readPos += bytesRead;
      this.budget -= bytesRead;
      this.ident = await extendedPrint(this.fh!, this.ident!, this.readPos);
      this.sp.push(chunk.subarray(0, bytesRead));
      yield* this.pumpBatches(this.sp, this.line, (line, consumed) => {
        this.line = line;
        this.offset = consumed;
      });
    }
  }

  /**
   * Handles the complete lines pushed into `sp` (line numbers from `line`), reporting progress
   * through `moved` after every step, and yields each batch that fills up with the position.
   */
  private *pumpBatches(sp: LineSplitter, line: number, moved: (line: number, consumed: number) => void): Generator<RecordBatch> {
    const pump = this.lines.pumper(sp, this.b, line);
    for (;;) {
      const full = pump.pump();
      moved(pump.line, pump.consumed);
      if (!full) return;
      this.lines.flush(this.b);
      yield this.b.take(this.pos());
    }
  }

}


/**
 * Position stream of a live file source that keeps when the source was first started
 * (`{ v: 1, ms }`): rotated files of a name first seen later that were last written before it
 * are history (see FileTail's rotatedBeforeFirstSight).
 */
export const FOLLOWED_SINCE_STREAM = 'followed-since';

/**
 * The live loop of the file sources (logger store, text). At every poll `discover` adds a tail
 * to `tails` for each file it finds that has none yet, beginning as `firstSight` says
 * ({@link FirstSight}: `start` or, with `startAt: 'end'`, `end` at the first poll of a source
 * that has no saved position yet; `rotated` after that). Then every tail is polled in turn, each
 * reading at most its round's share; a round begins every `pollMs` (at once after a round that
 * took longer or left a file with more to read). Ends when ctx.signal aborts and closes every
 * tail. Errors of `discover` propagate (the sources catch their own).
 */
export async function* followFiles(
  ctx: SourceContext,
  pollMs: number,
  startAt: 'beginning' | 'end' | undefined,
  limits: FileTailOptions,
  discover: (tails: Map<string, FileTail>, firstSight: FirstSight, followedSinceMs: number) => Promise<void>,
): AsyncGenerator<RecordBatch> {
  const tails = new Map<string, FileTail>();
  let firstSight: FirstSight = ctx.positions.size > 0 ? 'rotated' : startAt === 'end' ? 'end' : 'start';
  // when the source was first started: kept with its positions from the first batch on. A state
  // file from before it was kept (positions but no entry) gives 0: every rotated file counts
  const saved = ctx.positions.get(FOLLOWED_SINCE_STREAM) as { v: 1; ms: number } | undefined;
  const followedSinceMs = typeof saved?.ms === 'number' ? saved.ms : ctx.positions.size > 0 ? 0 : Date.now();
  let sinceSaved = saved !== undefined;
  const merged = new BatchMerger(limits);
  // the backlog and the number of files on /metrics: after the first round, then every 5 s
  // from a timer (also while the pipeline holds the source: the files grow meanwhile)
  let reported = false;
  const report = (): void => {
    reported = true;
    if (!ctx.gauge) return;
    let unread = 0;
    let files = 0;
    for (const t of tails.values()) {
      unread += t.unreadBytes();
      files += t.fileCount();
    }
    ctx.gauge('file_unread_bytes', {}, unread);
    ctx.gauge('files_followed', {}, files);
  };
  const gaugeTimer = ctx.gauge ? setInterval(report, limits.gaugeIntervalMs ?? GAUGE_INTERVAL_MS) : undefined;
  gaugeTimer?.unref();
  try {
    while (!ctx.signal.aborted) {
      const began = Date.now();
      await discover(tails, firstSight, followedSinceMs);
      firstSight = 'rotated';
      let more = false;
      for (const t of tails.values()) {
        for await (const batch of t.poll()) {
          if (!sinceSaved) {
            merged.add({ records: [], malformed: [], positions: { [FOLLOWED_SINCE_STREAM]: { v: 1, ms: followedSinceMs } as unknown as SourcePosition }, bytes: 0 });
            sinceSaved = true;
          }
          const before = merged.add(batch);
          if (before) yield before;
          if (ctx.signal.aborted) break;
        }
        if (ctx.signal.aborted) break;
        more ||= t.more;
      }
      // the round's small batches of many files as one (one commit, not one per file)
      const round = merged.take();
      if (round) yield round;
      if (ctx.signal.aborted) return;
      if (!reported) report();
      // One round per poll interval, whether or not it read anything: a poll reads a file to
      // the size its fstat showed, so nothing known is left, and a fleet whose hosts each write
      // now and then would otherwise be polled back to back (thousands of files checked for a
      // few lines). A round that took longer than the interval, or left a file with more to
      // read than one round's share (a backlog), is followed at once.
      const rest = pollMs - (Date.now() - began);
      if (rest > 0 && !more) await sleep(rest, ctx.signal);
    }
  } finally {
    if (gaugeTimer) clearInterval(gaugeTimer);
    for (const t of tails.values()) await t.close();
  }
}

/** How often {@link followFiles} updates its `/metrics` gauges. */
const GAUGE_INTERVAL_MS = 5_000;
