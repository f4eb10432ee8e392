import { copyFileSync, createReadStream, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRecord } from '../../../src/core/types.js';
import { createSource } from '../../../src/sources/create-source.js';
import { expected, readAll, SAMPLES, tmp } from './helpers.js';

const T = tmp('lkrg-samples-');
afterAll(() => T.done());

function recs(batches: Awaited<ReturnType<typeof readAll>>['batches']): RawRecord[] {
  return batches.flatMap((b) => b.records);
}

describe('lkrg-logger store sample', () => {
  let all: RawRecord[] = [];
  let malformed: Array<{ line?: number; reason: string; offset: number }> = [];
  beforeAll(async () => {
    copyFileSync(path.join(SAMPLES, 'samples-lkrg-logger-store.txt'), path.join(T.dir, '10.20.30.41'));
    const r = await readAll(createSource({ kind: 'logger-store', paths: [T.dir], mode: 'replay', includeNonLkrg: true }));
    all = recs(r.batches);
    malformed = r.batches.flatMap((b) => b.malformed);
  });

  it('yields every valid record with the container fields of expected-parse.jsonl', () => {
    const data = all.filter((r) => !r.notice);
    expect(data).toHaveLength(92);
    const exp = expected('samples-lkrg-logger-store.txt').filter((e) => e.recv_usec !== undefined);
    expect(exp.length).toBe(92);
    for (const e of exp) {
      const r = data.find((x) => x.line === e.line);
      expect(r, `line ${e.line}`).toBeDefined();
      expect(r!.text).toBe(e.message);
      expect(r!.receivedUs).toBe(e.recv_usec);
      expect(r!.seq).toBe(e.seq);
      expect(r!.facility).toBe(e.syslog_facility);
      expect(r!.severity).toBe(e.syslog_severity);
      expect(r!.flag).toBe(e.flag);
      expect(r!.uptimeUs).toBe(e.event_uptime_usec);
      expect(r!.kernelOrigin).toBe(e.syslog_facility === 0);
      expect(r!.container).toBe('logger');
      expect(r!.host.ip).toBe('10.20.30.41');
      const send = e.send_usec as number, su = e.send_uptime_usec as number, eu = e.event_uptime_usec as number;
      expect(r!.timeUs).toBe(su > eu ? send - (su - eu) : send);
    }
  });

  it('event times equal what lkrg-logctl printed (1 s resolution there)', () => {
    const data = all.filter((r) => !r.notice);
    const logctl = readFileSync(path.join(SAMPLES, 'samples-lkrg-logctl-output.txt'), 'utf8').split('\n').filter(Boolean);
    expect(logctl).toHaveLength(data.length);
    data.forEach((r, i) => {
      const iso = new Date(Math.floor(r.timeUs! / 1e6) * 1000).toISOString().replace('.000Z', 'Z');
      const msg = r.original.slice(r.original.indexOf(';') + 1);
      expect(logctl[i]).toBe(`${iso} ${r.flag} ${msg}`);
    });
  });

  it('reports reboot, 137-record gap, one-record loss, resend, forgery, malformed line 92 and the torn last line', () => {
    const notices = all.filter((r) => r.notice);
    const gap137 = notices.find((r) => r.notice!.type === 'gap' && r.notice!.missing === 137);
    expect(gap137?.notice).toMatchObject({ fromSeq: 1160, toSeq: 1298 });
    expect(gap137?.line).toBe(68);
    const gap1 = notices.find((r) => r.notice!.type === 'gap' && r.notice!.fromSeq === 1136);
    expect(gap1?.notice).toMatchObject({ missing: 1, toSeq: 1138 });
    const reboot = notices.filter((r) => r.notice!.type === 'reboot');
    expect(reboot).toHaveLength(1);
    expect(reboot[0]!.line).toBe(80);
    const before = all.find((r) => r.line === 79 && !r.notice)!;
    const after = all.find((r) => r.line === 80 && !r.notice)!;
    expect(reboot[0]!.notice!.previousBootId).toBe(before.host.bootId);
    expect(after.host.bootId).not.toBe(before.host.bootId);
    expect(all.find((r) => r.line === 1)!.host.bootId).toBe(before.host.bootId);
    // the resent record keeps its original send time: 47 s between send and receive
    const resent = all.find((r) => r.line === 45 && !r.notice)!;
    expect(Number(resent.extra?.recvDelayUs)).toBeGreaterThan(47_000_000);
    const forged = all.find((r) => r.line === 44)!;
    expect(forged.kernelOrigin).toBe(false);
    expect(forged.text).toBe('LKRG: ALIVE: System is clean');
    expect(malformed.map((m) => m.line)).toEqual([92, 94]);
    expect(malformed[1]!.reason).toMatch(/incomplete last line/);
    expect(notices.filter((r) => r.notice!.type === 'duplicate')).toHaveLength(0);
    // the two lines lost in the corrupted line 92 show up as a gap
    expect(notices.find((r) => r.line === 93)?.notice).toMatchObject({ type: 'gap', missing: 2 });
    // UTF-8 escapes decoded, TAB decoded
    expect(all.find((r) => r.seq === 1153)!.text).toMatch(/name майнер$/);
    expect(all.find((r) => r.line === 47)!.text).toBe('\tName: [diamorphine]');
  });

  it('prefilter hides non-LKRG records but keeps notices and tracking', async () => {
    const r = await readAll(createSource({ kind: 'logger-store', paths: [T.dir], mode: 'replay', prefilter: (t) => t.includes('LKRG') }));
    const rs = recs(r.batches);
    expect(rs.filter((x) => !x.notice).every((x) => x.text.includes('LKRG'))).toBe(true);
    expect(rs.filter((x) => x.notice).map((x) => x.notice!.type).sort()).toEqual(['gap', 'gap', 'gap', 'reboot']);
  });
});

describe('NAT store file (two clients interleaved)', () => {
  it('keeps the two boot streams apart: no reboot or gap storm', async () => {
    const d = path.join(T.dir, 'nat');
    (await import('node:fs')).mkdirSync(d);
    copyFileSync(path.join(SAMPLES, 'samples-lkrg-logger-store-nat.txt'), path.join(d, '198.51.100.7'));
    const r = await readAll(createSource({ kind: 'logger-store', paths: [d], mode: 'replay', includeNonLkrg: true }));
    const rs = recs(r.batches);
    const malformed = r.batches.flatMap((b) => b.malformed);
    const data = rs.filter((x) => !x.notice);
    // the file ends without a newline: the last record is torn in replay
    const lines = readFileSync(path.join(SAMPLES, 'samples-lkrg-logger-store-nat.txt'), 'utf8');
    const complete = lines.endsWith('\n') ? 7 : 6;
    expect(data).toHaveLength(complete);
    expect(malformed).toHaveLength(7 - complete);
    expect(rs.filter((x) => x.notice)).toHaveLength(0);
    const byBoot = new Map<string, number[]>();
    for (const x of data) byBoot.set(x.host.bootId!, [...(byBoot.get(x.host.bootId!) ?? []), x.seq!]);
    expect(byBoot.size).toBe(2);
    for (const e of expected('samples-lkrg-logger-store-nat.txt')) {
      const x = data.find((y) => y.line === e.line);
      if (!x) continue;
      expect(x.text).toBe(e.message);
      expect(x.seq).toBe(e.seq);
      expect(x.receivedUs).toBe(e.recv_usec);
    }
  });
});

describe('text samples', () => {
  async function text(file: string, input: 'auto' | 'dmesg' | 'syslog' | 'journal-short' | 'logctl' | 'bare' = 'auto'): Promise<RawRecord[]> {
    const r = await readAll(createSource({ kind: 'text', paths: [path.join(SAMPLES, file)], input, includeNonLkrg: true }));
    expect(r.batches.flatMap((b) => b.malformed)).toHaveLength(0);
    return recs(r.batches);
  }
  const fmt = (c: unknown): string[] => (c === 'journal_short' ? ['journal-short', 'syslog'] : [String(c)]);

  for (const [file, count] of [
    ['samples-dmesg.txt', 75], ['samples-journalctl-short.txt', 20], ['samples-legacy-0.9.x.txt', 69], ['samples-kernel-lines.txt', 274],
  ] as const) {
    it(`${file}: ${count} records, texts and container formats as expected-parse.jsonl`, async () => {
      const rs = await text(file);
      expect(rs).toHaveLength(count);
      const exp = expected(file);
      expect(exp.length).toBeGreaterThan(0);
      for (const e of exp) {
        const r = rs.find((x) => x.line === e.line);
        expect(r, `${file}:${e.line}`).toBeDefined();
        const want = e.syslog_identifier && e.syslog_identifier !== 'kernel' ? `${e.syslog_identifier}: ${e.message}` : e.message;
        expect(r!.text, `${file}:${e.line}`).toBe(want);
        if (e.container_format) expect(fmt(e.container_format)).toContain(r!.container);
        if (e.syslog_identifier) {
          expect(r!.identifier).toBe(e.syslog_identifier);
          expect(r!.kernelOrigin).toBe(false);
        }
      }
    });
  }

  it('dmesg: uptime only, ESC bytes decoded', async () => {
    const rs = await text('samples-dmesg.txt');
    expect(rs.every((r) => r.timeUs === null && typeof r.uptimeUs === 'number')).toBe(true);
    expect(rs[73]!.text).toContain('name \x1b[1A\x1b[2K');
    expect(rs[4]!.uptimeUs).toBe(1_902_117);
  });

  it('journalctl short: blob placeholders kept, year from the file mtime', async () => {
    const rs = await text('samples-journalctl-short.txt');
    expect(rs[15]!.text).toBe('[97B blob data]');
    const mtimeYear = new Date((await import('node:fs')).statSync(path.join(SAMPLES, 'samples-journalctl-short.txt')).mtimeMs).getFullYear();
    const d = new Date(rs[0]!.timeUs! / 1000);
    expect([mtimeYear, mtimeYear - 1]).toContain(d.getFullYear());
    expect([d.getMonth(), d.getDate(), d.getHours(), d.getMinutes()]).toEqual([9, 14, 3, 47]);
    expect(rs[0]!.host.name).toBe('db-prod-07');
  });

  it('legacy syslog lines: [uptime] and caller id stripped', async () => {
    const rs = await text('samples-legacy-0.9.x.txt');
    const l = rs.find((r) => r.original.includes('[  T812]'))!;
    expect(l.text.startsWith('[p_lkrg] <Exploit Detection>')).toBe(true);
    expect(l.uptimeUs).toBe(269_945_851);
    expect(l.extra?.callerId).toBe('T812');
  });

  it('lkrg-logctl output: 92 records whose times equal the store records (to the second)', async () => {
    const rs = await text('samples-lkrg-logctl-output.txt');
    expect(rs).toHaveLength(92);
    expect(rs.every((r) => r.container === 'logctl' && r.flag === '-' || r.flag === 'c')).toBe(true);
    expect(rs[0]!.timeUs).toBe(Date.UTC(2024, 9, 14, 7, 58, 26) * 1000);
    expect(rs[0]!.text).toBe('LKRG: ALIVE: Loading LKRG');
    expect(rs.find((r) => r.text.includes('Name: [diamorphine]'))!.text).toBe('\tName: [diamorphine]');
  });

  it('gzip archives are read transparently', async () => {
    const { gzipSync } = await import('node:zlib');
    const gz = path.join(T.dir, 'dmesg.txt.gz');
    writeFileSync(gz, gzipSync(readFileSync(path.join(SAMPLES, 'samples-dmesg.txt'))));
    const r = await readAll(createSource({ kind: 'text', paths: [gz], includeNonLkrg: true }));
    expect(recs(r.batches)).toHaveLength(75);
  });
});

describe('journal JSON sample via stdin', () => {
  it('25 entries: texts, hosts, boot ids, byte-array messages, forged flag', async () => {
    const r = await readAll(createSource({ kind: 'stdin', stream: createReadStream(path.join(SAMPLES, 'samples-journal-json.txt')), includeNonLkrg: true }));
    const rs = recs(r.batches);
    expect(rs).toHaveLength(25);
    for (const e of expected('samples-journal-json.txt')) {
      const x = rs[(e.line as number) - 1]!;
      expect(x.container).toBe('journal-json');
      expect(x.facility).toBe(e.syslog_facility);
      expect(x.identifier).toBe(e.syslog_identifier);
      expect(x.kernelOrigin).toBe(e.trusted_kernel_origin);
      expect(x.text).toBe(e.trusted_kernel_origin ? e.message : `${e.syslog_identifier}: ${e.message}`);
    }
    expect(rs[15]!.original).toContain('\\x1b[1A\\x1b[2K');
    expect(rs[0]!.host).toEqual({ name: 'db-prod-07', bootId: '3c9fe0b7a15d4e62b8d04f1e9a7c2d58', id: 'a8d3f1c94e2b47d0b61e5c7f20394ad1' });
    expect(rs[0]!.timeUs).toBe(1728892020936508 - (8519275 - 6218764));
    expect(rs[0]!.seq).toBeUndefined();
  });
});
