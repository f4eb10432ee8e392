/**
 * Text archive source: dmesg, syslog, journalctl short, lkrg-logctl output, console
 * captures and bare messages, plain or gzip, read once (replay). Shapes per
 * {@link parseTextLine}; `input: 'auto'` detects the shape per line.
 *
 * One stream per file: streamId `text:<absolute path>`; position {@link TextFilePosition}
 * = file identity (dev, inode, head fingerprint of the decompressed content) + the byte
 * offset in the decompressed stream after the last line of the batch + line number.
 * `--resume` skips to that offset when the file's head still matches, else reads the file
 * from the start. Empty lines are skipped; lines with NUL bytes or longer than the cap are
 * reported malformed; a last line without newline is taken as a record (archives often end
 * that way). The year of RFC 3164 timestamps comes from the file's mtime.
 */
import { handleJournalJsonLine } from './journal-json-line.js';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, type RawRecord, type RecordBatch, type Source, type SourceContext, type SourcePosition } from '../core/types.js';
import { rawForReport } from '../parse/containers/escape.js';
import { parseTextLine, type TextLineOptions, type TextShape } from '../parse/containers/text-line.js';
import { BatchBuilder, type BatchLimits } from './batch-builder.js';
import { CHUNK_BYTES, headMatches, identify, listFiles, parseRotatedName, readChunks, sortOldestFirst, type FileIdentity } from './file-identity.js';
import { LineSplitter } from './line-splitter.js';

/** Options of {@link TextSource}. */
export interface TextSourceOptions extends BatchLimits {
  /** Files and/or directories (all regular files inside, not recursive). */
  readonly paths: readonly string[];
  /** Line shape; 'auto' (default) detects per line. */
  readonly input?: TextShape;
  /** Year for RFC 3164 lines (default: from each file's mtime). */
  readonly year?: number;
  /** See LoggerLineOptions.prefilter: records whose text fails it are not yielded. */
  readonly prefilter?: (text: string) => boolean;
  readonly includeNonLkrg?: boolean;
  /** Line cap (default 64 KiB). */
  readonly maxLineBytes?: number;
  readonly chunkBytes?: number;
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

/** Reads text archives once; see module doc. */
export class TextSource implements Source {
  readonly id: string;

  constructor(private readonly opts: TextSourceOptions) {
    if (opts.paths.length === 0) throw new ConfigError('sources[].paths', opts.paths, 'give at least one file or directory');
    this.id = opts.id ?? 'text';
  }

  private async files(): Promise<string[]> {
    const out: string[] = [];
    for (const p0 of this.opts.paths) {
      const p = path.resolve(p0);
      let st;
      try {
        st = await stat(p);
      } catch (e) {
        throw new ConfigError('sources[].paths', p0, `cannot read it (${(e as Error).message}); give existing files or directories`);
      }
      if (st.isDirectory()) {
        const list = (await listFiles(p)).map((f) => ({ f, rot: parseRotatedName(path.basename(f)) }));
        // group by base, oldest archive first
        const groups = new Map<string, typeof list>();
        for (const e of list) groups.set(e.rot.base, [...(groups.get(e.rot.base) ?? []), e]);
        for (const k of [...groups.keys()].sort()) out.push(...sortOldestFirst(groups.get(k)!).map((e) => e.f));
      } else out.push(p);
    }
    return [...new Set(out)];
  }

  /** Sum of file sizes (compressed for .gz). */
  async totalBytes(): Promise<number | undefined> {
    let n = 0;
    for (const f of await this.files()) n += (await stat(f)).size;
    return n;
  }

  /** Yields batches of every file in order, then returns. */
  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const prefilter = this.opts.includeNonLkrg ? undefined : this.opts.prefilter;
    for (const file of await this.files()) {
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
      for await (const chunk of readChunks(file, offset, this.opts.chunkBytes ?? CHUNK_BYTES, ctx.signal)) {
        sp.push(chunk);
        while (sp.next()) {
          line++;
          handleTextLine(b, sp.buf, sp.start, sp.end, sp.overlong, { streamId, origin: file, offset: sp.lineOffset, line }, lineOpts, prefilter);
          b.bytes += sp.lineBytes;
          if (b.full()) yield b.take(pos(sp.consumed, line));
        }
        if (ctx.signal.aborted) return;
      }
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
}
