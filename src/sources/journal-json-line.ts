/**
 * One `journalctl --output=json` line inside a file or a stream (exports copied from other
 * machines): parsed into a record, or reported malformed. Used by the text source (auto shape,
 * a line starting with `{`) and the stdin source (`--input journal-json`). Never throws.
 */
import type { BatchBuilder } from './batch-builder.js';
import { parseJournalEntry, parseJournalJsonLine } from '../parse/containers/journal-entry.js';
import { rawForReport } from '../parse/containers/escape.js';
import { journalEntryToRecord } from './journald-source.js';

export function handleJournalJsonLine(
  b: BatchBuilder, buf: Buffer, start: number, end: number, overlong: boolean,
  where: { streamId: string; origin: string; offset: number; line: number },
  prefilter: ((t: string) => boolean) | undefined,
): void {
  if (end === start) return;
  const j = overlong ? null : parseJournalJsonLine(buf.toString('utf8', start, end));
  if (!j) {
    b.malformed.push({ ...where, reason: overlong ? 'line longer than the line cap (cut)' : 'not a JSON object', raw: rawForReport(buf, start, end, 1024) });
    return;
  }
  const e = parseJournalEntry(j as never);
  if (!e) return;
  if (prefilter && e.missed === undefined && !prefilter(e.text)) return;
  b.records.push(journalEntryToRecord(e, where));
}
