/**
 * The text source in live mode (kern.log files of a central rsyslog server): patterns expanded
 * at every poll, torn lines, rotated names left alone, rename-and-create with writes to the old
 * inode, copytruncate, and a restart after the file was rotated and compressed meanwhile.
 * Also the path patterns themselves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createSource } from '../../../src/sources/create-source.js';
import { expandPattern, segmentRegex } from '../../../src/sources/path-glob.js';
import type { RawRecord, SourcePosition } from '../../../src/core/types.js';
import { ConfigError } from '../../../src/core/types.js';
import { lastPositions, readAll, tmp } from './helpers.js';

const line = (host: string, n: number): string => `2026-11-26T10:00:${String(n % 60).padStart(2, '0')}.000000+00:00 ${host} kernel: live test ${host} record ${n}`;
const lines = (host: string, a: number, b: number): string => Array.from({ length: b - a }, (_, i) => line(host, a + i) + '\n').join('');
const texts = (host: string, a: number, b: number): string[] => Array.from({ length: b - a }, (_, i) => `live test ${host} record ${a + i}`);

describe('text source, live', () => {
  const dirs: Array<() => void> = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d();
  });
  const fresh = (): string => {
    const t = tmp('lkrg-text-live-');
    dirs.push(t.done);
    return t.dir;
  };

  function start(paths: string[], positions = new Map<string, SourcePosition>(), logs: string[] = [], startAt: 'beginning' | 'end' = 'beginning') {
    const ac = new AbortController();
    const got: RawRecord[] = [];
    let pos = new Map(positions);
    const src = createSource({ kind: 'text', paths, mode: 'live', includeNonLkrg: true, pollIntervalMs: 20, startAt });
    const done = (async () => {
      for await (const b of src.read({ positions, signal: ac.signal, log: (_level, m) => logs.push(m) })) {
        got.push(...b.records);
        pos = lastPositions([b], pos);
      }
    })();
    // polls until the condition holds (up to 15 s on a loaded machine); the assertions after it
    // say what was missing
    const waitFor = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 750 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    return { got, waitFor, stop: async () => { ac.abort(); await done; return pos; } };
  }
  const of = (rs: RawRecord[], host: string): string[] => rs.filter((r) => r.host.name === host).map((r) => r.text);

  it('follows the files a pattern names, new hosts too, and survives rotation, writes to the rotated inode and copytruncate', async () => {
    const d = fresh();
    mkdirSync(path.join(d, 'h1'));
    const f1 = path.join(d, 'h1', 'kern.log');
    // history beside the live file: rotated names are not followed
    writeFileSync(`${f1}.1`, lines('h1', 900, 902));
    writeFileSync(`${f1}.2.gz`, gzipSync(lines('h1', 800, 802)));
    writeFileSync(path.join(d, 'h1', 'kern.log-20261120'), lines('h1', 700, 702));
    writeFileSync(f1, lines('h1', 0, 3) + line('h1', 3).slice(0, 25));
    const logs: string[] = [];
    const s = start([path.join(d, '*', '*')], new Map(), logs);
    await s.waitFor(() => s.got.length >= 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(of(s.got, 'h1')).toEqual(texts('h1', 0, 3)); // the torn line waits, no history
    appendFileSync(f1, line('h1', 3).slice(25) + '\n' + lines('h1', 4, 5));
    await s.waitFor(() => s.got.length >= 5);
    expect(of(s.got, 'h1')).toEqual(texts('h1', 0, 5));
    expect(s.got.every((r) => r.streamId === `text:${f1}` && r.origin === f1)).toBe(true);

    // a host directory created later is found by the pattern
    mkdirSync(path.join(d, 'h2'));
    writeFileSync(path.join(d, 'h2', 'kern.log'), lines('h2', 0, 2));
    await s.waitFor(() => of(s.got, 'h2').length >= 2);
    expect(of(s.got, 'h2')).toEqual(texts('h2', 0, 2));

    // a host whose file was rotated before lkrg-siem first saw it (while it was stopped): the
    // rotated files are read first, oldest first, the newest still followed
    mkdirSync(path.join(d, 'h4'));
    const f4 = path.join(d, 'h4', 'kern.log');
    writeFileSync(`${f4}.2.gz`, gzipSync(lines('h4', 0, 2)));
    writeFileSync(`${f4}.1`, lines('h4', 2, 4));
    writeFileSync(f4, lines('h4', 5, 6));
    await s.waitFor(() => of(s.got, 'h4').length >= 5);
    appendFileSync(`${f4}.1`, lines('h4', 4, 5));
    await s.waitFor(() => of(s.got, 'h4').length >= 6);
    expect(of(s.got, 'h4').slice(0, 5)).toEqual([...texts('h4', 0, 4), ...texts('h4', 5, 6)]);
    expect(of(s.got, 'h4')).toHaveLength(6);
    expect(logs.filter((m) => m.includes('rotated before lkrg-siem first saw'))).toHaveLength(2);

    // logrotate rename-and-create; rsyslog writes to the renamed inode until its HUP
    renameSync(`${f1}.1`, `${f1}.2`);
    renameSync(f1, `${f1}.1`);
    appendFileSync(`${f1}.1`, lines('h1', 5, 7));
    writeFileSync(f1, '');
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(`${f1}.1`, lines('h1', 7, 8)); // still the old descriptor
    appendFileSync(f1, lines('h1', 8, 10)); // after the HUP
    await s.waitFor(() => of(s.got, 'h1').length >= 10);
    const h1 = s.got.filter((r) => r.host.name === 'h1');
    expect(h1.map((r) => r.text).sort()).toEqual(texts('h1', 0, 10).sort());
    expect(h1.find((r) => r.text.endsWith('record 7'))!.origin).toBe(`${f1}.1`);
    expect(h1.find((r) => r.text.endsWith('record 9'))!.origin).toBe(f1);

    // copytruncate
    truncateSync(f1, 0);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(f1, lines('h1', 10, 12));
    await s.waitFor(() => of(s.got, 'h1').length >= 12);
    expect(of(s.got, 'h1').slice(10)).toEqual(texts('h1', 10, 12));
    expect(logs.some((m) => m.includes('truncated'))).toBe(true);
    const pos = await s.stop();
    expect(of(s.got, 'h1')).toHaveLength(12);
    expect(s.got.some((r) => /record (70|80|90)\d/.test(r.text))).toBe(false);

    // stopped; meanwhile the file grows, is rotated and compressed (delaycompress off): the
    // restart finishes the archive from the saved offset, then reads the new file
    appendFileSync(f1, lines('h1', 12, 14));
    writeFileSync(`${f1}.1.gz`, gzipSync(readFileSync(f1)));
    rmSync(f1);
    writeFileSync(f1, lines('h1', 14, 15));
    appendFileSync(path.join(d, 'h2', 'kern.log'), lines('h2', 2, 3));
    const logs2: string[] = [];
    const s2 = start([path.join(d, '*', '*')], pos, logs2);
    await s2.waitFor(() => s2.got.length >= 4);
    await new Promise((r) => setTimeout(r, 150));
    expect(of(s2.got, 'h1')).toEqual(texts('h1', 12, 15));
    expect(of(s2.got, 'h2')).toEqual(texts('h2', 2, 3));
    expect(s2.got.filter((r) => r.host.name === 'h4')).toHaveLength(0);
    expect(logs2.some((m) => m.includes('compressed while lkrg-siem was stopped'))).toBe(true);
    await s2.stop();
  });

  it('logrotate ran twice while lkrg-siem was stopped: the unseen rotated file is read too, in order', async () => {
    const d = fresh();
    const f = path.join(d, 'kern.log');
    writeFileSync(f, lines('h5', 0, 2));
    const s = start([f]);
    await s.waitFor(() => s.got.length >= 2);
    const pos = await s.stop();
    appendFileSync(f, lines('h5', 2, 3));
    renameSync(f, `${f}.1`); // first rotation
    writeFileSync(f, lines('h5', 3, 5));
    writeFileSync(`${f}.2.gz`, gzipSync(readFileSync(`${f}.1`))); // second, with compress
    rmSync(`${f}.1`);
    renameSync(f, `${f}.1`);
    writeFileSync(f, lines('h5', 5, 6));
    const logs: string[] = [];
    const s2 = start([f], pos, logs);
    await s2.waitFor(() => s2.got.length >= 4);
    appendFileSync(`${f}.1`, lines('h5', 6, 7)); // the writer had not reopened yet: still followed
    await s2.waitFor(() => s2.got.length >= 5);
    await new Promise((r) => setTimeout(r, 100));
    expect(of(s2.got, 'h5')).toEqual(texts('h5', 2, 7));
    expect(logs.some((m) => m.includes('written and rotated while lkrg-siem was stopped'))).toBe(true);
    await s2.stop();
  });

  it('start_at end: the first start follows only what is appended (a torn last line included); later files from 0; restarts resume', async () => {
    const d = fresh();
    mkdirSync(path.join(d, 'h6'));
    const f = path.join(d, 'h6', 'kern.log');
    writeFileSync(f, lines('h6', 0, 3) + line('h6', 3).slice(0, 20));
    const logs: string[] = [];
    const s = start([path.join(d, '*', 'kern.log')], new Map(), logs, 'end');
    await new Promise((r) => setTimeout(r, 150));
    expect(s.got).toHaveLength(0);
    appendFileSync(f, line('h6', 3).slice(20) + '\n' + lines('h6', 4, 5));
    await s.waitFor(() => s.got.length >= 2);
    expect(of(s.got, 'h6')).toEqual(texts('h6', 3, 5));
    expect(logs.some((m) => m.includes('start_at end: following from byte'))).toBe(true);
    // a host that appears later is read from its start
    mkdirSync(path.join(d, 'h7'));
    writeFileSync(path.join(d, 'h7', 'kern.log'), lines('h7', 0, 2));
    await s.waitFor(() => of(s.got, 'h7').length >= 2);
    expect(of(s.got, 'h7')).toEqual(texts('h7', 0, 2));
    const pos = await s.stop();
    // a restart resumes where it stopped, start_at end or not
    appendFileSync(f, lines('h6', 5, 7));
    const s2 = start([path.join(d, '*', 'kern.log')], pos, [], 'end');
    await s2.waitFor(() => s2.got.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(of(s2.got, 'h6')).toEqual(texts('h6', 5, 7));
    expect(s2.got).toHaveLength(2);
    await s2.stop();
  });

  it('an explicit path that does not exist yet is followed once it appears; replay refuses it', async () => {
    const d = fresh();
    const f = path.join(d, 'later.log');
    const s = start([f]);
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(f, lines('h3', 0, 2));
    await s.waitFor(() => s.got.length >= 2);
    expect(of(s.got, 'h3')).toEqual(texts('h3', 0, 2));
    await s.stop();
    await expect(readAll(createSource({ kind: 'text', paths: [path.join(d, 'nope.log')] }))).rejects.toThrow(ConfigError);
    await expect(readAll(createSource({ kind: 'text', paths: [path.join(d, '*.nothing')] }))).rejects.toThrow(/matches no file/);
  });

  it('replay reads what a pattern matches, archives oldest first', async () => {
    const d = fresh();
    for (const h of ['a', 'b']) {
      mkdirSync(path.join(d, h));
      writeFileSync(path.join(d, h, 'kern.log'), lines(h, 4, 6));
      writeFileSync(path.join(d, h, 'kern.log.1'), lines(h, 2, 4));
      writeFileSync(path.join(d, h, 'kern.log.2.gz'), gzipSync(lines(h, 0, 2)));
      writeFileSync(path.join(d, h, 'other.txt'), 'not kernel\n');
    }
    const { batches } = await readAll(createSource({ kind: 'text', paths: [path.join(d, '?', 'kern.log*')], includeNonLkrg: true }));
    const got = batches.flatMap((b) => b.records);
    expect(of(got, 'a')).toEqual(texts('a', 0, 6));
    expect(of(got, 'b')).toEqual(texts('b', 0, 6));
    expect(got).toHaveLength(12);
  });
});

describe('path patterns', () => {
  it('match * and ? within one segment, skip dot names, escape the rest', async () => {
    expect(segmentRegex('kern.log*').test('kern.log.1')).toBe(true);
    expect(segmentRegex('kern.log*').test('kernXlog')).toBe(false);
    expect(segmentRegex('h?').test('h1')).toBe(true);
    expect(segmentRegex('h?').test('h12')).toBe(false);
    expect(segmentRegex('a+(b)[c]').test('a+(b)[c]')).toBe(true);
    const t = tmp('lkrg-glob-');
    try {
      for (const p of ['x/1/kern.log', 'y/2/kern.log', 'y/2/other', '.hidden/3/kern.log', 'z/kern.log']) {
        mkdirSync(path.dirname(path.join(t.dir, p)), { recursive: true });
        writeFileSync(path.join(t.dir, p), '');
      }
      const rel = async (p: string): Promise<string[]> => (await expandPattern(path.join(t.dir, p))).map((x) => path.relative(t.dir, x.path));
      expect(await rel('*/*/kern.log')).toEqual(['x/1/kern.log', 'y/2/kern.log']);
      expect(await rel('.*/*/kern.log')).toEqual(['.hidden/3/kern.log']);
      expect(await rel('*/kern.log')).toEqual(['z/kern.log']);
      expect(await rel('y/*')).toEqual(['y/2']);
      expect(await rel('z/kern.log')).toEqual(['z/kern.log']);
      expect(await rel('none/*')).toEqual([]);
      // what each match is comes with it; symbolic links are what they point to
      symlinkSync(path.join(t.dir, 'x'), path.join(t.dir, 'w'));
      symlinkSync(path.join(t.dir, 'z/kern.log'), path.join(t.dir, 'z/kern.link'));
      symlinkSync(path.join(t.dir, 'gone'), path.join(t.dir, 'z/dangling'));
      expect(await rel('*/*/kern.log')).toEqual(['w/1/kern.log', 'x/1/kern.log', 'y/2/kern.log']);
      const kinds = async (p: string) => (await expandPattern(path.join(t.dir, p))).map((m) => [path.relative(t.dir, m.path), m.isFile, m.isDirectory]);
      expect(await kinds('z/*')).toEqual([['z/kern.link', true, false], ['z/kern.log', true, false]]);
      expect(await kinds('*')).toEqual([['w', false, true], ['x', false, true], ['y', false, true], ['z', false, true]]);
      expect(await kinds('y/2')).toEqual([['y/2', false, true]]);
    } finally {
      t.done();
    }
  });
});
