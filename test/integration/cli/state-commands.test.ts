/**
 * The state file commands as an operator meets them: `check-state` (integrity, positions,
 * queues of outputs the configuration no longer names), `queue move|purge`, the warning `run`
 * gives about such queues, and the message for a state file that is not a database or is
 * damaged. Runs the built dist/src/cli.js.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, repoRoot, runCli } from '../../support/cli.js';
import { StateStore, type QueueInsert } from '../../../src/state/state-store.js';

const rows = (n: number, size = 100): QueueInsert[] =>
  Array.from({ length: n }, (_, i) => ({ eventId: `e${i}`, key: 'h', dataset: 'lkrg.alert', namespace: 'default', payload: JSON.stringify({ i, pad: 'x'.repeat(size) }) }));

describe('state file commands', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-state-cmd-'));
  });

  it('check-state finds the queue of a renamed output; queue move hands it to the new name, queue purge drops it; run warns', async () => {
    const state = join(dir, 'state.db');
    const store = new StateStore(state);
    store.commitBatch({ sourceId: 'logger_store:0', positions: { 'logger:/x/10.0.0.1': { v: 1 } }, queued: new Map([['siem-old', rows(3)]]) });
    store.close();
    const cfg = join(dir, 'cfg.yaml');
    writeFileSync(cfg, [
      `state_file: ${state}`,
      'sources:',
      `  - { type: logger_store, path: ${join(repoRoot, 'test', 'fixtures', 'demo', 'lkrg-logger')}, mode: replay }`,
      'outputs:',
      `  - { type: file, name: archive, path: ${join(dir, 'out.ndjson')} }`,
      '  - { type: kafka, name: siem-new, brokers: ["127.0.0.1:1"], topic: lkrg }',
      '',
    ].join('\n'));

    const bad = await runCli(['check-state', '--config', cfg, '--json']);
    expect(bad.code, bad.stderr).toBe(1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; problems: string[]; queues: Record<string, { events: number; configured: boolean }>; positions: Record<string, number> };
    expect(report.ok).toBe(false);
    expect(report.queues['siem-old']).toEqual({ events: 3, bytes: expect.any(Number), configured: false });
    expect(report.positions).toEqual({ 'logger_store:0': 1 });
    expect(report.problems).toEqual([expect.stringContaining("3 event(s) queued for output 'siem-old', which the configuration does not name")]);
    expect(report.problems[0]).toContain('lkrg-siem queue move siem-old NEW_NAME');

    const wrong = await runCli(['queue', 'move', 'siem-old', 'siem-nwe', '--config', cfg]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("the configuration names no output 'siem-nwe'; outputs: archive, siem-new");

    // run (a replay-mode source, so it ends) says what is stuck and how to free it
    const runCfg = join(dir, 'run.yaml');
    writeFileSync(runCfg, readFileSync(cfg, 'utf8').replace(/^.*siem-new.*\n/m, ''));
    const run = await runCli(['run', '--config', runCfg], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("3 event(s) are queued for output 'siem-old', which the configuration does not name: they are not delivered. If it was renamed: lkrg-siem queue move siem-old NEW_NAME");

    const moved = await runCli(['queue', 'move', 'siem-old', 'siem-new', '--config', cfg]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain("moved 3 queued event(s) from 'siem-old' to 'siem-new'");
    const good = await runCli(['check-state', '--config', cfg, '--json']);
    const after = JSON.parse(good.stdout) as { ok: boolean; queues: Record<string, { events: number; configured: boolean }> };
    expect(after.queues['siem-old']).toBeUndefined();
    expect(after.queues['siem-new']).toMatchObject({ configured: true });
    expect(after.queues['siem-new']!.events).toBeGreaterThanOrEqual(3);
    expect(good.code, good.stdout).toBe(0);
    expect(after.ok).toBe(true);

    const purged = await runCli(['queue', 'purge', 'siem-new', '--state', state]);
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toMatch(/dropped \d+ queued event\(s\) of 'siem-new'/);
    const s2 = new StateStore(state);
    expect(s2.queueStats('siem-new').depth).toBe(0);
    s2.close();
  }, 90_000);

  it('check-state reports a position that does not parse and pages SQLite finds damaged', async () => {
    const state = join(dir, 'damaged.db');
    const store = new StateStore(state);
    store.commitBatch({ sourceId: 'text:0', positions: { 'text:/var/log/kern.log': { v: 1 } }, queued: new Map([['siem', rows(3000, 1000)]]) });
    store.close();
    const db = new Database(state);
    db.prepare('UPDATE positions SET position = ?').run('{"v":1,');
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const r1 = await runCli(['check-state', '--state', state, '--json']);
    expect(r1.code).toBe(1);
    expect((JSON.parse(r1.stdout) as { problems: string[] }).problems).toEqual([expect.stringMatching(/^position of text:0 \/ text:\/var\/log\/kern\.log does not parse/)]);

    // damage a page in the middle of the queue table (the file holds ~3 MB of queue rows)
    const size = statSync(state).size;
    expect(size).toBeGreaterThan(1_000_000);
    const fd = openSync(state, 'r+');
    writeSync(fd, Buffer.alloc(16384, 0xa5), 0, 16384, Math.floor(size / 2 / 16384) * 16384);
    closeSync(fd);
    const r2 = await runCli(['check-state', '--state', state, '--json']);
    expect(r2.code).toBe(1);
    const problems = (JSON.parse(r2.stdout) as { problems: string[] }).problems;
    expect(problems.filter((p) => p.startsWith('integrity: ')).length).toBeGreaterThan(0);
    // a command that reads the damaged page says so, names the file and the way out
    const st = await runCli(['status', '--state', state]);
    expect(st.code).toBe(1);
    expect(st.stderr).toContain(`State file ${state}: the database is damaged (database disk image is malformed). \`lkrg-siem check-state --state ${state}\` lists the damage`);
    expect(st.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('a state file that is not a database: the message names it and the way out, without a stack trace', async () => {
    const state = join(dir, 'not-a-db.db');
    writeFileSync(state, 'this is a text file, not SQLite, and long enough to have a header of sorts\n'.repeat(100));
    for (const args of [['status', '--state', state], ['check-state', '--state', state], ['dlq', 'list', '--state', state]]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`State file ${state}: it is not an SQLite database (file is not a database). Point state_file (--state) at the right file.`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
