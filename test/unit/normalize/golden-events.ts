/**
 * Test helper: the events of the golden fixtures (test/fixtures/golden/<case>.input.txt, an
 * optional `#ctx {json}` first line with the record context, then one kernel message text per
 * line) through the real assembler. Used by golden.test.ts and ecs-json-writer.test.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LkrgEvent, RawRecord } from '../../../src/core/types.js';
import { EventAssembler } from '../../../src/parse/event-assembler.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../../fixtures/golden/', import.meta.url));
export const GOLDEN_READ_AT = 1_728_892_800_000;

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

/** The golden case names (sorted), empty when the fixture directory is missing. */
export function goldenCases(): string[] {
  return existsSync(GOLDEN_DIR) ? readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.input.txt')).map((f) => f.slice(0, -'.input.txt'.length)).sort() : [];
}

/** The events of one golden case, given the text of its input file. */
export function goldenEvents(name: string, input: string): LkrgEvent[] {
  const lines = input.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let ctx: Ctx = {};
  if (lines[0]?.startsWith('#ctx ')) ctx = JSON.parse(lines.shift()!.slice(5)) as Ctx;
  const asm = new EventAssembler({ includeNonLkrg: ctx.includeNonLkrg ?? true, now: () => GOLDEN_READ_AT });
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
