/**
 * Golden fixtures: test/fixtures/golden/<case>.input.txt (optional `#ctx {json}` first line with
 * the record context, then one kernel message text per line) -> the real parser + assembler ->
 * <case>.ecs.json (array of documents) -> <case>.cef (one line per document).
 * Each expected file was reviewed by eye against lkrg.md §10 and formats.md §2/§3.
 * Regenerate after a deliberate mapping change with UPDATE_GOLDEN=1 and review the diff.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LkrgEvent, RawRecord } from '../../../src/core/types.js';
import { EventAssembler } from '../../../src/parse/event-assembler.js';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { parseCefStrict } from '../../support/cef-strict-parser.js';

const DIR = fileURLToPath(new URL('../../fixtures/golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const READ_AT = 1_728_892_800_000;

interface Ctx {
  host?: RawRecord['host'];
  timeUs?: number;
  receivedUs?: number;
  seq?: number;
  facility?: number;
  severity?: number;
  container?: RawRecord['container'];
  kernelOrigin?: boolean;
  extra?: Record<string, string>;
  notice?: RawRecord['notice'];
  includeNonLkrg?: boolean;
}

function eventsFor(name: string, input: string): LkrgEvent[] {
  const lines = input.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let ctx: Ctx = {};
  if (lines[0]?.startsWith('#ctx ')) ctx = JSON.parse(lines.shift()!.slice(5)) as Ctx;
  const asm = new EventAssembler({ includeNonLkrg: ctx.includeNonLkrg ?? true, now: () => READ_AT });
  const out: LkrgEvent[] = [];
  const mk = (text: string, i: number): RawRecord => ({
    streamId: `golden/${name}`,
    origin: `golden/${name}`,
    offset: i * 100,
    line: i + 1,
    container: ctx.container ?? 'bare',
    original: text,
    text,
    host: ctx.host ?? {},
    timeUs: ctx.timeUs === undefined ? null : ctx.timeUs + i * 7,
    ...(ctx.receivedUs !== undefined ? { receivedUs: ctx.receivedUs + i * 7 } : {}),
    ...(ctx.seq !== undefined ? { seq: ctx.seq + i } : {}),
    ...(ctx.facility !== undefined ? { facility: ctx.facility } : {}),
    ...(ctx.severity !== undefined ? { severity: ctx.severity } : {}),
    ...(ctx.kernelOrigin !== undefined ? { kernelOrigin: ctx.kernelOrigin } : {}),
    ...(ctx.extra ? { extra: ctx.extra } : {}),
    ...(ctx.notice && i === 0 ? { notice: ctx.notice } : {}),
  });
  if (ctx.notice) out.push(...asm.push(mk('', 0)));
  else lines.forEach((l, i) => out.push(...asm.push(mk(l, i))));
  out.push(...asm.flush());
  return out;
}

const cases = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.input.txt')).map((f) => f.slice(0, -'.input.txt'.length)).sort() : [];
const n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'collector-1', version: '0.1.0', id: 'c0ffee00-0000-4000-8000-000000000001' } });

describe('golden fixtures', () => {
  it('has fixtures', () => expect(cases.length).toBeGreaterThanOrEqual(30));
  it.each(cases)('%s', (name) => {
    const events = eventsFor(name, readFileSync(`${DIR}${name}.input.txt`, 'utf8'));
    expect(events.length).toBeGreaterThan(0);
    const docs = events.map((e) => n.toEcs(e));
    const ecsText = JSON.stringify(docs, null, 2) + '\n';
    const cefText = docs.map((d) => n.toCef(d)).join('\n') + '\n';
    for (const line of cefText.trimEnd().split('\n')) parseCefStrict(line);
    if (UPDATE) {
      writeFileSync(`${DIR}${name}.ecs.json`, ecsText);
      writeFileSync(`${DIR}${name}.cef`, cefText);
      return;
    }
    expect(JSON.parse(ecsText)).toEqual(JSON.parse(readFileSync(`${DIR}${name}.ecs.json`, 'utf8')));
    expect(cefText).toBe(readFileSync(`${DIR}${name}.cef`, 'utf8'));
  });
});
