/**
 * lkrg-logger store source (reference/lkrg.md §6): files named by client IPv4 in a
 * directory, one record per line.
 *
 * - replay: reads the given files and directories once, including logrotate archives
 *   (`<ip>.1`, `<ip>.2.gz`, `<ip>-YYYYMMDD[.gz]`) oldest first per client, gzip
 *   transparently. A torn last line is reported as malformed ('incomplete last line').
 * - live: follows every client file of the directories (new files are picked up at the
 *   next poll), survives truncation and rewrite in place (`truncated` notice, restart at 0;
 *   the head fingerprint is checked after every read), rotation (the new file is read from 0,
 *   and rotated files stay followed, also once deleted: lkrg-logger sessions keep appending to
 *   them) and
 *   inode reuse (head fingerprint). A torn last line waits until its newline arrives.
 *
 * One stream per client: streamId `logger:<absolute dir>/<ip>`. Its position is
 * {@link LoggerStorePosition}: the identity of the file being read, the byte offset after the
 * last line of the batch, the line number, and the boot tracker state; on restart the
 * source finds that file again (also when it was rotated or gzipped meanwhile, by its head
 * fingerprint) and continues right after the last committed line.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, type RecordBatch, type Source, type SourceContext, type SourcePosition } from '../core/types.js';
import { BatchBuilder, sleep, type BatchLimits } from './batch-builder.js';
import {
  CHUNK_BYTES, FINGERPRINT_BYTES, fingerprint, headMatches, identify, isGzipName, listFiles, parseRotatedName, readChunks,
  sortOldestFirst, type FileIdentity, type RotatedName,
} from './file-identity.js';
import { LineSplitter } from './line-splitter.js';
import type { BootTrackerState } from './logger-boot-tracker.js';
import { LoggerLineHandler, type LoggerLineOptions } from './logger-line-handler.js';
import { LoggerLinePump } from './logger-line-pump.js';
import { LoggerLineScanner } from './logger-line-scanner.js';

/** Options of {@link LoggerStoreSource}. */
export interface LoggerStoreSourceOptions extends LoggerLineOptions, BatchLimits {
  /** Store directories and/or single files (replay); directories only make sense live. */
  readonly paths: readonly string[];
  /** 'live' follows files, 'replay' reads once. */
  readonly mode: 'live' | 'replay';
  /** Live: how often directories and files are checked (default 500 ms). */
  readonly pollIntervalMs?: number;
  /** Cap per line; longer lines are cut and reported malformed (default 64 KiB). */
  readonly maxLineBytes?: number;
  /** Read size (default 1 MiB). */
  readonly chunkBytes?: number;
  /**
   * Read store lines with the WebAssembly line scanner when it loads (default true); false:
   * JavaScript only. Both give the same batches (tests compare them); the scanner is faster.
   */
  readonly lineScanner?: boolean;
  /**
   * Live: how many rotated files per client stay followed (default 16). lkrg-logger sessions
   * keep appending to the file they opened, so after rename-and-create rotations every rotated
   * file may still grow; past this many the oldest is closed (logged). 0: rotated files are read
   * to their end at the rotation and then closed.
   */
  readonly rotatedFollowMax?: number;
  /**
   * Live: a followed rotated file that was deleted (logrotate's `compress` or its `rotate N`
   * limit) is still read through the open descriptor, since a session may write to it, until it
   * has not grown for this long (default 3,600,000 ms = 1 h). Its inode is freed when closed.
   */
  readonly rotatedDeletedFollowMs?: number;
  /** Source id (default 'logger-store'). */
  readonly id?: string;
  /**
   * Which names in a directory are client files. Default: IPv4 dotted quads (the
   * logger names files by `inet_ntoa()` of the peer).
   */
  readonly clientName?: RegExp;
}

/** Saved position of one client stream (JSON). */
export interface LoggerStorePosition {
  readonly v: 1;
  /** Name of the file being read when the batch was cut (for diagnostics). */
  readonly name: string;
  readonly file: FileIdentity;
  /** Decompressed byte offset just after the last line of the batch. */
  readonly offset: number;
  /** Lines consumed in that file. */
  readonly line: number;
  readonly tracker: BootTrackerState;
  /**
   * Rotated files still read because lkrg-logger sessions may keep appending to them (live mode
   * only), oldest first: identity and how far each was consumed.
   */
  readonly retired?: readonly RetiredPosition[];
  /** The one rotated file positions of lkrg-siem 0.1 before `retired` carried; read, never written. */
  readonly rotated?: RetiredPosition;
}

/** Progress in one rotated file of a {@link LoggerStorePosition}. */
export interface RetiredPosition {
  /** File name when the position was saved (diagnostics; the file is found by its identity). */
  readonly name: string;
  /** Identity of the file as it was followed (plain, before any compression). */
  readonly file: FileIdentity;
  /** Decompressed byte offset after the last consumed line. */
  readonly offset: number;
  readonly line: number;
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

interface ClientFile { readonly path: string; readonly rot: RotatedName }

/** Default of {@link LoggerStoreSourceOptions.rotatedFollowMax}. */
const ROTATED_FOLLOW_MAX = 16;
/** Default of {@link LoggerStoreSourceOptions.rotatedDeletedFollowMs}. */
const ROTATED_DELETED_FOLLOW_MS = 3_600_000;

/** The fingerprint part of a file identity, from the head of an open file. */
async function headPrint(fh: FileHandle): Promise<Pick<FileIdentity, 'fp' | 'fpLen'>> {
  const head = Buffer.alloc(FINGERPRINT_BYTES);
  const { bytesRead } = await fh.read(head, 0, FINGERPRINT_BYTES, 0);
  return { fp: fingerprint(head, bytesRead), fpLen: bytesRead };
}

/** `ident`, its fingerprint extended once the file was read past it (up to FINGERPRINT_BYTES). */
async function extendedPrint(fh: FileHandle, ident: FileIdentity, readPos: number): Promise<FileIdentity> {
  return ident.fpLen < FINGERPRINT_BYTES && readPos > ident.fpLen ? { ...ident, ...(await headPrint(fh)) } : ident;
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

/** A rotated file a live tail still reads (see Tail.retired). */
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
interface Client { readonly name: string; readonly dir: string; readonly streamId: string; files: ClientFile[] }

/** Reads lkrg-logger store files; see module doc. Created by createSource() or directly. */
export class LoggerStoreSource implements Source {
  readonly id: string;
  private readonly clientRe: RegExp;
  private scanner: LoggerLineScanner | null | undefined;

  constructor(private readonly opts: LoggerStoreSourceOptions) {
    if (opts.paths.length === 0) throw new ConfigError('sources[].path', opts.paths, 'give at least one store directory or file');
    this.id = opts.id ?? 'logger-store';
    this.clientRe = opts.clientName ?? IPV4;
  }

  /** The WebAssembly line scanner all readers of this source share (they take turns), or null. */
  private lineScanner(): LoggerLineScanner | null {
    if (this.scanner === undefined) {
      this.scanner = this.opts.lineScanner === false ? null : LoggerLineScanner.create(this.opts.chunkBytes ?? CHUNK_BYTES);
    }
    return this.scanner;
  }

  /** Sum of file sizes (compressed size for .gz), replay progress. */
  async totalBytes(): Promise<number | undefined> {
    let n = 0;
    for (const c of await this.clients(true)) for (const f of c.files) n += (await stat(f.path)).size;
    return n;
  }

  /** Yields batches until the input ends (replay) or ctx.signal aborts (live). */
  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    if (this.opts.mode === 'replay') {
      for (const c of await this.clients(true)) {
        if (ctx.signal.aborted) return;
        yield* this.replayClient(c, ctx);
      }
      return;
    }
    yield* this.live(ctx);
  }

  /** Groups files per client (dir + base name), archives included when `archives`. */
  private async clients(archives: boolean): Promise<Client[]> {
    const byKey = new Map<string, Client>();
    const add = (file: string, explicit: boolean): void => {
      const dir = path.dirname(file);
      const rot = parseRotatedName(path.basename(file), (x) => this.clientRe.test(x));
      if (!explicit && !this.clientRe.test(rot.base)) return;
      if (!archives && (rot.n > 0 || rot.date || rot.gz)) return;
      const key = path.join(dir, rot.base);
      let c = byKey.get(key);
      if (!c) byKey.set(key, (c = { name: rot.base, dir, streamId: `logger:${key}`, files: [] }));
      if (!c.files.some((f) => f.path === file)) c.files.push({ path: file, rot });
    };
    for (const p0 of this.opts.paths) {
      const p = path.resolve(p0);
      let st;
      try {
        st = await stat(p);
      } catch (e) {
        if (this.opts.mode === 'live') continue; // the directory may appear later
        throw new ConfigError('sources[].path', p0, `cannot read it (${(e as Error).message}); give an existing store directory or file`);
      }
      if (st.isDirectory()) for (const f of await listFiles(p)) add(f, false);
      else add(p, true);
    }
    const out = [...byKey.values()];
    for (const c of out) sortOldestFirst(c.files);
    return out.sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
  }

  /** Where to start in an ordered file list given a saved position. */
  private async resolveStart(c: Client, saved: LoggerStorePosition | undefined, ctx: SourceContext): Promise<{ index: number; offset: number; line: number }> {
    if (!saved || saved.v !== 1) return { index: 0, offset: 0, line: 0 };
    // newest first: the saved file is usually the live one
    for (let i = c.files.length - 1; i >= 0; i--) {
      try {
        if (await headMatches(c.files[i]!.path, saved.file)) return { index: i, offset: saved.offset, line: saved.line };
      } catch {
        /* unreadable archive: try the next */
      }
    }
    ctx.log('warn', `${c.streamId}: the file of the saved position (${saved.name}) is gone; reading ${c.files.length} file(s) from the start`);
    return { index: 0, offset: 0, line: 0 };
  }

  private position(c: Client, name: string, file: FileIdentity, offset: number, line: number, h: LoggerLineHandler): Record<string, SourcePosition> {
    const pos: LoggerStorePosition = { v: 1, name, file, offset, line, tracker: h.tracker.snapshot() };
    return { [c.streamId]: pos as unknown as SourcePosition };
  }

  private async *replayClient(c: Client, ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const saved = ctx.positions.get(c.streamId) as LoggerStorePosition | undefined;
    const start = await this.resolveStart(c, saved, ctx);
    const h = new LoggerLineHandler(c.name, c.streamId, '', this.opts, saved?.v === 1 ? saved.tracker : undefined);
    const b = new BatchBuilder(this.opts);
    const chunkBytes = this.opts.chunkBytes ?? CHUNK_BYTES;
    const scanner = this.lineScanner();
    for (let i = start.index; i < c.files.length; i++) {
      const f = c.files[i]!;
      const offset0 = i === start.index ? start.offset : 0;
      let line = i === start.index ? start.line : 0;
      const ident = await identify(f.path);
      h.origin = f.path;
      const sp = new LineSplitter(offset0, this.opts.maxLineBytes);
      const pump = new LoggerLinePump(sp, h, b, scanner, line);
      for await (const chunk of readChunks(f.path, offset0, chunkBytes, ctx.signal)) {
        sp.push(chunk);
        while (pump.pump()) {
          h.flushDuplicates(b);
          yield b.take(this.position(c, path.basename(f.path), ident, pump.consumed, pump.line, h));
        }
        if (ctx.signal.aborted) return;
      }
      line = pump.line;
      const tail = sp.takeTail();
      if (tail) h.incomplete(b, tail.buf, tail.offset, line + 1, tail.bytes);
      h.flushDuplicates(b);
      if (b.pending() || i === c.files.length - 1) yield b.take(this.position(c, path.basename(f.path), ident, sp.consumed, line, h));
    }
    if (h.malformedCount > 0) ctx.log('warn', `${c.streamId}: ${h.malformedCount} malformed line(s)`);
  }

  // ---------------------------------------------------------------- live

  private async *live(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const tails = new Map<string, Tail>();
    const poll = this.opts.pollIntervalMs ?? 500;
    let warnedMissing = false;
    try {
      while (!ctx.signal.aborted) {
        let clients: Client[] = [];
        try {
          clients = await this.clients(true);
          warnedMissing = false;
        } catch (e) {
          if (!warnedMissing) ctx.log('warn', `logger store: ${(e as Error).message}`);
          warnedMissing = true;
        }
        for (const c of clients) {
          const live = c.files.find((f) => f.rot.n === 0 && !f.rot.date && !f.rot.gz);
          if (!live || tails.has(c.streamId)) continue;
          const t = new Tail(c, live.path, this.opts, ctx, this.lineScanner());
          tails.set(c.streamId, t);
        }
        let progressed = false;
        for (const t of tails.values()) {
          for await (const batch of t.poll()) {
            progressed = true;
            yield batch;
            if (ctx.signal.aborted) return;
          }
        }
        if (!progressed) await sleep(poll, ctx.signal);
      }
    } finally {
      for (const t of tails.values()) await t.close();
    }
  }
}

/** Live follower of one client's file. */
class Tail {
  private fh: FileHandle | undefined;
  private ident: FileIdentity | undefined;
  private offset = 0; // consumed (complete lines)
  private readPos = 0; // bytes handed to the splitter
  private line = 0;
  private sp: LineSplitter;
  private readonly h: LoggerLineHandler;
  private started = false;
  private readonly b: BatchBuilder;
  private warned = new Set<string>();
  /**
   * Files this tail followed before rotations, oldest first, still read: lkrg-logger opens the
   * client file once per session (O_APPEND) and never reopens it (LKRG issue #320), so after a
   * rename-and-create rotation a session that stays connected keeps appending to the renamed
   * file, after the next rotation to the file renamed again, and after logrotate compressed or
   * removed it to the deleted inode, which only an open descriptor still reaches. Drained before
   * the live file at every poll; their progress is part of the saved position (`retired`).
   */
  private retired: RetiredFile[] = [];
  /** Save the position as soon as the live file is open (it is read from 0, see poll). */
  private announce = false;

  constructor(
    private readonly c: Client,
    private readonly file: string,
    private readonly opts: LoggerStoreSourceOptions,
    private readonly ctx: SourceContext,
    private readonly scanner: LoggerLineScanner | null,
  ) {
    const saved = ctx.positions.get(c.streamId) as LoggerStorePosition | undefined;
    this.h = new LoggerLineHandler(c.name, c.streamId, file, opts, saved?.v === 1 ? saved.tracker : undefined);
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
      const origin = this.h.origin;
      this.h.origin = r.path;
      this.h.incomplete(this.b, tail.buf, tail.offset, r.line + 1, tail.bytes);
      this.h.origin = origin;
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
      if (max > 0) this.ctx.log('warn', `${r.path}: no longer read (more than ${max} rotated files of ${this.c.name} are followed, rotated_follow_max); what a session still appends to it is not forwarded`);
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
      for (;;) {
        if (this.ctx.signal.aborted) return;
        let chunk: Buffer;
        if (r.archive) {
          const next = await r.archive.next();
          if (next.done) {
            done = true;
            break;
          }
          chunk = next.value;
        } else {
          chunk = Buffer.allocUnsafe(size);
          const { bytesRead } = await r.fh!.read(chunk, 0, size, r.readPos);
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
            this.ctx.log('info', `${r.path} is still written to after the rotation (an lkrg-logger session keeps it open); reading it too`);
          }
        }
        r.readPos += chunk.length;
        if (r.fh) r.ident = await extendedPrint(r.fh, r.ident, r.readPos);
        r.sp.push(chunk);
        const origin = this.h.origin;
        this.h.origin = r.path;
        try {
          yield* this.pumpBatches(r.sp, r.line, (line, consumed) => {
            r.line = line;
            r.offset = consumed;
          });
        } finally {
          this.h.origin = origin;
        }
      }
      if (!done && r.fh) {
        const st = await r.fh.stat().catch(() => undefined);
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
    for (let i = this.c.files.length - 1; i >= 0 && saved.file.fpLen > 0; i--) {
      const f = this.c.files[i]!;
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
    const p: LoggerStorePosition = {
      v: 1, name: path.basename(this.file), file: this.ident ?? NO_FILE, offset: this.offset, line: this.line, tracker: this.h.tracker.snapshot(),
      ...(this.retired.length > 0 ? { retired: this.retired.map((r) => ({ name: path.basename(r.path), file: r.ident, offset: r.offset, line: r.line })) } : {}),
    };
    return { [this.c.streamId]: p as unknown as SourcePosition };
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
    const saved = this.ctx.positions.get(this.c.streamId) as LoggerStorePosition | undefined;
    this.announce = true;
    if (!saved || saved.v !== 1) return;
    for (const r of saved.retired ?? (saved.rotated ? [saved.rotated] : [])) {
      if (!(await this.restoreRetired(r))) {
        this.ctx.log('warn', `${this.c.streamId}: the rotated file ${r.name} of the saved position is gone; what it held after byte ${r.offset} cannot be read`);
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
    if (await this.restoreRetired(main)) return; // the live file is then read from 0
    try {
      const st = await stat(this.file);
      if (st.dev === saved.file.dev && st.ino === saved.file.ino) {
        this.h.notice(this.b, 0, 'truncated', `${this.file} was replaced (same inode, different content); reading it from the start`);
      }
    } catch {
      /* ignore */
    }
    this.ctx.log('warn', `${this.c.streamId}: the file of the saved position is gone; reading ${this.file} from the start`);
  }

  private async openLive(offset: number, line: number): Promise<boolean> {
    await this.closeCurrent();
    try {
      this.fh = await open(this.file, 'r');
    } catch (e) {
      this.warnOnce(`open:${(e as NodeJS.ErrnoException).code}`, `${this.file}: ${(e as Error).message}`);
      return false;
    }
    const st = await this.fh.stat();
    this.ident = { dev: st.dev, ino: st.ino, ...(await headPrint(this.fh)) };
    this.offset = offset;
    this.readPos = offset;
    this.line = line;
    this.sp = new LineSplitter(offset, this.opts.maxLineBytes);
    this.h.origin = this.file;
    return true;
  }

  /** Reads what is new; yields full batches, then the rest (promptly) with the position. */
  async *poll(): AsyncGenerator<RecordBatch> {
    if (!this.started) await this.start();
    const haveLive = this.fh !== undefined || (await this.openLive(0, 0));
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
    // rotation / truncation / replacement checks
    let st;
    try {
      st = await stat(this.file);
    } catch {
      st = undefined; // renamed away, new file not yet created: drain the old inode
    }
    const fst = await this.fh!.stat();
    const rotated = st !== undefined && (st.ino !== this.ident!.ino || st.dev !== this.ident!.dev);
    if (!rotated && fst.size < this.readPos) {
      this.h.notice(this.b, this.offset, 'truncated', `${this.file} shrank from ${this.readPos} to ${fst.size} bytes; reading it from the start`);
      this.ctx.log('warn', `${this.file} was truncated; reading it from the start`);
      this.resetTo(0);
    }
    // a rewrite in place that left the file at least as long is found by drain(), which checks
    // the head after every read; a rotated file's last lines carry the name it has now
    const rotatedPath = rotated ? await this.rotatedPath(this.ident!.ino, this.ident!.dev) : null;
    if (rotatedPath !== null) this.h.origin = rotatedPath;
    yield* this.drain();
    if (rotated) {
      // the old inode is read to its end; it stays open (with a torn last line kept) in case a
      // session still writes to it, and the new file is followed from 0
      this.ctx.log('info', `${this.file} was rotated; following the new file`);
      await this.retire(rotatedPath);
      this.h.origin = this.file;
      if (await this.openLive(0, 0)) yield* this.drain();
    }
    this.h.flushDuplicates(this.b);
    if (this.b.pending()) yield this.b.take(this.pos());
  }

  /** True when the first fpLen bytes of the open file still have the known fingerprint. */
  private async headUnchanged(): Promise<boolean> {
    const head = Buffer.alloc(this.ident!.fpLen);
    const { bytesRead } = await this.fh!.read(head, 0, head.length, 0);
    return bytesRead === head.length && fingerprint(head, bytesRead) === this.ident!.fp;
  }

  /** The file was rewritten in place (same inode, other content): report it, read it from 0. */
  private rewritten(): void {
    this.h.notice(this.b, this.offset, 'truncated', `${this.file} was rewritten in place; reading it from the start`);
    this.ctx.log('warn', `${this.file} was rewritten in place; reading it from the start`);
    this.resetTo(0);
  }

  private resetTo(offset: number): void {
    // a torn last line of the old content will never be completed: report it, do not drop it
    const tail = this.sp.takeTail();
    if (tail) this.h.incomplete(this.b, tail.buf, tail.offset, this.line + 1, tail.bytes);
    // the content changed: the fingerprint is recomputed from the new head as it is read
    this.ident = { ...this.ident!, fp: fingerprint(Buffer.alloc(0), 0), fpLen: 0 };
    this.offset = offset;
    this.readPos = offset;
    this.line = 0;
    this.sp = new LineSplitter(offset, this.opts.maxLineBytes);
  }

  private async *drain(): AsyncGenerator<RecordBatch> {
    const size = this.opts.chunkBytes ?? CHUNK_BYTES;
    for (;;) {
      if (this.ctx.signal.aborted) return;
      const chunk = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.fh!.read(chunk, 0, size, this.readPos);
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
    const pump = new LoggerLinePump(sp, this.h, this.b, this.scanner, line);
    for (;;) {
      const full = pump.pump();
      moved(pump.line, pump.consumed);
      if (!full) return;
      this.h.flushDuplicates(this.b);
      yield this.b.take(this.pos());
    }
  }

}

