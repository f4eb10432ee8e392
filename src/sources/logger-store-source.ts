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
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, type RecordBatch, type Source, type SourceContext, type SourcePosition } from '../core/types.js';
import { BatchBuilder, joinBatches, turnEvery, FILES_PER_TURN } from './batch-builder.js';
import {
  CHUNK_BYTES, headMatches, identify, IPV4_NAME, listFiles, parseRotatedName, readChunks, sortOldestFirst, type FileIdentity, type RotatedName,
} from './file-identity.js';
import { FileTail, followFiles, type FileTailOptions, type LinePumper, type TailLines, type TailPosition } from './file-tail.js';
import { LineSplitter } from './line-splitter.js';
import type { BootTrackerState } from './logger-boot-tracker.js';
import { LoggerLineHandler, type LoggerLineOptions } from './logger-line-handler.js';
import { LoggerLinePump } from './logger-line-pump.js';
import { LoggerLineScanner } from './logger-line-scanner.js';

/**
 * Options of {@link LoggerStoreSource}. Of the {@link FileTailOptions}, the line cap (longer
 * lines are reported malformed) and the read size apply to both modes, the rotated-file
 * settings to live mode.
 */
export interface LoggerStoreSourceOptions extends LoggerLineOptions, FileTailOptions {
  /** Store directories and/or single files (replay); directories only make sense live. */
  readonly paths: readonly string[];
  /** 'live' follows files, 'replay' reads once. */
  readonly mode: 'live' | 'replay';
  /** Live: how often directories and files are checked (default 500 ms). */
  readonly pollIntervalMs?: number;
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

/**
 * Saved position of one client stream (JSON): the followed file's {@link TailPosition} (replay
 * fills only its file, offset and line) plus the boot tracker state.
 */
export interface LoggerStorePosition extends TailPosition {
  readonly tracker: BootTrackerState;
}


interface ClientFile { readonly path: string; readonly rot: RotatedName }

interface Client { readonly name: string; readonly dir: string; readonly streamId: string; files: ClientFile[] }

/** Reads lkrg-logger store files; see module doc. Created by createSource() or directly. */
export class LoggerStoreSource implements Source {
  readonly id: string;
  private readonly clientRe: RegExp;
  private scanner: LoggerLineScanner | null | undefined;
  /** The last result of {@link clients} and the listing it was grouped from. */
  private grouped: { key: string; clients: Client[] } | undefined;

  constructor(private readonly opts: LoggerStoreSourceOptions) {
    if (opts.paths.length === 0) throw new ConfigError('sources[].path', opts.paths, 'give at least one store directory or file');
    this.id = opts.id ?? 'logger-store';
    this.clientRe = opts.clientName ?? IPV4_NAME;
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
    for (const c of await this.clients(true)) for (const f of c.files) n += statSync(f.path).size; // in place, see readHead
    return n;
  }

  /** Yields batches until the input ends (replay) or ctx.signal aborts (live). */
  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    if (this.opts.mode === 'replay') {
      // the batches of small files (a fleet's daily archives: a few records each) joined
      yield* joinBatches(this.replayClients(ctx), this.opts, ctx.signal);
      return;
    }
    yield* this.live(ctx);
  }

  /**
   * Groups files per client (dir + base name), archives included when `archives`. Live mode
   * skips a path that does not exist (yet) and lists it in `missing`.
   */
  private async clients(archives: boolean, missing?: string[]): Promise<Client[]> {
    // the listing first; the grouping below is redone only when it changed (live mode lists
    // the store at every poll, and on a quiet log server it is the same thousands of names)
    const listed: { p: string; files: string[] | null }[] = [];
    let key = archives ? 'a' : 'l';
    for (const p0 of this.opts.paths) {
      const p = path.resolve(p0);
      let st;
      try {
        st = await stat(p);
      } catch (e) {
        if (this.opts.mode === 'live') {
          missing?.push(p0); // the directory may appear later
          continue;
        }
        throw new ConfigError('sources[].path', p0, `cannot read it (${(e as Error).message}); give an existing store directory or file`);
      }
      const files = st.isDirectory() ? await listFiles(p) : null;
      listed.push({ p, files });
      key += `\0${p}\0${files === null ? '' : files.join('\n')}`;
    }
    if (this.grouped?.key === key) return this.grouped.clients;
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
    for (const { p, files } of listed) {
      if (files !== null) for (const f of files) add(f, false);
      else add(p, true);
    }
    const out = [...byKey.values()];
    for (const c of out) sortOldestFirst(c.files);
    out.sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
    this.grouped = { key, clients: out };
    return out;
  }

  /** Replay: every client's files, client after client. */
  private async *replayClients(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    for (const c of await this.clients(true)) {
      if (ctx.signal.aborted) return;
      yield* this.replayClient(c, ctx);
    }
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
      await turnEvery(FILES_PER_TURN);
      const f = c.files[i]!;
      const offset0 = i === start.index ? start.offset : 0;
      let line = i === start.index ? start.line : 0;
      // the identity only for a position (a full batch, the client's end): most small rotated
      // files of a client never need one
      let ident: FileIdentity | undefined;
      const identOf = async (): Promise<FileIdentity> => (ident ??= await identify(f.path));
      h.origin = f.path;
      const sp = new LineSplitter(offset0, this.opts.maxLineBytes);
      const pump = new LoggerLinePump(sp, h, b, scanner, line);
      for await (const chunk of readChunks(f.path, offset0, chunkBytes, ctx.signal)) {
        sp.push(chunk);
        while (pump.pump()) {
          h.flushDuplicates(b);
          yield b.take(this.position(c, path.basename(f.path), await identOf(), pump.consumed, pump.line, h));
        }
        if (ctx.signal.aborted) return;
      }
      line = pump.line;
      const tail = sp.takeTail();
      if (tail) h.incomplete(b, tail.buf, tail.offset, line + 1, tail.bytes);
      h.flushDuplicates(b);
      // the batch goes on into the client's next file (its position, when it is taken, names a
      // later file, which covers this one: a resume starts there); taken here only at the end
      // of the client, so a client with many small files costs one position, not one per file
      if (i === c.files.length - 1) yield b.take(this.position(c, path.basename(f.path), await identOf(), sp.consumed, line, h));
    }
    if (h.malformedCount > 0) ctx.log('warn', `${c.streamId}: ${h.malformedCount} malformed line(s)`);
  }

  // ---------------------------------------------------------------- live

  private async *live(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    let warnedMissing = false;
    yield* followFiles(ctx, this.opts.pollIntervalMs ?? 500, this.opts.startAt, this.opts, async (tails, firstSight, followedSinceMs) => {
      let clients: Client[] = [];
      try {
        // live mode skips a store directory that does not exist (yet): say so on /health
        const missing: string[] = [];
        clients = await this.clients(true, missing);
        warnedMissing = false;
        ctx.health?.(missing.length > 0 ? `${missing.join(', ')}: no such store directory (yet); nothing is read from it` : null);
      } catch (e) {
        if (!warnedMissing) ctx.log('warn', `logger store: ${(e as Error).message}`);
        warnedMissing = true;
        ctx.health?.(`logger store: ${(e as Error).message}`);
      }
      for (const c of clients) {
        const live = c.files.find((f) => f.rot.n === 0 && !f.rot.date && !f.rot.gz);
        if (!live || tails.has(c.streamId)) continue;
        const saved = ctx.positions.get(c.streamId) as LoggerStorePosition | undefined;
        const h = new LoggerLineHandler(c.name, c.streamId, live.path, this.opts, saved?.v === 1 ? saved.tracker : undefined);
        tails.set(c.streamId, new FileTail(c.streamId, c.name, live.path, c.files, this.opts, ctx, new LoggerTailLines(h, this.lineScanner()), firstSight, followedSinceMs));
      }
    });
  }
}

/** The logger store's {@link TailLines}: store records through the boot-tracking handler. */
class LoggerTailLines implements TailLines {
  constructor(private readonly h: LoggerLineHandler, private readonly scanner: LoggerLineScanner | null) {}

  get origin(): string {
    return this.h.origin;
  }

  set origin(p: string) {
    this.h.origin = p;
  }

  pumper(sp: LineSplitter, b: BatchBuilder, line: number): LinePumper {
    return new LoggerLinePump(sp, this.h, b, this.scanner, line);
  }

  incomplete(b: BatchBuilder, buf: Buffer, offset: number, line: number, bytes: number): void {
    this.h.incomplete(b, buf, offset, line, bytes);
  }

  notice(b: BatchBuilder, offset: number, type: 'truncated', detail: string): void {
    this.h.notice(b, offset, type, detail);
  }

  flush(b: BatchBuilder): void {
    this.h.flushDuplicates(b);
  }

  state(): { tracker: BootTrackerState } {
    return { tracker: this.h.tracker.snapshot() };
  }
}
