/**
 * Source health on the monitoring endpoint: a live source that cannot read its input (a path
 * pattern that matches nothing, a journalctl that keeps exiting) turns /health to 503 naming the
 * source and the problem, and `lkrg_siem_source_up` to 0; the source reading again clears it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ensureBuilt, RunSeries } from '../../support/cli.js';
import { promcheck } from '../../support/promcheck.js';

interface Health {
  status: string;
  sources: Record<string, { reading: boolean; problem?: string; since?: string }>;
}

describe('source health on /health and /metrics', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-srchealth-'));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the source that cannot read and clears it once it reads again', async () => {
    const root = join(dir, 'remote');
    const journalctl = join(dir, 'broken-journalctl');
    writeFileSync(journalctl, '#!/bin/sh\necho "Failed to open journal: boom" >&2\nexit 1\n');
    chmodSync(journalctl, 0o755);
    const cfg = join(dir, 'cfg.yaml');
    writeFileSync(cfg, [
      `state_file: ${join(dir, 'state.db')}`,
      'sources:',
      `  - { type: text, paths: ["${root}/*/kern.log"], mode: live, poll_interval_ms: 50 }`,
      `  - { type: journald, journalctl_path: ${journalctl} }`,
      'outputs:',
      `  - { type: file, path: ${join(dir, 'out.ndjson')} }`,
      'metrics:',
      '  listen: "127.0.0.1:0"',
      '',
    ].join('\n'));
    const runs = new RunSeries(cfg);
    child = runs.start();
    let base: string | undefined;
    for (let i = 0; i < 300 && !base; i++) {
      base = /Metrics at (http:\/\/[^\s]+)\/metrics/.exec(runs.logs)?.[1];
      if (!base) await new Promise((r) => setTimeout(r, 50));
    }
    expect(base, runs.logs).toBeDefined();
    const health = async (): Promise<{ code: number; body: Health }> => {
      const r = await fetch(`${base}/health`);
      return { code: r.status, body: (await r.json()) as Health };
    };
    const until = async (pred: (h: { code: number; body: Health }) => boolean): Promise<{ code: number; body: Health }> => {
      let h = await health();
      for (let i = 0; i < 200 && !pred(h); i++) {
        await new Promise((r) => setTimeout(r, 50));
        h = await health();
      }
      return h;
    };

    const bad = await until((h) => h.body.sources['text:0']?.reading === false && h.body.sources['journald:1']?.reading === false);
    expect(bad.code).toBe(503);
    expect(bad.body.status).toBe('degraded');
    expect(bad.body.sources['text:0']!.problem).toBe(`no file matches ${root}/*/kern.log (yet); nothing is read`);
    expect(bad.body.sources['journald:1']!.problem).toBe('journalctl exited with status 1: Failed to open journal: boom; restarted with backoff');
    expect(Date.parse(bad.body.sources['text:0']!.since!)).toBeLessThanOrEqual(Date.now());
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('lkrg_siem_source_up{source="text:0"} 0');
    expect(metrics).toContain('lkrg_siem_source_up{source="journald:1"} 0');

    // a host starts logging: the text source reads again; journald still cannot
    mkdirSync(join(root, 'web1'), { recursive: true });
    writeFileSync(join(root, 'web1', 'kern.log'), `${new Date().toISOString()} web1 kernel: LKRG: ALIVE: System is clean\n`);
    const better = await until((h) => h.body.sources['text:0']?.reading === true);
    expect(better.body.sources['text:0']).toEqual({ reading: true });
    expect(better.code).toBe(503);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('lkrg_siem_source_up{source="text:0"} 1');
    // the file source's backlog and files on /metrics: one file, read to its end
    let m = '';
    for (let i = 0; i < 200 && !m.includes('lkrg_siem_source_files_followed{source="text:0"} 1'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      m = await (await fetch(`${base}/metrics`)).text();
    }
    const check = promcheck(m);
    expect(check.problems).toEqual([]);
    expect(check.families.lkrg_siem_source_files_followed?.type).toBe('GAUGE');
    expect(check.families.lkrg_siem_source_unread_bytes?.samples).toEqual([{ labels: { source: 'text:0' }, value: 0 }]);
    expect(check.families.lkrg_siem_source_files_followed?.samples).toEqual([{ labels: { source: 'text:0' }, value: 1 }]);

    await runs.stop(child, 'SIGTERM');
    expect(runs.unexpected).toEqual(['run 1 exited with 0']);
  }, 60_000);
});
