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
 *   and the last rotated file stays followed: lkrg-logger sessions keep appending to it) and
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
  CHUNK_BYTES, FINGERPRINT_BYTES, fingerprint, headMatches, identify, listFiles, parseRotatedName, readChunks,
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
   * The last rotated file, still read because an lkrg-logger session may keep appending to it
   * (live mode only): its identity and how far it was consumed. Absent in older positions.
   */
  readonly rotated?: { readonly name: string; readonly file: FileIdentity; readonly offset: number; readonly line: number };
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

interface ClientFile { readonly path: string; readonly rot: RotatedName }
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
   * The inode this tail followed before the last rotation, still read: lkrg-logger opens the
   * client file once per session (O_APPEND) and never reopens it (LKRG issue #320), so after a
   * rename-and-create rotation a session that stays connected keeps appending to the renamed
   * file. Followed until the next rotation; its progress is part of the saved position
   * (`rotated`), so a restart resumes it when the file still exists under the same inode.
   */
  private rotatedAway:
    | { fh: FileHandle; ident: FileIdentity; path: string; readPos: number; offset: number; sp: LineSplitter; line: number; grew: boolean }
    | undefined;

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
    await this.abandonRotatedAway();
  }

  private async closeCurrent(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  /** Stops reading the rotated-away inode: its torn last line (if any) is reported, the file closed. */
  private async abandonRotatedAway(): Promise<void> {
    const r = this.rotatedAway;
    if (!r) return;
    this.rotatedAway = undefined;
    const tail = r.sp.takeTail();
    if (tail) {
      const origin = this.h.origin;
      this.h.origin = r.path;
      this.h.incomplete(this.b, tail.buf, tail.offset, r.line + 1, tail.bytes);
      this.h.origin = origin;
    }
    await r.fh.close().catch(() => undefined);
  }

  /** Reads what was appended to the rotated-away inode since the last poll; see {@link rotatedAway}. */
  private async *drainRotatedAway(): AsyncGenerator<RecordBatch> {
    const r = this.rotatedAway;
    if (!r) return;
    const size = this.opts.chunkBytes ?? CHUNK_BYTES;
    for (;;) {
      if (this.ctx.signal.aborted) return;
      const chunk = Buffer.allocUnsafe(size);
      const { bytesRead } = await r.fh.read(chunk, 0, size, r.readPos);
      if (bytesRead === 0) return;
      if (!r.grew) {
        r.grew = true;
        this.ctx.log('info', `${r.path} is still written to after the rotation (an lkrg-logger session keeps it open); reading it too until the next rotation`);
      }
      r.readPos += bytesRead;
      r.sp.push(chunk.subarray(0, bytesRead));
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

  /** After a restart: reads the rotated file of the saved position on (if it still exists). */
  private async restoreRotatedAway(saved: NonNullable<LoggerStorePosition['rotated']>): Promise<void> {
    const p = await this.rotatedPath(saved.file.ino, saved.file.dev);
    if (p === null || !(await headMatches(p, saved.file).catch(() => false))) return;
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch {
      return;
    }
    this.rotatedAway = {
      fh, ident: saved.file, path: p, readPos: saved.offset, offset: saved.offset,
      sp: new LineSplitter(saved.offset, this.opts.maxLineBytes), line: saved.line, grew: false,
    };
  }

  private pos(): Record<string, SourcePosition> {
    const r = this.rotatedAway;
    const p: LoggerStorePosition = {
      v: 1, name: path.basename(this.file), file: this.ident!, offset: this.offset, line: this.line, tracker: this.h.tracker.snapshot(),
      ...(r ? { rotated: { name: path.basename(r.path), file: r.ident, offset: r.offset, line: r.line } } : {}),
    };
    return { [this.c.streamId]: p as unknown as SourcePosition };
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.log('warn', msg);
  }

  /** First call: finish a rotated file of the saved position if needed, then open the live file. */
  private async *start(): AsyncGenerator<RecordBatch> {
    this.started = true;
    const saved = this.ctx.positions.get(this.c.streamId) as LoggerStorePosition | undefined;
    if (!saved || saved.v !== 1) return;
    // the live file itself?
    try {
      const st = await stat(this.file);
      if (st.dev === saved.file.dev && st.ino === saved.file.ino && st.size >= saved.offset && (await headMatches(this.file, saved.file))) {
        await this.openLive(saved.offset, saved.line);
        if (saved.rotated) await this.restoreRotatedAway(saved.rotated);
        return;
      }
    } catch {
      /* fall through */
    }
    // rotated while we were down: finish that archive first (plain or gzip)
    for (let i = this.c.files.length - 1; i >= 0; i--) {
      const f = this.c.files[i]!;
      if (f.path === this.file) continue;
      let match = false;
      try {
        match = await headMatches(f.path, saved.file);
      } catch {
        match = false;
      }
      if (!match) continue;
      const ident = await identify(f.path);
      const sp = new LineSplitter(saved.offset, this.opts.maxLineBytes);
      let line = saved.line;
      this.h.origin = f.path;
      const pump = new LoggerLinePump(sp, this.h, this.b, this.scanner, line);
      for await (const chunk of readChunks(f.path, saved.offset, this.opts.chunkBytes ?? CHUNK_BYTES, this.ctx.signal)) {
        sp.push(chunk);
        while (pump.pump()) {
          this.h.flushDuplicates(this.b);
          const p: LoggerStorePosition = { v: 1, name: path.basename(f.path), file: ident, offset: pump.consumed, line: pump.line, tracker: this.h.tracker.snapshot() };
          yield this.b.take({ [this.c.streamId]: p as unknown as SourcePosition });
        }
      }
      line = pump.line;
      const tail = sp.takeTail();
      if (tail) this.h.incomplete(this.b, tail.buf, tail.offset, line + 1, tail.bytes);
      this.h.origin = this.file;
      return; // the live file is then read from 0 (pending batch carries on)
    }
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
    const head = Buffer.alloc(FINGERPRINT_BYTES);
    const { bytesRead } = await this.fh.read(head, 0, FINGERPRINT_BYTES, 0);
    this.ident = { dev: st.dev, ino: st.ino, fp: fingerprint(head, bytesRead), fpLen: bytesRead };
    this.offset = offset;
    this.readPos = offset;
    this.line = line;
    this.sp = new LineSplitter(offset, this.opts.maxLineBytes);
    this.h.origin = this.file;
    return true;
  }

  /** Reads what is new; yields full batches, then the rest (promptly) with the position. */
  async *poll(): AsyncGenerator<RecordBatch> {
    if (!this.started) yield* this.start();
    if (!this.fh && !(await this.openLive(0, 0))) {
      if (this.b.pending()) yield this.b.take({});
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
    // the head after every read
    yield* this.drain();
    if (rotated) {
      // the old inode is read to its end; it stays open (with a torn last line kept) in case a
      // session still writes to it, and the new file is followed from 0
      this.ctx.log('info', `${this.file} was rotated; following the new file`);
      await this.abandonRotatedAway();
      const ident = this.ident!;
      const rotatedPath = (await this.rotatedPath(ident.ino, ident.dev)) ?? `${this.file} (rotated, inode ${ident.ino})`;
      this.rotatedAway = { fh: this.fh!, ident, path: rotatedPath, readPos: this.readPos, offset: this.offset, sp: this.sp, line: this.line, grew: false };
      this.fh = undefined;
      if (await this.openLive(0, 0)) yield* this.drain();
    } else {
      yield* this.drainRotatedAway();
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
      if (this.ident!.fpLen < FINGERPRINT_BYTES && this.readPos > this.ident!.fpLen) await this.refreshIdent();
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

  private async refreshIdent(): Promise<void> {
    const head = Buffer.alloc(FINGERPRINT_BYTES);
    const { bytesRead } = await this.fh!.read(head, 0, FINGERPRINT_BYTES, 0);
    this.ident = { ...this.ident!, fp: fingerprint(head, bytesRead), fpLen: bytesRead };
  }
}

