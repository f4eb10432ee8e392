/**
 * `quiet_after_s` on a live source other than the lkrg-logger store: `lkrg-siem run` follows a
 * central rsyslog server's kern.log files (a `text` source in live mode) and reports the host
 * whose LKRG stopped talking, once, while the host that keeps sending heartbeats is not reported.
 * Also: the setting is refused on a replay source, naming the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ensureBuilt, runCli, RunSeries } from '../../support/cli.js';

describe('quiet LKRG on a live text source', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-quiet-'));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the host whose LKRG went quiet, not the one still sending heartbeats', async () => {
    const root = join(dir, 'remote');
    for (const h of ['alpha', 'beta']) mkdirSync(join(root, h), { recursive: true });
    const line = (h: string): string => `${new Date().toISOString()} ${h} kernel: LKRG: ALIVE: System is clean\n`;
    const out = join(dir, 'events.ndjson');
    const cfg = join(dir, 'cfg.yaml');
    writeFileSync(cfg, [
      `state_file: ${join(dir, 'state.db')}`,
      'sources:',
      `  - { type: text, paths: ["${root}/*/kern.log"], mode: live, poll_interval_ms: 50, quiet_after_s: 2 }`,
      'outputs:',
      `  - { type: file, path: ${out} }`,
      '',
    ].join('\n'));
    for (const h of ['alpha', 'beta']) writeFileSync(join(root, h, 'kern.log'), line(h));
    const runs = new RunSeries(cfg);
    child = runs.start();
    const docs = (): Array<{ host?: { name?: string }; event?: { action?: string; reason?: string } }> =>
      existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as never) : [];
    // beta keeps its heartbeat going every 300 ms; alpha says nothing more
    const quiet = (): typeof docs extends () => infer T ? T : never => docs().filter((d) => d.event?.action === 'lkrg-heartbeat-missing');
    for (let i = 0; i < 60 && quiet().length === 0; i++) {
      appendFileSync(join(root, 'beta', 'kern.log'), line('beta'));
      await new Promise((r) => setTimeout(r, 300));
    }
    for (let i = 0; i < 5; i++) {
      appendFileSync(join(root, 'beta', 'kern.log'), line('beta'));
      await new Promise((r) => setTimeout(r, 300));
    }
    await runs.stop(child, 'SIGTERM');
    expect(runs.unexpected, runs.logs.slice(-2000)).toEqual(['run 1 exited with 0']);
    const q = quiet();
    expect(q.map((d) => d.host?.name)).toEqual(['alpha']);
    expect(q[0]!.event!.reason).toMatch(/^LKRG on alpha went quiet: no LKRG message for [23] s/);
    expect(docs().filter((d) => d.host?.name === 'beta').length).toBeGreaterThan(5);
  }, 60_000);

  it('check-config refuses quiet_after_s on a replay source, naming the key', async () => {
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, ['sources:', '  - { type: text, paths: [/var/log/kern.log], quiet_after_s: 600 }', 'outputs:', '  - { type: stdout }', ''].join('\n'));
    const r = await runCli(['check-config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sources[0].quiet_after_s: 600 is not valid: only a live source can notice a quiet LKRG; set mode: live, or remove quiet_after_s');
  });
});
