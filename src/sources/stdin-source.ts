/**
 * A source over a Readable stream (stdin): `input` names the shape or 'auto' detects it from
 * the first non-empty line (a logger store record → logger, `{` → journal-json, else text
 * with per-line detection). Position = `{ line }` (stdin is not resumable; the position is
 * informational). Stream id `stdin` unless given.
 */
import type { Readable } from 'node:stream';
import type { RecordBatch, Source, SourceContext } from '../core/types.js';
import { newLoggerFields, scanLoggerFields } from '../parse/containers/logger-record.js';
import type { TextShape } from '../parse/containers/text-line.js';
import { BatchBuilder, type BatchLimits } from './batch-builder.js';
import { LineSplitter } from './line-splitter.js';
import { LoggerLineHandler } from './logger-line-handler.js';
import { handleJournalJsonLine } from './journal-json-line.js';
import { handleTextLine } from './text-source.js';

/** Input shapes of the stdin source. */
export type StdinInput = 'auto' | 'logger' | 'journal-json' | 'text' | Exclude<TextShape, 'auto'>;

/** Options of {@link StdinSource}. */
export interface StdinSourceOptions extends BatchLimits {
  readonly stream: Readable;
  readonly input?: StdinInput;
  /** Client IPv4 for logger records (host.ip); default 'stdin'. */
  readonly ip?: string;
  /** Year for RFC 3164 lines (default: current year). */
  readonly year?: number;
  readonly prefilter?: (text: string) => boolean;
  readonly includeNonLkrg?: boolean;
  readonly maxLineBytes?: number;
  readonly streamId?: string;
  readonly id?: string;
}

/** Reads records from a stream until it ends; see module doc. */
export class StdinSource implements Source {
  readonly id: string;
  private readonly streamId: string;

  constructor(private readonly opts: StdinSourceOptions) {
    this.id = opts.id ?? 'stdin';
    this.streamId = opts.streamId ?? 'stdin';
  }

  /** Yields batches (at least one per input chunk that completed lines) until the stream ends. */
  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const o = this.opts;
    const prefilter = o.includeNonLkrg ? undefined : o.prefilter;
    let input: StdinInput | undefined = o.input && o.input !== 'auto' ? o.input : undefined;
    const logger = new LoggerLineHandler(o.ip ?? 'stdin', this.streamId, 'stdin', o);
    const b = new BatchBuilder(o);
    const sp = new LineSplitter(0, o.maxLineBytes);
    const probe = newLoggerFields();
    let line = 0;
    const textOpts = (): { shape: TextShape; year?: number } => ({
      shape: input === 'text' || input === undefined || input === 'logger' || input === 'journal-json' ? 'auto' : input,
      ...(o.year !== undefined ? { year: o.year } : {}),
    });
    const handle = (buf: Buffer, start: number, end: number, offset: number, overlong: boolean): void => {
      line++;
      if (input === undefined) {
        if (end === start) return;
        input = buf[start] === 123 ? 'journal-json' : scanLoggerFields(buf, start, end, probe) === null ? 'logger' : 'text';
      }
      const where = { streamId: this.streamId, origin: 'stdin', offset: line, line };
      if (input === 'logger') return logger.line(b, buf, start, end, line, line, overlong);
      if (input === 'journal-json') return handleJournalJsonLine(b, buf, start, end, overlong, where, prefilter);
      handleTextLine(b, buf, start, end, overlong, where, textOpts(), prefilter);
      void offset;
    };
    for await (const chunk of o.stream as AsyncIterable<Buffer | string>) {
      if (ctx.signal.aborted) return;
      sp.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      while (sp.next()) {
        handle(sp.buf, sp.start, sp.end, sp.lineOffset, sp.overlong);
        b.bytes += sp.lineBytes;
        if (b.full()) {
          logger.flushDuplicates(b);
          yield b.take({ [this.streamId]: { line } });
        }
      }
      logger.flushDuplicates(b);
      if (b.pending()) yield b.take({ [this.streamId]: { line } });
    }
    const tail = sp.takeTail();
    if (tail) {
      if (input === 'logger' || (input === undefined && scanLoggerFields(tail.buf, 0, tail.buf.length, probe) === null)) {
        logger.incomplete(b, tail.buf, line + 1, line + 1, tail.bytes);
        line++;
      } else handle(tail.buf, 0, tail.buf.length, tail.offset, false);
      b.bytes += tail.bytes;
    }
    logger.flushDuplicates(b);
    yield b.take({ [this.streamId]: { line } });
  }
}
