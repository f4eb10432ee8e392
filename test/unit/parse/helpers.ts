/** Shared helpers for the parser and assembler tests (not a test file itself). */
import { readFileSync } from 'node:fs';
import type { RawRecord } from '../../../src/core/types.js';

export const SAMPLES = '/work/shared/samples';

/** One row of shared/samples/expected-parse.jsonl. */
export interface ExpectedRow {
  readonly file: string;
  readonly line: number;
  readonly template: string | null;
  readonly message?: string;
  readonly style?: string;
  readonly level?: string;
  readonly action?: string | null;
  readonly category?: string | null;
  readonly fields?: Record<string, string | null>;
  readonly also_matches?: string[];
  readonly context_rule?: string;
  readonly warning?: string;
  readonly syslog_facility?: number;
  readonly syslog_identifier?: string;
  readonly seq?: number;
}

export function expectedRows(): ExpectedRow[] {
  return readFileSync(`${SAMPLES}/expected-parse.jsonl`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ExpectedRow);
}

/** Expected fields without the null entries (optional groups that did not participate). */
export function presentFields(f: Record<string, string | null> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f ?? {})) if (v !== null) out[k] = v;
  return out;
}

let offset = 0;

/** A kernel record of stream `streamId` with sensible defaults. */
export function rec(text: string, over: Partial<RawRecord> = {}): RawRecord {
  offset += 100;
  return {
    streamId: 's1',
    origin: 'test',
    offset,
    container: 'bare',
    original: text,
    text,
    host: { name: 'host1', bootId: 'boot-1' },
    timeUs: null,
    ...over,
  };
}
