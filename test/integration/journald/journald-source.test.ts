import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawRecord, RecordBatch, SourcePosition } from '../../../src/core/types.js';
import { createSource } from '../../../src/sources/create-source.js';
import { lastPositions, readAll, SAMPLES, tmp } from '../../unit/sources/helpers.js';

const JR = '/usr/lib/systemd/systemd-journal-remote';
const have = existsSync(JR) && spawnSync('journalctl', ['--version']).status === 0;
// In CI the tools are required: fail instead of skipping.
const suite = have || process.env.CI === 'true' ? describe : describe.skip;

const BOOT = '0123456789abcdef0123456789abcdef';
const MACHINE = 'fedcba9876543210fedcba9876543210';
let clock = 1_728_892_020_000_000;
let mono = 5_000_000;

type Fields = Record<string, string | Buffer>;
function exportEntry(f: Fields): Buffer {
  clock += 1000;
  mono += 1000;
  const all: Fields = { __REALTIME_TIMESTAMP: String(clock), __MONOTONIC_TIMESTAMP: String(mono), _BOOT_ID: BOOT, _MACHINE_ID: MACHINE, _HOSTNAME: 'testhost', ...f };
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(all)) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
    if (b.some((c) => c < 0x20 && c !== 9)) {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(b.length));
      parts.push(Buffer.from(`${k}\n`), len, b, Buffer.from('\n'));
    } else parts.push(Buffer.from(`${k}=`), b, Buffer.from('\n'));
  }
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}
const kernel = (msg: string | Buffer, prio = '2'): Fields => ({
  _TRANSPORT: 'kernel', SYSLOG_FACILITY: '0', SYSLOG_IDENTIFIER: 'kernel', PRIORITY: prio, _SOURCE_MONOTONIC_TIMESTAMP: String(mono - 500), MESSAGE: msg,
});
const userspace = (msg: string): Fields => ({ _TRANSPORT: 'syslog', SYSLOG_FACILITY: '3', SYSLOG_IDENTIFIER: 'sshd', _PID: '812', PRIORITY: '6', MESSAGE: msg });

function append(file: string, entries: Buffer[] | Buffer): void {
  const r = spawnSync(JR, ['-o', file, '-'], { input: Buffer.isBuffer(entries) ? entries : Buffer.concat(entries) });
  if (r.status !== 0) throw new Error(`systemd-journal-remote failed: ${r.stderr.toString()}`);
}

const T = tmp('lkrg-journald-');
afterAll(() => T.done());

function records(bs: readonly RecordBatch[]): RawRecord[] {
  return bs.flatMap((b) => b.records);
}

suite('journald source through journalctl', () => {
  it('systemd-journal-remote and journalctl are installed', () => {
    expect(existsSync(JR)).toBe(true);
  });

  it('replays a journal file: texts, hosts, boot ids, forged flag, byte-array MESSAGE, missed notice', async () => {
    const f = path.join(T.dir, 'a.journal');
    append(f, [
      exportEntry(kernel('LKRG: ALERT: DETECT: Task: uid corruption (expected 33 vs. actual 0) for pid 48213, name exploit')),
      exportEntry(userspace('Accepted publickey for root')),
      exportEntry(kernel(Buffer.from('LKRG: ALERT: BLOCK: Task: Killing pid 88419, name \x1b[1A\x1b[2K', 'latin1'))),
      exportEntry({ _TRANSPORT: 'kernel', SYSLOG_FACILITY: '1', SYSLOG_IDENTIFIER: 'LKRG', PRIORITY: '5', MESSAGE: 'ALIVE: System is clean' }),
      exportEntry({ _TRANSPORT: 'driver', MESSAGE_ID: 'e9bf28e6e834481bb6f48f548ad13606', PRIORITY: '4', MESSAGE: 'Missed 12 kernel messages' }),
      exportEntry(kernel(Buffer.from([0x4c, 0x4b, 0x52, 0x47, 0x3a, 0x20, 0xff, 0xfe, 0x01]))),
    ]);
    const { batches } = await readAll(createSource({ kind: 'journald', mode: 'replay', files: [f], includeNonLkrg: true }));
    const rs = records(batches);
    expect(rs).toHaveLength(5);
    expect(rs.some((r) => r.text.includes('publickey'))).toBe(false);
    expect(rs[0]!.text).toMatch(/^LKRG: ALERT: DETECT: Task: uid corruption/);
    expect(rs[0]!.host).toEqual({ name: 'testhost', bootId: BOOT, id: MACHINE });
    expect(rs[0]!.kernelOrigin).toBe(true);
    expect(rs[0]!.seq).toBeUndefined();
    expect(rs[1]!.text).toBe('LKRG: ALERT: BLOCK: Task: Killing pid 88419, name \x1b[1A\x1b[2K');
    expect(rs[1]!.original).toBe('LKRG: ALERT: BLOCK: Task: Killing pid 88419, name \\x1b[1A\\x1b[2K');
    expect(rs[2]!.text).toBe('LKRG: ALIVE: System is clean');
    expect(rs[2]!.kernelOrigin).toBe(false);
    expect(rs[2]!.identifier).toBe('LKRG');
    expect(rs[3]!.notice).toMatchObject({ type: 'journal-missed', missing: 12 });
    expect(rs[4]!.text).toBe('LKRG: \ufffd\ufffd\x01');
    expect(rs[4]!.original).toBe('LKRG: \\xff\\xfe\\x01');
    const pos = lastPositions(batches).get('journald:files:' + f) as { cursor: string };
    expect(pos.cursor).toMatch(/^s=/);
  });

  it('reads the export samples (text and binary-safe) converted to a journal', async () => {
    const f = path.join(T.dir, 'samples.journal');
    append(f, readFileSync(path.join(SAMPLES, 'samples-journal-export.txt')));
    append(f, readFileSync(path.join(SAMPLES, 'samples-journal-export-binary.export')));
    const { batches } = await readAll(createSource({ kind: 'journald', mode: 'replay', files: [f], includeNonLkrg: true }));
    const rs = records(batches);
    expect(rs).toHaveLength(19);
    const exportLines = readFileSync(path.join(SAMPLES, 'samples-journal-export.txt'), 'utf8').split('\n');
    const expectedTexts = exportLines.filter((l) => l.startsWith('MESSAGE=')).map((l) => l.slice(8));
    const forgedIdx = exportLines.filter((l) => l.startsWith('SYSLOG_IDENTIFIER=')).map((l) => l.slice(18));
    expect(rs.slice(0, 18).map((r, i) => (forgedIdx[i] !== 'kernel' ? r.text.replace(`${forgedIdx[i]}: `, '') : r.text))).toEqual(expectedTexts);
    expect(rs[18]!.text).toBe('LKRG: ALERT: DETECT: Task: uid corruption (expected 26 vs. actual 0) for pid 88419, name \x1b[1A\x1b[2K');
    expect(rs.filter((r) => r.kernelOrigin === false).map((r) => r.text)).toEqual(['LKRG: ALIVE: System is clean']);
  });

  it('resumes after the saved cursor: exactly the new entries', async () => {
    const f = path.join(T.dir, 'b.journal');
    append(f, [exportEntry(kernel('LKRG: ALIVE: Loading LKRG')), exportEntry(kernel('LKRG: ALIVE: System is clean'))]);
    const spec = { kind: 'journald' as const, mode: 'replay' as const, files: [f], includeNonLkrg: true };
    const first = await readAll(createSource(spec));
    expect(records(first.batches)).toHaveLength(2);
    const pos = lastPositions(first.batches);
    append(f, [exportEntry(kernel('LKRG: STATE: Disabling \'heartbeat\'')), exportEntry(kernel('LKRG: ALERT: BLOCK: UMH: Executing program name /tmp/x'))]);
    const second = await readAll(createSource(spec), pos);
    expect(records(second.batches).map((r) => r.text)).toEqual(["LKRG: STATE: Disabling 'heartbeat'", 'LKRG: ALERT: BLOCK: UMH: Executing program name /tmp/x']);
  });

  it('advances the cursor over non-kernel entries, so a restart never re-reads', async () => {
    const f = path.join(T.dir, 'c.journal');
    append(f, [exportEntry(kernel('LKRG: ALIVE: Loading LKRG'))]);
    const spec = { kind: 'journald' as const, mode: 'replay' as const, files: [f], includeNonLkrg: true };
    const first = await readAll(createSource(spec));
    const pos1 = lastPositions(first.batches);
    const c1 = (pos1.get(`journald:files:${f}`) as { cursor: string }).cursor;
    append(f, Array.from({ length: 50 }, (_, i) => exportEntry(userspace(`session ${i}`))));
    const second = await readAll(createSource(spec), new Map(pos1));
    expect(records(second.batches)).toHaveLength(0);
    const pos2 = lastPositions(second.batches, new Map(pos1));
    const c2 = (pos2.get(`journald:files:${f}`) as { cursor: string }).cursor;
    expect(c2).not.toBe(c1);
    append(f, [exportEntry(kernel('LKRG: ALIVE: System is clean'))]);
    const third = await readAll(createSource(spec), pos2);
    expect(records(third.batches).map((r) => r.text)).toEqual(['LKRG: ALIVE: System is clean']);
    expect(third.batches.reduce((n, b) => n + b.bytes, 0)).toBeLessThan(2000); // did not re-read the 50 entries
  });

  it('follows a journal live and delivers appended entries; abort kills journalctl', async () => {
    const f = path.join(T.dir, 'd.journal');
    append(f, [exportEntry(kernel('LKRG: ALIVE: Loading LKRG'))]);
    const src = createSource({ kind: 'journald', mode: 'live', files: [f], includeNonLkrg: true, checkpointMs: 200 });
    const ac = new AbortController();
    const got: RawRecord[] = [];
    const positions: SourcePosition[] = [];
    const done = (async () => {
      for await (const b of src.read({ positions: new Map(), signal: ac.signal, log: () => undefined })) {
        got.push(...b.records);
        positions.push(...Object.values(b.positions));
      }
    })();
    const waitFor = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && got.length < n; i++) await new Promise((r) => setTimeout(r, 100));
    };
    await waitFor(1);
    expect(got.map((r) => r.text)).toEqual(['LKRG: ALIVE: Loading LKRG']);
    append(f, [exportEntry(userspace('noise')), exportEntry(kernel('LKRG: ALERT: DETECT: Kernel: 1 checksums changed unexpectedly'))]);
    await waitFor(2);
    expect(got.map((r) => r.text)).toEqual(['LKRG: ALIVE: Loading LKRG', 'LKRG: ALERT: DETECT: Kernel: 1 checksums changed unexpectedly']);
    ac.abort();
    await done;
    expect(positions.length).toBeGreaterThan(0);
  });

  it('start_at end on a first start: the real journalctl (--lines=0) delivers only entries appended after it started', async () => {
    const f = path.join(T.dir, 'e.journal');
    append(f, [exportEntry(kernel('LKRG: ALIVE: Loading LKRG')), exportEntry(kernel('LKRG: ALIVE: System is clean'))]);
    const src = createSource({ kind: 'journald', mode: 'live', files: [f], includeNonLkrg: true, checkpointMs: 200, startAt: 'end' });
    const ac = new AbortController();
    const got: RawRecord[] = [];
    let running = false; // journalctl ran a checkpoint period without exiting (SourceContext.health)
    const done = (async () => {
      for await (const b of src.read({ positions: new Map(), signal: ac.signal, log: () => undefined, health: (p) => (running ||= p === null) })) got.push(...b.records);
    })();
    for (let i = 0; i < 100 && !running; i++) await new Promise((r) => setTimeout(r, 50));
    expect(running).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([]);
    append(f, [exportEntry(kernel('LKRG: ALERT: DETECT: Kernel: 1 checksums changed unexpectedly'))]);
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await done;
    expect(got.map((r) => r.text)).toEqual(['LKRG: ALERT: DETECT: Kernel: 1 checksums changed unexpectedly']);
  });
});
