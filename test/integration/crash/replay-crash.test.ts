import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runCli, startCli } from '../../support/cli.js';
import { generateStore } from '../../bench/generate-store.js';

// SIGKILL the replay at random instants, restart with --resume each time: the file output must
// hold every event exactly once, in the same order as an uninterrupted run.
describe('crash safety of replay into a file output', () => {
  let dir: string;
  let store: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-crash-'));
    store = join(dir, 'store');
    generateStore(store, { records: 120_000, hosts: 6, lkrgShare: 0.25, sharedSamples: join(process.cwd(), '..', 'shared', 'samples') });
  });

  it('loses and duplicates nothing across repeated SIGKILLs', async () => {
    const ref = join(dir, 'ref.ndjson');
    const r = await runCli(['replay', store, '--output', `file:${ref}`, '--state', join(dir, 'ref.db'), '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const refLines = readFileSync(ref, 'utf8').split('\n').filter(Boolean);
    expect(refLines.length).toBeGreaterThan(20_000);

    const out = join(dir, 'crash.ndjson');
    const state = join(dir, 'crash.db');
    let kills = 0;
    let seed = 7;
    const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let attempt = 0; attempt < 12; attempt++) {
      const args = ['replay', store, '--output', `file:${out}`, '--state', state, '--no-progress'];
      if (attempt > 0) args.push('--resume');
      const child = startCli(args);
      const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
      const delay = 150 + Math.floor(rand() * 900);
      const timer = setTimeout(() => {
        if (child.exitCode === null) {
          child.kill('SIGKILL');
          kills++;
        }
      }, delay);
      const code = await exited;
      clearTimeout(timer);
      if (code === 0) break;
    }
    const fin = await runCli(['replay', store, '--output', `file:${out}`, '--state', state, '--resume', '--no-progress']);
    expect(fin.code, fin.stderr).toBe(0);
    expect(kills).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(true);
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const ids = lines.map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
    expect(new Set(ids).size).toBe(ids.length);
    const refIds = refLines.map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
    expect(ids).toEqual(refIds);
  });
});
