/**
 * Test helpers: build LkrgEvents by hand (the parser/assembler are another engineer's work)
 * from the shared sample corpus (`expected-parse.jsonl`) or from a few literal lines.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LkrgEvent, LkrgLevel, ParsedMessage, RawRecord } from '../../../src/core/types.js';

export const SHARED_SAMPLES = fileURLToPath(new URL('../../../../shared/samples/', import.meta.url));

/** One row of expected-parse.jsonl (only what the tests use). */
export interface ExpectedRow {
  file: string;
  line: number;
  template: string | null;
  style?: 'current' | 'legacy' | 'raw';
  level?: LkrgLevel;
  action?: 'DETECT' | 'BLOCK' | 'ALLOW' | null;
  category?: string | null;
  fields?: Record<string, string | null>;
  message?: string;
  recv_usec?: number;
  send_usec?: number;
  send_uptime_usec?: number;
  event_uptime_usec?: number;
  seq?: number;
  syslog_facility?: number;
  syslog_severity?: number;
  trusted_kernel_origin?: boolean;
}

export function readExpectedRows(): ExpectedRow[] {
  return readFileSync(SHARED_SAMPLES + 'expected-parse.jsonl', 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ExpectedRow);
}

export interface EventSpec {
  text: string;
  templateId?: string | null;
  style?: ParsedMessage['style'];
  level?: LkrgLevel | null;
  action?: ParsedMessage['action'];
  category?: string | null;
  fields?: Record<string, string>;
  isLkrg?: boolean;
  forged?: boolean;
  record?: Partial<RawRecord>;
  companions?: Partial<RawRecord>[];
  id?: string;
  readAtMs?: number;
}

export function makeRecord(text: string, r: Partial<RawRecord> = {}): RawRecord {
  return {
    streamId: 'test-stream',
    origin: 'test',
    offset: 0,
    container: 'bare',
    original: text,
    text,
    host: {},
    timeUs: null,
    ...r,
  };
}

export function makeEvent(s: EventSpec): LkrgEvent {
  const isLkrg = s.isLkrg ?? s.templateId !== null;
  return {
    id: s.id ?? 'evt-1',
    record: makeRecord(s.text, s.record),
    parsed: {
      isLkrg,
      templateId: isLkrg ? (s.templateId ?? 'unknown') : null,
      style: s.style ?? (isLkrg ? 'current' : null),
      level: s.level ?? null,
      action: s.action ?? null,
      category: s.category ?? null,
      fields: s.fields ?? {},
      body: '',
    },
    companions: (s.companions ?? []).map((c) => makeRecord(c.text ?? '', c)),
    forged: s.forged ?? false,
    readAtMs: s.readAtMs ?? 1_728_892_800_000,
  };
}

/** An LkrgEvent for one expected-parse row, with a realistic record context. */
export function eventFromRow(r: ExpectedRow, i: number): LkrgEvent {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.fields ?? {})) if (typeof v === 'string') fields[k] = v;
  const text = r.message ?? '';
  const store = r.send_usec !== undefined;
  const timeUs = store
    ? r.send_uptime_usec! > r.event_uptime_usec! ? r.send_usec! - (r.send_uptime_usec! - r.event_uptime_usec!) : r.send_usec!
    : r.file.includes('journal') ? 1_728_892_706_217_351 + i : null;
  const forged = r.syslog_facility !== undefined && r.syslog_facility !== 0 && text.startsWith('LKRG:');
  return makeEvent({
    id: `${r.file}:${r.line}`,
    text,
    templateId: r.template,
    isLkrg: r.template !== null || forged,
    style: r.style ?? null,
    level: r.level ?? null,
    action: r.action ?? null,
    category: r.category ?? null,
    fields,
    forged,
    record: {
      original: store ? `${r.recv_usec},${r.send_usec},${r.send_uptime_usec},${(r.syslog_facility ?? 0) * 8 + (r.syslog_severity ?? 0)},${r.seq},${r.event_uptime_usec},-;${text}` : text,
      host: store ? { ip: '10.20.30.41', bootId: 'boot-1' } : { name: 'web01', bootId: '88a1f0ed-5b7c-4c52-9a51-3a2d2b6c4e01', id: '8f1c0b7e2d4a4f6b9c3e5a7d1b2c4e6f' },
      timeUs,
      ...(r.recv_usec !== undefined ? { receivedUs: r.recv_usec } : {}),
      ...(r.seq !== undefined ? { seq: r.seq } : {}),
      ...(r.syslog_facility !== undefined ? { facility: r.syslog_facility } : {}),
      ...(r.syslog_severity !== undefined ? { severity: r.syslog_severity } : {}),
    },
  });
}
