/**
 * `lkrg-siem run` following the kern.log files of a central rsyslog server (one directory per
 * host, a `text` source in live mode with a pattern) while logrotate rotates them
 * (rename-and-create, delaycompress) and the writer keeps writing to the renamed file until its
 * HUP, with the forwarder SIGKILLed at random instants and restarted: the file output must hold
 * every line exactly once, a host directory created mid-run included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ChildProcess } from 'node:child_process';
import { ensureBuilt, RunSeries } from '../../support/cli.js';

/** One host's kern.log as rsyslog writes it: an open descriptor, reopened at its HUP. */
interface HostLog {
  readonly name: string;
  readonly live: string;
  fh: FileHandle;
  /** Steps until the HUP after a rotation (the descriptor still names the renamed file). */
  hupIn: number;
  n: number;
}

describe('live text files under logrotate, with SIGKILLs', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-textcrash-'));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('every line arrives exactly once across rotations, compression, new hosts and crashes', async () => {
    const root = join(dir, 'remote');
    mkdirSync(root);
    const out = join(dir, 'events.ndjson');
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `state_file: ${join(dir, 'state.db')}`,
        'include_non_lkrg: true',
        'sources:',
        `  - { type: text, paths: ["${root}/*/kern.log"], mode: live, poll_interval_ms: 50 }`,
        'outputs:',
        `  - { type: file, path: ${out} }`,
      ].join('\n') + '\n',
    );
    let seed = 7;
    const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const written = new Set<string>();
    const hosts: HostLog[] = [];
    const addHost = async (name: string): Promise<void> => {
      mkdirSync(join(root, name));
      const live = join(root, name, 'kern.log');
      hosts.push({ name, live, fh: await open(live, 'a'), hupIn: -1, n: 0 });
    };
    const write = async (h: HostLog): Promise<void> => {
      h.n++;
      const text = `text crash ${h.name} line ${h.n}`;
      const sec = String(h.n % 60).padStart(2, '0');
      await h.fh.write(`2026-11-26T12:00:${sec}.000000+00:00 ${h.name} kernel: ${text}\n`);
      written.add(text);
      if (h.hupIn > 0 && --h.hupIn === 0) {
        await h.fh.close();
        h.fh = await open(h.live, 'a');
      }
    };
    // logrotate: .1 -> .2.gz (delaycompress: the file rotated last time, no longer written),
    // live -> .1, a new empty live file; rsyslog keeps its descriptor until the HUP 20 lines later
    let rotations = 0;
    const rotate = (h: HostLog): void => {
      const one = `${h.live}.1`;
      if (existsSync(one)) {
        for (let k = 9; k >= 2; k--) if (existsSync(`${h.live}.${k}.gz`)) renameSync(`${h.live}.${k}.gz`, `${h.live}.${k + 1}.gz`);
        writeFileSync(`${h.live}.2.gz`, gzipSync(readFileSync(one)));
        rmSync(one);
      }
      renameSync(h.live, one);
      writeFileSync(h.live, '');
      h.hupIn = 20;
      rotations++;
    };

    const runs = new RunSeries(join(dir, 'config.yaml'));
    const run = (): ChildProcess => runs.start();
    const stop = (c: ChildProcess, signal: NodeJS.Signals): Promise<void> => runs.stop(c, signal);
    const count = (): Map<string, number> => {
      const m = new Map<string, number>();
      if (!existsSync(out)) return m;
      for (const l of readFileSync(out, 'utf8').split('\n')) {
        if (!l) continue;
        const msg = (JSON.parse(l) as { message?: string }).message ?? '';
        if (msg.startsWith('text crash ')) m.set(msg, (m.get(msg) ?? 0) + 1);
      }
      return m;
    };

    await addHost('web1');
    await addHost('db1');
    child = run();
    for (const h of hosts) await write(h);
    for (let i = 0; i < 300 && count().size < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(count().size).toBe(2);

    let kills = 0;
    let outSize = 0;
    let rotatedSinceProgress = false;
    let nextKill = Date.now() + 400 + rand() * 600;
    for (let step = 1; step <= 1200 && (step <= 600 || kills < 6 || rotations < 8); step++) {
      for (const h of hosts) if (rand() < 0.7) await write(h);
      if (step === 300) await addHost('app7'); // a host that starts logging mid-run
      // logrotate runs daily: lkrg-siem is not down across two rotations of a file (a restart
      // here takes about as long as the writer needs between rotations on a loaded machine)
      const size = existsSync(out) ? statSync(out).size : 0;
      if (size > outSize) {
        outSize = size;
        rotatedSinceProgress = false;
      }
      if (step % 120 === 0 && !rotatedSinceProgress) {
        for (const h of hosts) rotate(h);
        rotatedSinceProgress = true;
      }
      if (Date.now() >= nextKill && kills < 6) {
        await stop(child, 'SIGKILL');
        kills++;
        child = run();
        nextKill = Date.now() + 300 + rand() * 900;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const h of hosts) await h.fh.close();
    expect(kills).toBe(6);
    expect(rotations).toBeGreaterThanOrEqual(8);
    expect(hosts.some((h) => existsSync(`${h.live}.2.gz`))).toBe(true);

    let got = count();
    for (let i = 0; i < 600 && got.size < written.size; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = count();
    }
    await stop(child, 'SIGTERM');
    got = count();
    const report = join(tmpdir(), 'lkrg-textcrash.log');
    expect(runs.unexpected, runs.logs.slice(-3000)).toEqual(['run 7 exited with 0']);
    const missing = [...written].filter((t) => !got.has(t));
    const twice = [...got].filter(([, n]) => n > 1).map(([t]) => t);
    writeFileSync(report, `${runs.logs}\nmissing ${missing.length}: ${missing.join(', ')}\ntwice: ${twice.join(', ')}\n`);
    expect(missing.slice(0, 10), `${missing.length} missing; run logs in ${report}`).toEqual([]);
    expect(twice.slice(0, 10)).toEqual([]);
    expect(got.size).toBe(written.size);
    expect([...got.keys()].some((t) => t.startsWith('text crash app7 '))).toBe(true);
  }, 240_000);
});
