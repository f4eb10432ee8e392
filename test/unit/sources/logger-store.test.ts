import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawRecord, RecordBatch, SourcePosition } from '../../../src/core/types.js';
import { createSource } from '../../../src/sources/create-source.js';
import { parseRotatedName } from '../../../src/sources/file-identity.js';
import { FOLLOWED_SINCE_STREAM } from '../../../src/sources/file-tail.js';
import type { LoggerStorePosition } from '../../../src/sources/logger-store-source.js';
import { lastPositions, readAll, SAMPLES, tmp } from './helpers.js';
import { RunSummary } from '../../../src/pipeline/run-summary.js';
import { EventAssembler } from '../../../src/parse/event-assembler.js';

const T = tmp('lkrg-store-');
afterAll(() => T.done());
const STORE = readFileSync(path.join(SAMPLES, 'samples-lkrg-logger-store.txt'), 'utf8');
const LINES = STORE.split('\n').slice(0, 91); // 91 complete, valid lines (92 is malformed)
const recs = (bs: readonly RecordBatch[]): RawRecord[] => bs.flatMap((b) => b.records);
const key = (r: RawRecord): string => `${r.origin}|${r.line}|${r.notice?.type ?? ''}|${r.text}|${r.host.bootId}`;
let n = 0;
const fresh = (): string => {
  const d = path.join(T.dir, `d${n++}`);
  mkdirSync(d);
  return d;
};

describe('rotated names', () => {
  it('splits logrotate suffixes without eating the last IPv4 octet', () => {
    const ip = (s: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(s);
    expect(parseRotatedName('10.20.30.41', ip)).toMatchObject({ base: '10.20.30.41', n: 0, gz: false });
    expect(parseRotatedName('10.20.30.41.2.gz', ip)).toMatchObject({ base: '10.20.30.41', n: 2, gz: true });
    expect(parseRotatedName('10.20.30.41-20241014.gz', ip)).toMatchObject({ base: '10.20.30.41', date: '20241014', gz: true });
  });
});

describe('logger store replay', () => {
  it('many small rotated files: their batches joined, one position per client naming its newest file; a resume reads nothing again', async () => {
    const d = fresh();
    const line = (seq: number): string => `1728000000${String(100000 + seq).padStart(6, '0')},1728000000100000,100000,6,${seq},${90000 + seq},-;usb 1-1: line ${seq}`;
    const HOSTS = 30;
    for (let h = 1; h <= HOSTS; h++) {
      // oldest first: .4.gz (seq 1), .3, .2, .1, live (seq 5)
      writeFileSync(path.join(d, `10.6.1.${h}.4.gz`), gzipSync(line(1) + '\n'));
      for (let n = 3; n >= 1; n--) writeFileSync(path.join(d, `10.6.1.${h}.${n}`), line(5 - n) + '\n');
      writeFileSync(path.join(d, `10.6.1.${h}`), line(5) + '\n');
    }
    const src = createSource({ kind: 'logger-store', paths: [d], mode: 'replay', includeNonLkrg: true });
    const r = await readAll(src);
    const data = recs(r.batches).filter((x) => !x.notice);
    expect(data).toHaveLength(HOSTS * 5);
    for (let h = 1; h <= HOSTS; h++) expect(data.filter((x) => x.host.ip === `10.6.1.${h}`).map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(r.batches).toHaveLength(1); // 150 records of 150 files: one batch, one commit
    const last = lastPositions(r.batches);
    expect(last.size).toBe(HOSTS);
    for (const [id, p] of last) expect((p as unknown as LoggerStorePosition).name).toBe(path.basename(id));
    // resumed from those positions: nothing is read twice
    const again = await readAll(createSource({ kind: 'logger-store', paths: [d], mode: 'replay', includeNonLkrg: true }), last);
    expect(recs(again.batches).filter((x) => !x.notice)).toEqual([]);
  });

  it('reads rotated and gzip archives oldest first: same records as the unrotated file', async () => {
    const one = fresh();
    writeFileSync(path.join(one, '10.0.0.5'), LINES.join('\n') + '\n');
    const ref = recs((await readAll(createSource({ kind: 'logger-store', paths: [one], mode: 'replay', includeNonLkrg: true }))).batches);
    const d = fresh();
    writeFileSync(path.join(d, '10.0.0.5.3.gz'), gzipSync(LINES.slice(0, 20).join('\n') + '\n'));
    writeFileSync(path.join(d, '10.0.0.5.2.gz'), gzipSync(LINES.slice(20, 40).join('\n') + '\n'));
    writeFileSync(path.join(d, '10.0.0.5.1'), LINES.slice(40, 70).join('\n') + '\n');
    writeFileSync(path.join(d, '10.0.0.5'), LINES.slice(70).join('\n') + '\n');
    writeFileSync(path.join(d, 'README'), 'not a client file\n');
    const { batches } = await readAll(createSource({ kind: 'logger-store', paths: [d], mode: 'replay', includeNonLkrg: true }));
    const rs = recs(batches);
    expect(rs.map((r) => `${r.notice?.type ?? ''}|${r.text}|${r.seq}`)).toEqual(ref.map((r) => `${r.notice?.type ?? ''}|${r.text}|${r.seq}`));
    expect(rs.every((r) => r.host.ip === '10.0.0.5')).toBe(true);
    expect(new Set(rs.filter((r) => !r.notice).map((r) => path.basename(r.origin)))).toEqual(
      new Set(['10.0.0.5.3.gz', '10.0.0.5.2.gz', '10.0.0.5.1', '10.0.0.5']));
    // dateext archives: oldest date first
    const e = fresh();
    writeFileSync(path.join(e, '10.0.0.6-20241013'), LINES.slice(30, 60).join('\n') + '\n');
    writeFileSync(path.join(e, '10.0.0.6-20241012.gz'), gzipSync(LINES.slice(0, 30).join('\n') + '\n'));
    writeFileSync(path.join(e, '10.0.0.6'), LINES.slice(60).join('\n') + '\n');
    const rs2 = recs((await readAll(createSource({ kind: 'logger-store', paths: [e], mode: 'replay', includeNonLkrg: true }))).batches);
    expect(rs2.map((r) => `${r.notice?.type ?? ''}|${r.text.replace('10.0.0.6', 'IP')}|${r.seq}`)).toEqual(ref.map((r) => `${r.notice?.type ?? ''}|${r.text.replace('10.0.0.5', 'IP')}|${r.seq}`));
  });

  it('resuming at every batch boundary equals a single read', async () => {
    const d = fresh();
    writeFileSync(path.join(d, '10.20.30.41'), STORE);
    const spec = { kind: 'logger-store' as const, paths: [d], mode: 'replay' as const, includeNonLkrg: true, maxRecords: 7 };
    const full = await readAll(createSource(spec));
    const ref = recs(full.batches).map(key);
    const refMal = full.batches.flatMap((b) => b.malformed).map((m) => m.line);
    expect(full.batches.length).toBeGreaterThan(10);
    for (let k = 0; k < full.batches.length; k++) {
      const head = full.batches.slice(0, k + 1);
      const pos = lastPositions(head);
      const rest = await readAll(createSource(spec), pos);
      expect([...recs(head), ...recs(rest.batches)].map(key)).toEqual(ref);
      const mal = [...head, ...rest.batches].flatMap((b) => b.malformed).map((m) => m.line);
      // the torn last line is never consumed: a restart after the final batch reports it again
      expect(mal).toEqual(k === full.batches.length - 1 ? [...refMal, 94] : refMal);
    }
  });

  it('drops reconnect resends / replayed sessions as duplicates with one notice per run', async () => {
    const d = fresh();
    const lines = [...LINES.slice(0, 10), ...LINES.slice(4, 8), ...LINES.slice(10, 12)];
    writeFileSync(path.join(d, '10.1.1.1'), lines.join('\n') + '\n');
    const rs = recs((await readAll(createSource({ kind: 'logger-store', paths: [d], mode: 'replay', includeNonLkrg: true }))).batches);
    expect(rs.filter((r) => !r.notice)).toHaveLength(12);
    const dup = rs.filter((r) => r.notice);
    expect(dup).toHaveLength(1);
    expect(dup[0]!.notice).toMatchObject({ type: 'duplicate', count: 4, fromSeq: 1097, toSeq: 1100 });
    // the run summary (and the metrics) count the records dropped, not the notices
    const summary = new RunSummary();
    const assembler = new EventAssembler({ includeNonLkrg: true });
    for (const r of rs) for (const e of assembler.push(r)) summary.add(e);
    for (const e of assembler.flush()) summary.add(e);
    const host = summary.hosts.get('10.1.1.1')!;
    expect(host.duplicates).toBe(4);
    expect(host.notices.get('duplicate')).toBe(4);
    expect(summary.format()).toMatch(/resent duplicates dropped 4,/);
  });

  it('hostile input never throws: binary junk, NUL runs, invalid UTF-8, a 1 MiB line', async () => {
    const d = fresh();
    const junk = Buffer.concat([
      Buffer.from(LINES[0]! + '\n'),
      Buffer.alloc(300, 0), Buffer.from('\n'),
      Buffer.from([0xff, 0xfe, 0x80, 0x0a]),
      Buffer.from('1,2,3,4,5,6,-;bad \xff utf8 \\xff\\xc3\\x28\n', 'latin1'),
      Buffer.alloc(1024 * 1024, 0x41), Buffer.from('\n'),
      Buffer.from(LINES[1]! + '\n'),
    ]);
    writeFileSync(path.join(d, '10.9.9.9'), junk);
    const { batches } = await readAll(createSource({ kind: 'logger-store', paths: [d], mode: 'replay', includeNonLkrg: true }));
    const mal = batches.flatMap((b) => b.malformed);
    expect(mal.map((m) => m.line)).toEqual([2, 3, 5]);
    expect(mal[2]!.reason).toMatch(/line cap/);
    expect(mal[2]!.raw.length).toBeLessThan(2000);
    const rs = recs(batches).filter((r) => !r.notice);
    expect(rs).toHaveLength(3);
    expect(rs[1]!.text).toBe('bad \ufffd utf8 \ufffd\ufffd(');
  });
});

describe('logger store live', () => {
  function start(dir: string, positions = new Map<string, SourcePosition>(), logs: string[] = [], extra: { rotatedFollowMax?: number; rotatedDeletedFollowMs?: number; startAt?: 'beginning' | 'end' } = {}) {
    const ac = new AbortController();
    const got: RawRecord[] = [];
    const mal: number[] = [];
    let pos = new Map(positions);
    const src = createSource({ kind: 'logger-store', paths: [dir], mode: 'live', includeNonLkrg: true, pollIntervalMs: 20, ...extra });
    const done = (async () => {
      for await (const b of src.read({ positions, signal: ac.signal, log: (_level, m) => logs.push(m) })) {
        got.push(...b.records);
        mal.push(...b.malformed.map((m) => m.offset));
        pos = lastPositions([b], pos);
      }
    })();
    // polls until the condition holds (up to 15 s on a loaded machine); the assertions after it
    // say what was missing
    const waitFor = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 750 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    return { got, mal, waitFor, stop: async () => { ac.abort(); await done; return pos; } };
  }
  const data = (rs: RawRecord[]): string[] => rs.filter((r) => !r.notice).map((r) => r.text);
  const texts = (a: number, b: number): string[] => LINES.slice(a, b).map((l) => l.slice(l.indexOf(';') + 1).replace('\\x09', '\t'));

  it('follows files, waits for torn lines, picks up new files, survives truncation, rotation and rewrite; resumes exactly', async () => {
    const d = fresh();
    const f = path.join(d, '10.2.2.2');
    writeFileSync(f, LINES.slice(0, 5).join('\n') + '\n' + LINES[5]!.slice(0, 30));
    const s = start(d);
    await s.waitFor(() => s.got.length >= 5);
    expect(data(s.got)).toEqual(texts(0, 5));
    await new Promise((r) => setTimeout(r, 100));
    expect(s.got).toHaveLength(5); // the torn line waits
    appendFileSync(f, LINES[5]!.slice(30) + '\n' + LINES[6] + '\n');
    await s.waitFor(() => s.got.length >= 7);
    expect(data(s.got)).toEqual(texts(0, 7));
    // a new client file appears
    writeFileSync(path.join(d, '10.3.3.3'), LINES.slice(0, 2).join('\n') + '\n');
    await s.waitFor(() => s.got.filter((r) => r.host.ip === '10.3.3.3').length >= 2);
    // rotation: rename + new file; records appended to the old inode before the switch are read
    appendFileSync(f, LINES[7] + '\n');
    renameSync(f, f + '.1');
    appendFileSync(f + '.1', LINES[8] + '\n');
    writeFileSync(f, LINES.slice(9, 11).join('\n') + '\n');
    await s.waitFor(() => data(s.got.filter((r) => r.host.ip === '10.2.2.2')).length >= 11);
    expect(data(s.got.filter((r) => r.host.ip === '10.2.2.2'))).toEqual(texts(0, 11));
    // truncation
    truncateSync(f, 0);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(f, LINES[11] + '\n');
    await s.waitFor(() => s.got.some((r) => r.notice?.type === 'truncated'));
    await s.waitFor(() => data(s.got.filter((r) => r.host.ip === '10.2.2.2')).length >= 12);
    expect(s.got.filter((r) => r.notice?.type === 'truncated')).toHaveLength(1);
    expect(data(s.got.filter((r) => r.host.ip === '10.2.2.2'))).toEqual(texts(0, 12));
    expect(s.got.filter((r) => r.notice && r.notice.type !== 'truncated')).toHaveLength(0);
    const pos = await s.stop();

    // restart from the saved positions after more data arrived: exactly the new lines
    appendFileSync(f, LINES.slice(12, 14).join('\n') + '\n');
    const s2 = start(d, pos);
    await s2.waitFor(() => s2.got.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(data(s2.got)).toEqual(texts(12, 14));
    // rewritten in place with different content (same inode, grows past the offset)
    writeFileSync(f, LINES.slice(20, 40).join('\n') + '\n');
    await s2.waitFor(() => s2.got.some((r) => r.notice?.type === 'truncated'));
    await s2.waitFor(() => data(s2.got).length >= 22);
    expect(data(s2.got).slice(2)).toEqual(texts(20, 40));
    const pos2 = await s2.stop();

    // rotated while stopped: the saved file is finished from its offset, then the new one from 0
    appendFileSync(f, LINES[40] + '\n');
    renameSync(f, f + '.1');
    writeFileSync(f, LINES[41] + '\n');
    const s3 = start(d, pos2);
    await s3.waitFor(() => s3.got.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(data(s3.got)).toEqual(texts(40, 42));
    await s3.stop();
  });

  it('a client first seen after the first start: its files rotated meanwhile are read first; on the first start they are history', async () => {
    const d = fresh();
    writeFileSync(path.join(d, '10.7.7.7.1'), LINES.slice(0, 2).join('\n') + '\n');
    writeFileSync(path.join(d, '10.7.7.7'), LINES.slice(2, 3).join('\n') + '\n');
    const logs: string[] = [];
    const s = start(d, new Map(), logs);
    await s.waitFor(() => s.got.length >= 1);
    // a client that appears while running, rotated before lkrg-siem saw it
    writeFileSync(path.join(d, '10.8.8.8.2.gz'), gzipSync(LINES.slice(0, 2).join('\n') + '\n'));
    writeFileSync(path.join(d, '10.8.8.8.1'), LINES.slice(2, 4).join('\n') + '\n');
    writeFileSync(path.join(d, '10.8.8.8'), LINES.slice(4, 5).join('\n') + '\n');
    await s.waitFor(() => s.got.filter((r) => r.host.ip === '10.8.8.8').length >= 5);
    await new Promise((r) => setTimeout(r, 100));
    expect(data(s.got.filter((r) => r.host.ip === '10.7.7.7'))).toEqual(texts(2, 3));
    expect(data(s.got.filter((r) => r.host.ip === '10.8.8.8'))).toEqual(texts(0, 5));
    expect(logs.filter((m) => m.includes('rotated before lkrg-siem first saw'))).toHaveLength(2);
    await s.stop();
  });

  it('a client back after a long absence: its rotated files last written before the first start are history; a state without that start reads them all', async () => {
    const d = fresh();
    writeFileSync(path.join(d, '10.7.7.7'), LINES.slice(0, 1).join('\n') + '\n');
    const s1 = start(d);
    await s1.waitFor(() => s1.got.length >= 1);
    const pos = await s1.stop();
    const since = (pos.get(FOLLOWED_SINCE_STREAM) as unknown as { ms: number } | undefined)?.ms;
    expect(since).toBeGreaterThan(Date.now() - 60_000);
    // meanwhile (stopped): 10.9.9.9 comes back; an archive from long before the first start,
    // and one rotated while lkrg-siem was stopped
    const old = path.join(d, '10.9.9.9.2.gz');
    writeFileSync(old, gzipSync(LINES.slice(10, 12).join('\n') + '\n'));
    utimesSync(old, new Date(since! - 86_400_000), new Date(since! - 86_400_000));
    writeFileSync(path.join(d, '10.9.9.9.1'), LINES.slice(12, 14).join('\n') + '\n');
    writeFileSync(path.join(d, '10.9.9.9'), LINES.slice(14, 15).join('\n') + '\n');
    for (const [positions, want] of [[pos, texts(12, 15)], [new Map([...pos].filter(([k]) => k !== FOLLOWED_SINCE_STREAM)), texts(10, 15)]] as const) {
      const logs: string[] = [];
      const s = start(d, new Map(positions), logs);
      await s.waitFor(() => data(s.got.filter((r) => r.host.ip === '10.9.9.9')).length >= want.length);
      await new Promise((r) => setTimeout(r, 100));
      expect(data(s.got.filter((r) => r.host.ip === '10.9.9.9'))).toEqual(want);
      expect(s.got.filter((r) => r.host.ip === '10.7.7.7')).toHaveLength(0); // resumed, nothing new
      const skipped = logs.filter((m) => m.includes('not read: 10.9.9.9.2.gz'));
      expect(skipped).toHaveLength(want.length === 3 ? 1 : 0);
      const p2 = await s.stop();
      // the start time is kept (a legacy state keeps 0: every rotated file counts)
      expect((p2.get(FOLLOWED_SINCE_STREAM) as unknown as { ms: number }).ms).toBe(want.length === 3 ? since : 0);
    }
  });

  it('start_at end: the first start reads only what clients append from then on', async () => {
    const d = fresh();
    const f = path.join(d, '10.4.4.4');
    writeFileSync(f, LINES.slice(0, 3).join('\n') + '\n');
    const s = start(d, new Map(), [], { startAt: 'end' });
    await new Promise((r) => setTimeout(r, 150));
    expect(s.got).toHaveLength(0);
    appendFileSync(f, LINES.slice(3, 5).join('\n') + '\n');
    await s.waitFor(() => s.got.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(data(s.got)).toEqual(texts(3, 5));
    await s.stop();
  });

  it('reports a store directory that does not exist (yet) as a source problem, and clears it once it does', async () => {
    const d = path.join(fresh(), 'store-later');
    const problems: (string | null)[] = [];
    const ac = new AbortController();
    const src = createSource({ kind: 'logger-store', paths: [d], mode: 'live', pollIntervalMs: 20 });
    const got: RawRecord[] = [];
    const done = (async () => {
      for await (const b of src.read({ positions: new Map(), signal: ac.signal, log: () => {}, health: (p) => problems.push(p) })) got.push(...b.records);
    })();
    for (let i = 0; i < 100 && problems.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(problems[0]).toBe(`${d}: no such store directory (yet); nothing is read from it`);
    mkdirSync(d);
    writeFileSync(path.join(d, '10.9.9.1'), LINES.slice(0, 1).join('\n') + '\n');
    for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await done;
    expect(got).toHaveLength(1);
    expect(problems[problems.length - 1]).toBeNull();
  });

  it('a rewrite in place between the size check and the read loses nothing (the head is checked after each read)', async () => {
    const d = fresh();
    const f = path.join(d, '10.6.6.6');
    writeFileSync(f, LINES.slice(0, 6).join('\n') + '\n');
    // the rewrite lands exactly between the poll's fstat (which still sees the old size) and the
    // read that follows it: the race a copytruncate or a rewrite can hit at any poll. The tail
    // takes its fstat synchronously (node:fs fstatSync), hooked here through the builtin's
    // exports (syncBuiltinESMExports carries the hook into named imports)
    const realFstat = fs.fstatSync;
    let armed = false;
    const hooked = function (this: unknown, ...a: Parameters<typeof fs.fstatSync>) {
      const st = realFstat.apply(this, a);
      if (armed) {
        armed = false;
        writeFileSync(f, LINES.slice(20, 40).join('\n') + '\n'); // larger than the old content
      }
      return st;
    } as typeof fs.fstatSync;
    fs.fstatSync = hooked;
    syncBuiltinESMExports();
    try {
      const s = start(d);
      await s.waitFor(() => s.got.length >= 6);
      expect(data(s.got)).toEqual(texts(0, 6));
      armed = true;
      await s.waitFor(() => data(s.got).length >= 26);
      await new Promise((r) => setTimeout(r, 100));
      expect(armed).toBe(false);
      expect(data(s.got).slice(6)).toEqual(texts(20, 40));
      expect(s.got.filter((r) => r.notice?.type === 'truncated')).toHaveLength(1);
      expect(s.mal).toEqual([]); // nothing read from the middle of a line of the new content
      await s.stop();
    } finally {
      fs.fstatSync = realFstat;
      syncBuiltinESMExports();
    }
  });

  it('an idle poll reads nothing: files that did not grow cost a stat and an fstat, no read and no buffer', async () => {
    const d = fresh();
    for (let h = 1; h <= 3; h++) writeFileSync(path.join(d, `10.8.8.${h}`), LINES.slice(0, 4).join('\n') + '\n');
    // count the reads: through FileHandles (large reads) and in place (readSync, small ones)
    const probe = await open(path.join(d, '10.8.8.1'), 'r');
    const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<unknown> };
    await probe.close();
    const realRead = proto.read;
    const realReadSync = fs.readSync;
    let reads = 0;
    let fstats = 0;
    const realFstat = fs.fstatSync;
    proto.read = function (this: unknown, ...a: unknown[]) {
      reads++;
      return realRead.apply(this, a);
    };
    fs.readSync = function (this: unknown, ...a: unknown[]) {
      reads++;
      return (realReadSync as (...x: unknown[]) => number).apply(this, a);
    } as typeof fs.readSync;
    fs.fstatSync = function (this: unknown, ...a: Parameters<typeof fs.fstatSync>) {
      fstats++;
      return realFstat.apply(this, a);
    } as typeof fs.fstatSync;
    syncBuiltinESMExports();
    try {
      const s = start(d);
      await s.waitFor(() => data(s.got).length >= 12);
      expect(data(s.got)).toHaveLength(12);
      // idle: at 20 ms per poll, 300 ms are more than ten polls of three files
      const readsBefore = reads;
      const fstatsBefore = fstats;
      await new Promise((r) => setTimeout(r, 300));
      expect(fstats - fstatsBefore).toBeGreaterThanOrEqual(30); // the files were checked
      expect(reads - readsBefore).toBe(0); // and none was read
      // growth is still read, exactly what was appended
      appendFileSync(path.join(d, '10.8.8.2'), LINES.slice(4, 6).join('\n') + '\n');
      await s.waitFor(() => data(s.got).length >= 14);
      expect(data(s.got).slice(12)).toEqual(texts(4, 6));
      expect(reads - readsBefore).toBeGreaterThan(0); // the counting sees the tail's reads
      await s.stop();
    } finally {
      proto.read = realRead;
      fs.readSync = realReadSync;
      fs.fstatSync = realFstat;
      syncBuiltinESMExports();
    }
  });

  it('a polling round joins the small batches of many files into few, within the batch limits, one position per file', async () => {
    const d = fresh();
    const FILES = 50;
    for (let h = 1; h <= FILES; h++) writeFileSync(path.join(d, `10.7.7.${h}`), LINES.slice(h % 40, (h % 40) + 2).join('\n') + '\n');
    for (const maxRecords of [4096, 7]) {
      const ac = new AbortController();
      const batches: RecordBatch[] = [];
      const src = createSource({ kind: 'logger-store', paths: [d], mode: 'live', includeNonLkrg: true, pollIntervalMs: 20, maxRecords });
      const done = (async () => {
        for await (const b of src.read({ positions: new Map(), signal: ac.signal, log: () => {} })) batches.push(b);
      })();
      for (let i = 0; i < 750 && recs(batches).length < 2 * FILES; i++) await new Promise((r) => setTimeout(r, 20));
      ac.abort();
      await done;
      expect(recs(batches)).toHaveLength(2 * FILES);
      for (const b of batches) expect(b.records.length + b.malformed.length).toBeLessThanOrEqual(maxRecords);
      // default limits: the first round of 50 files is one batch (its positions: every file)
      if (maxRecords === 4096) expect(batches.filter((b) => b.records.length > 0)).toHaveLength(1);
      else expect(batches.filter((b) => b.records.length > 0).length).toBeGreaterThanOrEqual(Math.ceil((2 * FILES) / 7));
      // each file's final position says it was read to its end
      const last = lastPositions(batches, new Map());
      expect(last.has(FOLLOWED_SINCE_STREAM)).toBe(true); // the source's first start, kept with the files'
      last.delete(FOLLOWED_SINCE_STREAM);
      expect(last.size).toBe(FILES);
      for (const [id, p] of last) {
        const f = id.slice('logger:'.length);
        expect((p as unknown as LoggerStorePosition).offset).toBe(readFileSync(f).length);
      }
    }
  });

  it('a file that keeps growing is polled once per interval, not back to back', async () => {
    const d = fresh();
    const f = path.join(d, '10.7.8.1');
    writeFileSync(f, LINES[0] + '\n');
    const ac = new AbortController();
    let polls = 0;
    const got: RawRecord[] = [];
    const src = createSource({ kind: 'logger-store', paths: [d], mode: 'live', includeNonLkrg: true, pollIntervalMs: 100 });
    const done = (async () => {
      for await (const b of src.read({ positions: new Map(), signal: ac.signal, log: () => {}, health: () => void polls++ })) got.push(...b.records);
    })();
    // a line every 12 ms for about a second: every round finds something new
    const t0 = Date.now();
    let i = 1;
    while (Date.now() - t0 < 1000 && i < LINES.length) {
      appendFileSync(f, LINES[i++] + '\n');
      await new Promise((r) => setTimeout(r, 12));
    }
    for (let k = 0; k < 750 && data(got).length < i; k++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await done;
    const wall = Date.now() - t0;
    expect(data(got)).toHaveLength(i); // every line, once
    // at most one round per 100 ms (a loaded machine only makes fewer); back to back it was hundreds
    expect(polls).toBeLessThanOrEqual(Math.ceil(wall / 100) + 2);
  });

  it('a host with a large backlog takes turns with the others: their new lines do not wait for the whole backlog', async () => {
    const d = fresh();
    const big = path.join(d, '10.7.9.1');
    const small = path.join(d, '10.7.9.2');
    const line = (seq: number): string => `1728000000${String(100000 + seq).padStart(6, '0')},1728000000100000,100000,6,${seq},${90000 + seq},-;usb 1-1: line ${seq}`;
    const BIG = 20_000; // about 1.3 MB
    writeFileSync(big, Array.from({ length: BIG }, (_, i) => line(i + 1)).join('\n') + '\n');
    writeFileSync(small, line(1) + '\n');
    const ac = new AbortController();
    const got: RawRecord[] = [];
    const positions = new Map<string, SourcePosition>();
    const src = createSource({ kind: 'logger-store', paths: [d], mode: 'live', includeNonLkrg: true, pollIntervalMs: 20, roundReadBytes: 64 * 1024, startAt: 'end' });
    // start_at end: only what is appended from now on; then the backlog lands at once
    const done = (async () => {
      for await (const b of src.read({ positions, signal: ac.signal, log: () => {} })) got.push(...b.records);
    })();
    await new Promise((r) => setTimeout(r, 200));
    appendFileSync(big, Array.from({ length: BIG }, (_, i) => line(BIG + i + 1)).join('\n') + '\n');
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(small, line(2) + '\n');
    for (let i = 0; i < 750 && data(got).length < BIG + 1; i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await done;
    const fromBig = got.filter((r) => r.streamId.endsWith('10.7.9.1') && !r.notice);
    const fromSmall = got.filter((r) => r.streamId.endsWith('10.7.9.2') && !r.notice);
    expect(fromBig.map((r) => r.seq)).toEqual(Array.from({ length: BIG }, (_, i) => BIG + i + 1)); // all, in order, once
    expect(fromSmall.map((r) => r.seq)).toEqual([2]);
    // the small host's line came before the big host's backlog was through (64 KiB per round)
    expect(got.indexOf(fromSmall[0]!)).toBeLessThan(got.indexOf(fromBig[fromBig.length - 1]!));
  });

  it('reports its backlog and the files it follows as gauges: unread bytes while a file is read a share per round, 0 once caught up', async () => {
    const d = fresh();
    const line = (seq: number): string => `1728000000${String(100000 + seq).padStart(6, '0')},1728000000100000,100000,6,${seq},${90000 + seq},-;usb 1-1: line ${seq}`;
    const big = path.join(d, '10.7.10.1');
    writeFileSync(big, Array.from({ length: 20_000 }, (_, i) => line(i + 1)).join('\n') + '\n');
    writeFileSync(path.join(d, '10.7.10.2'), line(1) + '\n');
    const size = readFileSync(big).length;
    const gauges: { family: string; labels: Record<string, string>; value: number | null }[] = [];
    const ac = new AbortController();
    let records = 0;
    const src = createSource({ kind: 'logger-store', paths: [d], mode: 'live', includeNonLkrg: true, pollIntervalMs: 20, roundReadBytes: 64 * 1024, gaugeIntervalMs: 50 });
    const done = (async () => {
      for await (const b of src.read({ positions: new Map(), signal: ac.signal, log: () => {}, gauge: (family, labels, value) => gauges.push({ family, labels: { ...labels }, value }) })) records += b.records.length;
    })();
    const last = (f: string) => gauges.filter((g) => g.family === f).at(-1)?.value;
    for (let i = 0; i < 750 && !(records >= 20_001 && last('file_unread_bytes') === 0); i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await done;
    const unread = gauges.filter((g) => g.family === 'file_unread_bytes').map((g) => g.value!);
    // measured while the big file is read 64 KiB per round: a backlog that only shrinks (the
    // file does not grow), at most the file, down to 0 (a reading before the files were opened
    // says 0 too)
    const from = unread.findIndex((v) => v > 0);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(Math.max(...unread)).toBeLessThanOrEqual(size);
    // (the small file may be opened between two readings: its one line is the only growth)
    const small = readFileSync(path.join(d, '10.7.10.2')).length;
    for (let i = from + 1; i < unread.length; i++) expect(unread[i]).toBeLessThanOrEqual(unread[i - 1]! + small);
    expect(unread.at(-1)).toBe(0);
    expect(last('files_followed')).toBe(2);
    expect(gauges.every((g) => Object.keys(g.labels).length === 0)).toBe(true); // the pipeline adds `source`
  });

  it('a torn last line cut off by a truncation is reported as malformed, not dropped', async () => {
    const d = fresh();
    const f = path.join(d, '10.7.7.7');
    const head = LINES.slice(0, 3).join('\n') + '\n';
    writeFileSync(f, head + LINES[3]!.slice(0, 25)); // the fourth record is torn
    const s = start(d);
    await s.waitFor(() => s.got.length >= 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.mal).toEqual([]); // a torn line waits while the file may still grow
    truncateSync(f, 0);
    appendFileSync(f, LINES.slice(10, 12).join('\n') + '\n');
    await s.waitFor(() => data(s.got).length >= 5);
    expect(data(s.got)).toEqual([...texts(0, 3), ...texts(10, 12)]);
    expect(s.got.filter((r) => r.notice?.type === 'truncated')).toHaveLength(1);
    expect(s.mal).toEqual([Buffer.byteLength(head)]);
    await s.stop();
  });

  it('keeps reading the rotated file that an open lkrg-logger session still writes to', async () => {
    const d = fresh();
    const f = path.join(d, '10.8.8.8');
    // the third record is torn when the file is rotated; the session completes it afterwards
    writeFileSync(f, LINES.slice(0, 2).join('\n') + '\n' + LINES[2]!.slice(0, 20));
    const logs: string[] = [];
    const s = start(d, undefined, logs);
    await s.waitFor(() => s.got.length >= 2);
    // rename-and-create rotation; the session's O_APPEND descriptor still points at the old inode
    renameSync(f, f + '.1');
    writeFileSync(f, LINES.slice(3, 5).join('\n') + '\n');
    await s.waitFor(() => data(s.got).length >= 4);
    expect(data(s.got)).toEqual([...texts(0, 2), ...texts(3, 5)]);
    appendFileSync(f + '.1', LINES[2]!.slice(20) + '\n' + LINES[5] + '\n');
    appendFileSync(f, LINES[6] + '\n');
    await s.waitFor(() => data(s.got).length >= 7);
    await new Promise((r) => setTimeout(r, 100));
    const byOrigin = (o: string) => data(s.got.filter((r) => r.origin === o));
    expect(byOrigin(f + '.1')).toEqual([texts(2, 3)[0], texts(5, 6)[0]]);
    expect(byOrigin(f)).toEqual([...texts(0, 2), ...texts(3, 5), ...texts(6, 7)]);
    expect(s.mal).toEqual([]); // the torn line was completed, not reported
    expect(logs.filter((m) => /still written to after the rotation/.test(m))).toHaveLength(1);
    const pos = await s.stop();

    // the saved position carries the rotated file: what the session appended while lkrg-siem was
    // down is read after the restart, once
    appendFileSync(f + '.1', LINES[7] + '\n');
    appendFileSync(f, LINES[8] + '\n');
    const s2 = start(d, pos);
    await s2.waitFor(() => data(s2.got).length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(data(s2.got.filter((r) => r.origin === f + '.1'))).toEqual(texts(7, 8));
    expect(data(s2.got.filter((r) => r.origin === f))).toEqual(texts(8, 9));
    await s2.stop();
  });

  // logrotate's rename-and-create as lkrg-logger meets it: each session writes through the
  // descriptor it opened (O_APPEND) and never reopens the file (LKRG issue #320)
  const session = (p: string) => open(p, 'a');
  const rotate = (f: string, keep: number): void => {
    for (let i = keep; i >= 1; i--) {
      try {
        renameSync(i === 1 ? f : `${f}.${i - 1}`, `${f}.${i}`);
      } catch {
        /* not there yet */
      }
    }
  };

  /** logrotate, then a new session (another boot) opens the new file and writes its first line. */
  const rotateAndConnect = async (f: string, keep: number, first: string): Promise<FileHandle> => {
    rotate(f, keep);
    const s = await session(f);
    await s.write(first + '\n');
    return s;
  };

  it('follows every rotated file sessions still write to, across rotations, and a deleted (compressed) one until it goes quiet', async () => {
    const d = fresh();
    const f = path.join(d, '10.9.1.1');
    const s1 = await session(f); // session 1 opens the file
    await s1.write(LINES.slice(0, 2).join('\n') + '\n');
    const logs: string[] = [];
    const s = start(d, undefined, logs, { rotatedDeletedFollowMs: 400 });
    await s.waitFor(() => data(s.got).length >= 2);
    const s2 = await rotateAndConnect(f, 1, LINES[2]!); // f -> f.1, where session 1 keeps writing
    await s1.write(LINES[3] + '\n');
    await s.waitFor(() => data(s.got).length >= 4);
    rotate(f, 2); // f.1 -> f.2, f -> f.1
    const s3 = await session(f);
    await s1.write(LINES[4] + '\n'); // now f.2
    await s2.write(LINES[5] + '\n'); // now f.1
    await s3.write(LINES[6] + '\n');
    await s.waitFor(() => data(s.got).length >= 7);
    await new Promise((r) => setTimeout(r, 100));
    const byOrigin = (o: string) => data(s.got.filter((r) => r.origin === o));
    expect(byOrigin(f + '.2')).toEqual(texts(4, 5));
    expect(byOrigin(f + '.1')).toEqual([...texts(3, 4), ...texts(5, 6)]);
    expect(data(s.got).sort()).toEqual(texts(0, 7).sort());
    // logrotate `compress`: f.2 is gzipped and unlinked; session 1 still writes to the deleted
    // inode, which lkrg-siem reads through its open descriptor
    writeFileSync(f + '.2.gz', gzipSync(readFileSync(f + '.2')));
    rmSync(f + '.2');
    await s1.write(LINES[7] + '\n');
    await s.waitFor(() => data(s.got).length >= 8);
    expect(data(s.got).slice(7)).toEqual(texts(7, 8));
    expect(logs.filter((m) => /was deleted \(compressed or removed by logrotate\)/.test(m))).toHaveLength(1);
    // quiet for longer than rotated_deleted_follow_s: closed, the inode freed
    await s.waitFor(() => logs.some((m) => /deleted and quiet for 0 s; closed/.test(m)));
    expect(logs.filter((m) => /closed$/.test(m))).toHaveLength(1);
    expect(s.mal).toEqual([]);
    await s.stop();
    for (const h of [s1, s2, s3]) await h.close();
  });

  it('restart: the saved rotated files are resumed, found renamed again or compressed meanwhile; older positions are read too', async () => {
    const d = fresh();
    const f = path.join(d, '10.9.2.2');
    const s1 = await session(f);
    await s1.write(LINES.slice(0, 2).join('\n') + '\n');
    const s = start(d);
    await s.waitFor(() => data(s.got).length >= 2);
    const s2 = await rotateAndConnect(f, 1, LINES[2]!);
    await s.waitFor(() => data(s.got).length >= 3);
    const s3 = await rotateAndConnect(f, 2, LINES[3]!);
    await s.waitFor(() => data(s.got).length >= 4);
    await new Promise((r) => setTimeout(r, 100));
    const pos = await s.stop();
    const saved = pos.get(`logger:${f}`) as unknown as LoggerStorePosition;
    expect(saved.retired!.map((r) => r.name)).toEqual(['10.9.2.2.2', '10.9.2.2.1']);
    expect(saved.rotated).toBeUndefined();

    // while stopped: every session writes; then a rotation renames the files again and
    // compresses the oldest (what session 1 wrote is in the archive)
    await s1.write(LINES[4] + '\n');
    await s2.write(LINES[5] + '\n');
    await s3.write(LINES[6] + '\n');
    rotate(f, 3); // f.2 -> f.3, f.1 -> f.2, f -> f.1
    writeFileSync(f + '.3.gz', gzipSync(readFileSync(f + '.3')));
    rmSync(f + '.3');
    const s4 = await session(f);
    await s4.write(LINES[7] + '\n');
    const logs: string[] = [];
    const r2 = start(d, pos, logs);
    await r2.waitFor(() => data(r2.got).length >= 4);
    await new Promise((r) => setTimeout(r, 150));
    const byOrigin = (o: string) => data(r2.got.filter((r) => r.origin === o));
    expect(byOrigin(f + '.3.gz')).toEqual(texts(4, 5)); // finished from the archive
    expect(byOrigin(f + '.2')).toEqual(texts(5, 6)); // session 2's file, renamed again
    expect(byOrigin(f + '.1')).toEqual(texts(6, 7)); // the live file of the saved position
    expect(byOrigin(f)).toEqual(texts(7, 8));
    expect(data(r2.got)).toHaveLength(4);
    expect(logs.filter((m) => /compressed while lkrg-siem was stopped/.test(m))).toHaveLength(1);
    // still followed after the restart: sessions 2 and 3 keep writing
    await s2.write(LINES[8] + '\n');
    await s3.write(LINES[9] + '\n');
    await r2.waitFor(() => data(r2.got).length >= 6);
    expect(byOrigin(f + '.2')).toEqual([...texts(5, 6), ...texts(8, 9)]);
    expect(byOrigin(f + '.1')).toEqual([...texts(6, 7), ...texts(9, 10)]);
    const pos2 = await r2.stop();
    const saved2 = pos2.get(`logger:${f}`) as unknown as LoggerStorePosition;
    expect(saved2.retired!.map((r) => r.name)).toEqual(['10.9.2.2.2', '10.9.2.2.1']);

    // a position written before `retired` existed carries one rotated file as `rotated`
    const { retired, ...rest } = saved2;
    const old = new Map([[`logger:${f}`, { ...rest, rotated: retired![1]! } as unknown as SourcePosition]]);
    await s3.write(LINES[10] + '\n');
    const r3 = start(d, old);
    await r3.waitFor(() => data(r3.got).length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(data(r3.got)).toEqual(texts(10, 11));
    await r3.stop();
    for (const h of [s1, s2, s3, s4]) await h.close();
  });

  it('rotated_follow_max: past it the oldest rotated file is closed, with a warning', async () => {
    const d = fresh();
    const f = path.join(d, '10.9.3.3');
    const s1 = await session(f);
    await s1.write(LINES[0] + '\n');
    const logs: string[] = [];
    const s = start(d, undefined, logs, { rotatedFollowMax: 1 });
    await s.waitFor(() => data(s.got).length >= 1);
    const s2 = await rotateAndConnect(f, 1, LINES[1]!);
    await s.waitFor(() => data(s.got).length >= 2);
    const s3 = await rotateAndConnect(f, 2, LINES[2]!);
    await s.waitFor(() => data(s.got).length >= 3);
    expect(logs.filter((m) => /no longer read \(more than 1 rotated files of 10\.9\.3\.3/.test(m))).toHaveLength(1);
    await s1.write(LINES[3] + '\n'); // f.2: no longer followed
    await s2.write(LINES[4] + '\n'); // f.1: followed
    await s.waitFor(() => data(s.got).length >= 4);
    await new Promise((r) => setTimeout(r, 150));
    expect(data(s.got)).toEqual([...texts(0, 3), ...texts(4, 5)]);
    await s.stop();
    for (const h of [s1, s2, s3]) await h.close();
  });

  it('stdin source: logger records auto-detected, torn tail reported', async () => {
    const stream = Readable.from([Buffer.from(LINES.slice(0, 3).join('\n') + '\n' + LINES[3]!.slice(0, 10))]);
    const { batches } = await readAll(createSource({ kind: 'stdin', stream, includeNonLkrg: true, ip: '10.4.4.4' }));
    const rs = recs(batches);
    expect(rs.map((r) => r.text)).toEqual(texts(0, 3));
    expect(rs[0]!.host.ip).toBe('10.4.4.4');
    expect(batches.flatMap((b) => b.malformed).map((m) => m.reason)).toEqual([expect.stringMatching(/incomplete last line/)]);
  });
});
