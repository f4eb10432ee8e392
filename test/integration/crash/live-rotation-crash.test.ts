/**
 * `lkrg-siem run` following a live lkrg-logger store while logrotate rotates it
 * (rename-and-create, delaycompress, rotate 4) and lkrg-logger sessions keep writing through the
 * descriptors they opened, with the forwarder SIGKILLed at random instants and restarted: the
 * file output must hold every record exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ChildProcess } from 'node:child_process';
import { ensureBuilt, RunSeries } from '../../support/cli.js';

/** One lkrg-logger session: a boot of the client, writing to the file it opened. */
interface Session {
  /** Boot of the client (a reconnect of the same boot keeps it). */
  readonly id: number;
  readonly fh: FileHandle;
  seq: number;
  open: boolean;
}

/** A file of the client: its current name and the session writing to it (if any). */
interface StoreFile {
  name: string;
  gz: boolean;
  session: Session | undefined;
}

describe('live store under logrotate, with SIGKILLs', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-rotcrash-'));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('every record arrives exactly once across rotations, compression and crashes', async () => {
    const store = join(dir, 'store');
    mkdirSync(store);
    const live = join(store, '10.20.30.40');
    const out = join(dir, 'events.ndjson');
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `state_file: ${join(dir, 'state.db')}`,
        'include_non_lkrg: true',
        'sources:',
        `  - { type: logger_store, path: ${store}, mode: live, poll_interval_ms: 50 }`,
        'outputs:',
        `  - { type: file, path: ${out} }`,
      ].join('\n') + '\n',
    );

    // Rotations come about every second here, not daily: a file logrotate removes while
    // lkrg-siem is down is lost for real, so the test keeps them all, and it compresses a file
    // only at its third rotation (a restart takes about as long as one).
    const KEEP = 1000;
    let seed = 11;
    const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const written = new Set<string>();
    let sessions = 0;
    let boots = 0;
    let reconnects = 0;
    const files: StoreFile[] = [{ name: live, gz: false, session: undefined }];
    writeFileSync(live, '');
    // a session of the client opens the live file; `boot` and `seq` continue when the same boot
    // reconnects (lkrg-logger then writes to whatever file is live at that moment)
    const startSession = async (boot: number, seq: number): Promise<Session> => {
      const s: Session = { id: boot, fh: await open(live, 'a'), seq, open: true };
      sessions++;
      files[files.length - 1]!.session = s;
      return s;
    };
    let maxRotationsWritten = 0;
    const write = async (s: Session): Promise<void> => {
      const at = files.findIndex((f) => f.session === s);
      maxRotationsWritten = Math.max(maxRotationsWritten, files.length - 1 - at);
      s.seq++;
      const up = 10_000_000 + s.seq * 1000;
      const send = 1_760_000_000_000_000 + s.id * 100_000_000_000 + up;
      const text = `rotation test boot ${s.id} record ${s.seq}`;
      await s.fh.write(`${send + 150},${send},${up},6,${s.seq},${up - 20},-;${text}\n`);
      written.add(text);
    };
    // logrotate with rotate KEEP, compress, create: .3.gz -> .4.gz (beyond KEEP removed), ...,
    // .2 -> .3 (compressed once no session writes to it), live -> .1, a new empty live file. A
    // file a session still writes to stays plain: compressing or removing it would lose what the
    // session writes after that whenever lkrg-siem is not running.
    const rotate = async (): Promise<void> => {
      const suffix = (n: number, gz: boolean): string => `${live}.${n}${gz ? '.gz' : ''}`;
      for (let i = 0; i < files.length; i++) {
        const f = files[i]!;
        const n = files.length - i; // newest (the live file) becomes .1
        if (n > KEEP && !f.session?.open) {
          rmSync(f.name);
          files.splice(i--, 1);
          continue;
        }
        const to = suffix(n, f.gz);
        renameSync(f.name, to);
        f.name = to;
      }
      for (const [i, f] of files.entries()) {
        if (!f.gz && files.length - i >= 3 && !f.session?.open) {
          writeFileSync(`${f.name}.gz`, gzipSync(readFileSync(f.name)));
          rmSync(f.name);
          f.name += '.gz';
          f.gz = true;
        }
      }
      writeFileSync(live, '');
      files.push({ name: live, gz: false, session: undefined });
    };

    let current = await startSession(++boots, 0);
    // the session ends now and then: the client rebooted (a new boot, seq from 1) or reconnected
    // (the same boot, seq continues); the new session opens the file that is live then
    const endSession = async (): Promise<void> => {
      current.open = false;
      await current.fh.close();
      if (rand() < 0.5) current = await startSession(++boots, 0);
      else {
        reconnects++;
        current = await startSession(current.id, current.seq);
      }
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
        if (msg.startsWith('rotation test boot')) m.set(msg, (m.get(msg) ?? 0) + 1);
      }
      return m;
    };

    // the writer: the session writes a record every few ms, logrotate runs every 150 steps and
    // the session ends every 250 steps or so; the forwarder is killed at random instants meanwhile
    let kills = 0;
    let outSize = 0;
    let lastRotation = 0;
    let rotations = 0;
    let rotatedSinceProgress = false;
    child = run();
    // live mode reads the files that are live when lkrg-siem first starts (older ones are
    // history, for replay): let it see the first record before logrotate runs
    await write(current);
    for (let i = 0; i < 300 && count().size === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(count().size).toBe(1);
    let nextKill = Date.now() + 400 + rand() * 600;
    // until every case happened: eight kills, six rotations, reboots and reconnects, and a
    // session that kept writing to a file rotated twice (the writer is random but seeded; the
    // rotations wait for the forwarder)
    const enough = (): boolean => kills >= 8 && rotations >= 6 && boots >= 3 && reconnects >= 2 && maxRotationsWritten >= 2;
    for (let step = 1; (step <= 900 || !enough()) && step <= 8000; step++) {
      await write(current);
      // logrotate runs daily, so lkrg-siem is not down across two rotations: on this loaded
      // machine a restart can take seconds, so a rotation waits until the forwarder has
      // written something since the one before (one rotation while it is down still happens)
      const size = existsSync(out) ? statSync(out).size : 0;
      if (size > outSize) {
        outSize = size;
        rotatedSinceProgress = false;
      }
      if (step - lastRotation >= 150 && !rotatedSinceProgress) {
        await rotate();
        lastRotation = step;
        rotatedSinceProgress = true;
        rotations++;
      }
      if (rand() < 1 / 250) await endSession();
      if (Date.now() >= nextKill && kills < 8) {
        await stop(child, 'SIGKILL');
        kills++;
        child = run();
        nextKill = Date.now() + 300 + rand() * 900;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    current.open = false;
    await current.fh.close();
    expect(kills).toBe(8);
    expect(rotations).toBeGreaterThan(4);
    expect(boots).toBeGreaterThanOrEqual(3);
    expect(reconnects).toBeGreaterThanOrEqual(2);
    expect(files.some((f) => f.gz)).toBe(true);
    // the point: sessions kept writing to files rotated more than once
    expect(maxRotationsWritten).toBeGreaterThanOrEqual(2);

    let got = count();
    for (let i = 0; i < 600 && got.size < written.size; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = count();
    }
    const term = child;
    const sigterm = stop(term, 'SIGTERM');
    await sigterm;
    got = count();
    writeFileSync(join(tmpdir(), 'lkrg-rotcrash.log'), runs.logs);
    expect(runs.unexpected, runs.logs.slice(-3000)).toEqual(['run 9 exited with 0']);
    const missing = [...written].filter((t) => !got.has(t));
    const twice = [...got].filter(([, n]) => n > 1).map(([t]) => t);
    if (missing.length > 0 || twice.length > 0) {
      writeFileSync(join(tmpdir(), 'lkrg-rotcrash.log'), `${runs.logs}\nmissing ${missing.length}: ${missing.join(', ')}\ntwice: ${twice.join(', ')}\n`);
    }
    expect(missing.slice(0, 10), `${missing.length} missing; run logs in ${join(tmpdir(), 'lkrg-rotcrash.log')}`).toEqual([]);
    expect(twice.slice(0, 10)).toEqual([]);
    expect(got.size).toBe(written.size);
  }, 240_000);
});
