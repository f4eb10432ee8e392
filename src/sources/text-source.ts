/**
 * Text source: dmesg, syslog, journalctl short, lkrg-logctl output, console captures and bare
 * messages, plain or gzip. Shapes per {@link parseTextLine}; `input: 'auto'` detects the shape
 * per line. Paths are files, directories (their regular files) or patterns with `*` and `?`
 * ({@link expandPattern}).
 *
 * - replay (default): reads every file once, rotated archives of a name oldest first. A last
 *   line without newline is taken as a record (archives often end that way). The year of RFC
 *   3164 timestamps comes from the file's mtime.
 * - live: follows every file the paths name, also files and directories that appear later
 *   (patterns are expanded again at every poll), with a {@link FileTail}: truncation, rewrite
 *   in place and logrotate (rename-and-create, `copytruncate`, `compress`) are handled as for
 *   lkrg-logger stores, and rotated files a writer still appends to (rsyslog until its HUP) stay
 *   followed. Rotated names (`kern.log.1`, `.2.gz`, `-YYYYMMDD`) found through a directory or a
 *   pattern are not followed themselves. A torn last line waits for its newline. RFC 3164 years
 *   come from the current time.
 *
 * One stream per file: streamId `text:<absolute path>`. Replay positions are
 * {@link TextFilePosition}: file identity (dev, inode, head fingerprint of the decompressed
 * content) + the byte offset after the last line of the batch + line number; `--resume` skips to
 * that offset when the file's head still matches, else reads the file from the start. Live
 * positions are {@link TailPosition}s (the same fields, plus the rotated files still read).
 * Empty lines are skipped; lines with NUL bytes or longer than the cap are reported malformed.
 */
import { handleJournalJsonLine } from './journal-json-line.js';
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, type RawRecord, type RecordBatch, type Source, type SourceContext, type SourcePosition } from '../core/types.js';
import { rawForReport } from '../parse/containers/escape.js';
import { parseTextLine, type TextLineOptions, type TextShape } from '../parse/containers/text-line.js';
import { BatchBuilder, joinBatches, turnEvery, FILES_PER_TURN } from './batch-builder.js';
import { CHUNK_BYTES, headMatches, identify, IPV4_NAME, listFiles, parseRotatedName, readChunks, sortOldestFirst, type FileIdentity, type RotatedName } from './file-identity.js';
import { FileTail, followFiles, type FileTailOptions, type LinePumper, type TailLines } from './file-tail.js';
import { LineSplitter } from './line-splitter.js';
import { expandPattern, hasWildcard } from './path-glob.js';

/** Options of {@link TextSource}. The rotated-file settings of {@link FileTailOptions} apply to live mode. */
export interface TextSourceOptions extends FileTailOptions {
  /** Files, directories (all regular files inside, not recursive) and patterns with `*` / `?`. */
  readonly paths: readonly string[];
  /** 'replay' (default) reads every file once; 'live' follows them (see module doc). */
  readonly mode?: 'replay' | 'live';
  /** Live: how often the paths and files are checked (default 500 ms). */
  readonly pollIntervalMs?: number;
  /** Line shape; 'auto' (default) detects per line. */
  readonly input?: TextShape;
  /** Year for RFC 3164 lines (default: from each file's mtime). */
  readonly year?: number;
  /** See LoggerLineOptions.prefilter: records whose text fails it are not yielded. */
  readonly prefilter?: (text: string) => boolean;
  readonly includeNonLkrg?: boolean;
  readonly id?: string;
}

/** Saved position of one text file (JSON). */
export interface TextFilePosition {
  readonly v: 1;
  readonly file: FileIdentity;
  readonly offset: number;
  readonly line: number;
}

/**
 * Handles one text line for the text and stdin sources: parses it, applies the prefilter
 * and pushes a record or a malformed report. Never throws.
 */
export function handleTextLine(
  b: BatchBuilder, buf: Buffer, start: number, end: number, overlong: boolean,
  where: { streamId: string; origin: string; offset: number; line: number },
  opts: TextLineOptions, prefilter: ((t: string) => boolean) | undefined,
): void {
  if (end > start && buf[end - 1] === 13) end--; // CRLF
  if (end === start) return;
  if (overlong) {
    b.malformed.push({ ...where, reason: 'line longer than the line cap (cut)', raw: rawForReport(buf, start, end, 1024) });
    return;
  }
  if (buf[start] === 123 && (opts.shape === undefined || opts.shape === 'auto')) {
    // `journalctl --output=json` exports in an archive directory
    return handleJournalJsonLine(b, buf, start, end, overlong, where, prefilter);
  }
  if (buf.subarray(start, end).indexOf(0) >= 0) {
    b.malformed.push({ ...where, reason: 'binary data (NUL bytes) in a text line', raw: rawForReport(buf, start, end, 1024) });
    return;
  }
  const original = buf.toString('utf8', start, end);
  const t = parseTextLine(original, opts);
  if (prefilter && !prefilter(t.text)) return;
  const host = t.hostName !== undefined ? { name: t.hostName } : {};
  const r: RawRecord = {
    ...where, container: t.container, original, text: t.text, host, timeUs: t.timeUs,
    ...(t.uptimeUs !== undefined ? { uptimeUs: t.uptimeUs } : {}),
    ...(t.facility !== undefined ? { facility: t.facility } : {}),
    ...(t.severity !== undefined ? { severity: t.severity } : {}),
    ...(t.identifier !== undefined ? { identifier: t.identifier } : {}),
    ...(t.kernelOrigin !== undefined ? { kernelOrigin: t.kernelOrigin } : {}),
    ...(t.flag !== undefined ? { flag: t.flag } : {}),
    ...(t.callerId !== undefined ? { extra: { callerId: t.callerId } } : {}),
  };
  b.records.push(r);
}

/** A followed file's lines as text records (see {@link FileTail}). */
class TextTailLines implements TailLines {
  constructor(
    private readonly streamId: string,
    public origin: string,
    private readonly lineOpts: TextLineOptions,
    private readonly prefilter: ((t: string) => boolean) | undefined,
    private readonly maxLineBytes: number,
  ) {}

  pumper(sp: LineSplitter, b: BatchBuilder, line: number): LinePumper {
    return new TextLinePumper(sp, b, line, this.streamId, this, this.lineOpts, this.prefilter);
  }

  /** A text line without its newline is still a line (the writer was cut off): a record. */
  incomplete(b: BatchBuilder, buf: Buffer, offset: number, line: number, bytes: number): void {
    handleTextLine(b, buf, 0, buf.length, bytes > this.maxLineBytes, { streamId: this.streamId, origin: this.origin, offset, line }, this.lineOpts, this.prefilter);
  }

  /** Text lines carry no stream to report on: the tail's warning in the log says it. */
  notice(): void {}

  flush(): void {}

  state(): Record<string, never> {
    return {};
  }
}

/**
 * Moves the complete lines of a {@link LineSplitter} into a batch as text records; shared by
 * replay and the live tail. `where.origin` is read per line (a tail renames it after a rotation).
 */
class TextLinePumper implements LinePumper {
  line: number;
  consumed: number;

  constructor(
    private readonly sp: LineSplitter,
    private readonly b: BatchBuilder,
    line: number,
    private readonly streamId: string,
    private readonly where: { readonly origin: string },
    private readonly lineOpts: TextLineOptions,
    private readonly prefilter: ((t: string) => boolean) | undefined,
  ) {
    this.line = line;
    this.consumed = sp.consumed;
  }

  pump(): boolean {
    const { sp, b } = this;
    while (sp.next()) {
      this.line++;
      handleTextLine(b, sp.buf, sp.start, sp.end, sp.overlong, { streamId: this.streamId, origin: this.where.origin, offset: sp.lineOffset, line: this.line }, this.lineOpts, this.prefilter);
      b.bytes += sp.lineBytes;
      this.consumed = sp.consumed;
      if (b.full()) return true;
    }
    return false;
  }
}

/** Names a rotated-name suffix may follow: an IPv4 address (rsyslog's %FROMHOST-IP%) or a name not ending in `.N`. */
const textBase = (s: string): boolean => IPV4_NAME.test(s) || !/\.\d+$/.test(s);

/** Reads text files once (replay) or follows them (live); see module doc. */
export class TextSource implements Source {
  readonly id: string;

  constructor(private readonly opts: TextSourceOptions) {
    if (opts.paths.length === 0) throw new ConfigError('sources[].paths', opts.paths, 'give at least one file, directory or pattern');
    this.id = opts.id ?? 'text';
  }

  /**
   * The files the paths name: explicit files, directories' regular files and pattern matches
   * (with rotated archives), grouped by name with the oldest archive first. `strict`: a path
   * that names nothing is a ConfigError (replay); otherwise it is skipped (live: it may appear).
   */
  private async files(strict: boolean): Promise<{ path: string; explicit: boolean; rot: RotatedName }[]> {
    const out: { path: string; explicit: boolean; rot: RotatedName }[] = [];
    const seen = new Set<string>();
    const push = (f: string, explicit: boolean, rot: RotatedName): void => {
      if (seen.has(f)) return;
      seen.add(f);
      out.push({ path: f, explicit, rot });
    };
    for (const p0 of this.opts.paths) {
      const pattern = hasWildcard(p0);
      const matches = await expandPattern(p0);
      if (matches.length === 0) {
        if (!strict) continue;
        if (pattern) throw new ConfigError('sources[].paths', p0, 'the pattern matches no file; give existing files, directories or a pattern that matches some');
        throw new ConfigError('sources[].paths', p0, 'cannot read it (no such file or directory); give existing files or directories');
      }
      // files of the directories and pattern matches, grouped per directory and name with the
      // oldest archive first
      const listed: { f: string; rot: RotatedName }[] = [];
      for (const { path: p, isFile, isDirectory } of matches) {
        if (isDirectory) for (const f of await listFiles(p).catch(() => [] as string[])) listed.push({ f, rot: parseRotatedName(path.basename(f), textBase) });
        else if (isFile && pattern) listed.push({ f: p, rot: parseRotatedName(path.basename(p), textBase) });
        else if (isFile) push(p, true, parseRotatedName(path.basename(p), textBase));
      }
      const groups = new Map<string, typeof listed>();
      for (const e of listed) {
        const k = path.join(path.dirname(e.f), e.rot.base);
        groups.set(k, [...(groups.get(k) ?? []), e]);
      }
      for (const k of [...groups.keys()].sort()) for (const e of sortOldestFirst(groups.get(k)!)) push(e.f, false, e.rot);
    }
    return out;
  }

  /** Sum of file sizes (compressed for .gz). */
  async totalBytes(): Promise<number | undefined> {
    let n = 0;
    for (const f of await this.files(this.opts.mode !== 'live')) n += statSync(f.path).size; // in place, see readHead
    return n;
  }

  /** Replay: yields batches of every file in order, then returns. Live: follows until ctx.signal aborts. */
  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    if (this.opts.mode === 'live') {
      yield* this.live(ctx);
      return;
    }
    // the batches of small files (a fleet's daily archives: a few lines each) joined
    yield* joinBatches(this.replay(ctx), this.opts, ctx.signal);
  }

  /** Replay: every file once, in order, a batch at least per file. */
  private async *replay(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const prefilter = this.opts.includeNonLkrg ? undefined : this.opts.prefilter;
    for (const { path: file } of await this.files(true)) {
      await turnEvery(FILES_PER_TURN);
      if (ctx.signal.aborted) return;
      const streamId = `text:${file}`;
      const st = await stat(file);
      const ident = await identify(file, st);
      const saved = ctx.positions.get(streamId) as TextFilePosition | undefined;
      let offset = 0;
      let line = 0;
      if (saved?.v === 1) {
        if (await headMatches(file, saved.file)) {
          offset = saved.offset;
          line = saved.line;
        } else ctx.log('warn', `${file}: content changed since the saved position; reading it from the start`);
      }
      const lineOpts: TextLineOptions = { shape: this.opts.input ?? 'auto', refTimeMs: st.mtimeMs, ...(this.opts.year !== undefined ? { year: this.opts.year } : {}) };
      const b = new BatchBuilder(this.opts);
      const sp = new LineSplitter(offset, this.opts.maxLineBytes);
      const pos = (off: number, ln: number): Record<string, SourcePosition> => ({ [streamId]: { v: 1, file: ident, offset: off, line: ln } });
      const pump = new TextLinePumper(sp, b, line, streamId, { origin: file }, lineOpts, prefilter);
      for await (const chunk of readChunks(file, offset, this.opts.chunkBytes ?? CHUNK_BYTES, ctx.signal)) {
        sp.push(chunk);
        while (pump.pump()) yield b.take(pos(pump.consumed, pump.line));
        if (ctx.signal.aborted) return;
      }
      line = pump.line;
      let end = sp.consumed;
      const tail = sp.takeTail();
      if (tail) {
        line++;
        handleTextLine(b, tail.buf, 0, tail.buf.length, tail.bytes > (this.opts.maxLineBytes ?? 64 * 1024), { streamId, origin: file, offset: tail.offset, line }, lineOpts, prefilter);
        b.bytes += tail.bytes;
        end += tail.bytes;
      }
      yield b.take(pos(end, line));
    }
  }

  /** Follows every file the paths name (re-expanded at every poll); see module doc. */
  private async *live(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const prefilter = this.opts.includeNonLkrg ? undefined : this.opts.prefilter;
    const lineOpts: TextLineOptions = { shape: this.opts.input ?? 'auto', ...(this.opts.year !== undefined ? { year: this.opts.year } : {}) };
    const maxLineBytes = this.opts.maxLineBytes ?? 64 * 1024;
    const warned = new Set<string>();
    yield* followFiles(ctx, this.opts.pollIntervalMs ?? 500, this.opts.startAt, this.opts, async (tails, firstSight, followedSinceMs) => {
      let files: Awaited<ReturnType<TextSource['files']>> = [];
      try {
        files = await this.files(false);
        // nothing to follow: a typo in a path or pattern would otherwise forward nothing, silently
        const problem = files.length === 0 && tails.size === 0 ? `no file matches ${this.opts.paths.join(', ')} (yet); nothing is read` : null;
        if (problem !== null && !warned.has(problem)) ctx.log('warn', `text source: ${problem}`);
        if (problem !== null) warned.add(problem);
        ctx.health?.(problem);
      } catch (e) {
        const msg = (e as Error).message;
        if (!warned.has(msg)) ctx.log('warn', `text source: ${msg}`);
        warned.add(msg);
        ctx.health?.(`text source: ${msg}`);
      }
      // each directory listed once per round, however many new files it holds (a flat directory
      // of thousands of hosts' files would otherwise be listed once per file: quadratic)
      const listings = new Map<string, Promise<Map<string, { path: string; rot: RotatedName }[]>>>();
      const byName = (dir: string): Promise<Map<string, { path: string; rot: RotatedName }[]>> => {
        let l = listings.get(dir);
        if (l === undefined) {
          listings.set(dir, (l = listFiles(dir).catch(() => [] as string[]).then((all) => {
            const m = new Map<string, { path: string; rot: RotatedName }[]>();
            for (const p of all) {
              const rot = parseRotatedName(path.basename(p), textBase);
              let g = m.get(rot.base);
              if (g === undefined) m.set(rot.base, (g = []));
              g.push({ path: p, rot });
            }
            return m;
          })));
        }
        return l;
      };
      for (const f of files) {
        // archives and rotated names are history (replay them); the live names are followed
        if (!f.explicit && (f.rot.n > 0 || f.rot.date !== undefined || f.rot.gz)) continue;
        if (f.explicit && f.rot.gz) continue;
        const streamId = `text:${f.path}`;
        if (tails.has(streamId)) continue;
        const base = path.basename(f.path);
        const archives = sortOldestFirst(((await byName(path.dirname(f.path))).get(base) ?? []).filter((a) => a.path !== f.path));
        const lines = new TextTailLines(streamId, f.path, lineOpts, prefilter, maxLineBytes);
        tails.set(streamId, new FileTail(streamId, f.path, f.path, archives, this.opts, ctx, lines, firstSight, followedSinceMs));
      }
    });
  }
}
