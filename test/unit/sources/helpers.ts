import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { RecordBatch, Source, SourcePosition } from '../../../src/core/types.js';

export const SAMPLES = '/work/shared/samples';

/** Reads a source to its end (replay). */
export async function readAll(src: Source, positions = new Map<string, SourcePosition>()): Promise<{ batches: RecordBatch[]; logs: string[] }> {
  const ac = new AbortController();
  const logs: string[] = [];
  const batches: RecordBatch[] = [];
  for await (const b of src.read({ positions, signal: ac.signal, log: (l, m) => logs.push(`${l}: ${m}`) })) batches.push(b);
  return { batches, logs };
}

export function tmp(prefix: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export function lastPositions(batches: readonly RecordBatch[], into = new Map<string, SourcePosition>()): Map<string, SourcePosition> {
  for (const b of batches) for (const [k, v] of Object.entries(b.positions)) into.set(k, JSON.parse(JSON.stringify(v)) as SourcePosition);
  return into;
}

export function expected(file: string): Array<Record<string, unknown>> {
  return readFileSync(path.join(SAMPLES, 'expected-parse.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.file === file);
}
