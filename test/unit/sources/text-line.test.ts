import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseTextLine } from '../../../src/parse/containers/text-line.js';
import { createSource } from '../../../src/sources/create-source.js';
import { readAll } from './helpers.js';

describe('text line shapes', () => {
  it('dmesg -T, -x, caller ids, console', () => {
    const t = parseTextLine('[Mon Oct 14 09:58:23 2024] LKRG: ALIVE: System is clean');
    expect(t).toMatchObject({ container: 'dmesg-t', text: 'LKRG: ALIVE: System is clean', timeUs: new Date(2024, 9, 14, 9, 58, 23).getTime() * 1000 });
    expect(parseTextLine('kern  :crit  : [ 9512.440071] LKRG: ALERT: x \\x1b')).toMatchObject({ container: 'dmesg', facility: 0, severity: 2, text: 'LKRG: ALERT: x \x1b', uptimeUs: 9_512_440_071 });
    expect(parseTextLine('user  :warn  : [   10.000001] LKRG: ALIVE: System is clean')).toMatchObject({ kernelOrigin: false, facility: 1 });
    expect(parseTextLine('[    1.234567][    T1] LKRG: ALIVE: Loading LKRG')).toMatchObject({ container: 'console', callerId: 'T1', text: 'LKRG: ALIVE: Loading LKRG' });
    expect(parseTextLine('[  260.958660] [C3] msg')).toMatchObject({ container: 'dmesg', callerId: 'C3', text: 'msg' });
  });

  it('syslog RFC 3164 with <pri>, RFC 3339, RFC 5424, short-iso, short-precise', () => {
    expect(parseTextLine('<2>Oct 14 09:58:23 h kernel: [ 12.5] [T9] LKRG: x', { year: 2024 })).toMatchObject({
      container: 'syslog', facility: 0, severity: 2, text: 'LKRG: x', uptimeUs: 12_500_000, hostName: 'h', callerId: 'T9',
      timeUs: new Date(2024, 9, 14, 9, 58, 23).getTime() * 1000,
    });
    expect(parseTextLine('<13>Oct 14 09:58:23 h kernel: LKRG: forged')).toMatchObject({ kernelOrigin: false, facility: 1 });
    expect(parseTextLine('2024-10-14T09:58:23.123456+02:00 h kernel: LKRG: y')).toMatchObject({
      container: 'syslog-5424', text: 'LKRG: y', timeUs: Date.UTC(2024, 9, 14, 7, 58, 23) * 1000 + 123456,
    });
    expect(parseTextLine('<2>1 2024-10-14T09:58:23.5Z h kernel - - - LKRG: z')).toMatchObject({ container: 'syslog-5424', text: 'LKRG: z', facility: 0, timeUs: Date.UTC(2024, 9, 14, 9, 58, 23) * 1000 + 500000 });
    expect(parseTextLine('<2>1 2024-10-14T09:58:23Z h kernel - - [m@1 a="]"] LKRG: w')).toMatchObject({ text: 'LKRG: w' });
    expect(parseTextLine('2024-10-14T09:58:23+0000 h LKRG: ALIVE: System is clean')).toMatchObject({ identifier: 'LKRG', kernelOrigin: false, text: 'LKRG: ALIVE: System is clean' });
    expect(parseTextLine('Oct 14 09:58:23.123456 h kernel: m', { year: 2024 })).toMatchObject({ container: 'journal-short', text: 'm' });
    expect(parseTextLine('Oct 14 09:58:23 h sshd[81]: Accepted', { year: 2024 })).toMatchObject({ identifier: 'sshd', text: 'sshd[81]: Accepted', kernelOrigin: false });
  });

  it('year-less timestamps after the reference date belong to the previous year', () => {
    const ref = new Date(2025, 0, 2).getTime();
    expect(new Date(parseTextLine('Dec 31 23:00:00 h kernel: m', { refTimeMs: ref }).timeUs! / 1000).getFullYear()).toBe(2024);
    expect(new Date(parseTextLine('Jan  1 23:00:00 h kernel: m', { refTimeMs: ref }).timeUs! / 1000).getFullYear()).toBe(2025);
  });

  it('lkrg-logctl new and old forms; bare fallback', () => {
    expect(parseTextLine('2024-10-14T08:58:23Z - LKRG: ALIVE: x')).toMatchObject({ container: 'logctl', flag: '-', text: 'LKRG: ALIVE: x', timeUs: Date.UTC(2024, 9, 14, 8, 58, 23) * 1000 });
    expect(parseTextLine('2024-10-14T08:58:23Z c  lkrg(OE)')).toMatchObject({ container: 'logctl', flag: 'c', text: ' lkrg(OE)' });
    expect(parseTextLine('2024-10-14T08:58:23Z LKRG: ALIVE: x')).toMatchObject({ container: 'logctl', text: 'LKRG: ALIVE: x' });
    expect(parseTextLine('[p_lkrg] System is clean!')).toMatchObject({ container: 'bare', text: '[p_lkrg] System is clean!', timeUs: null });
    expect(parseTextLine('dmesg-ish text')).toMatchObject({ container: 'bare' });
  });

  it('hostile text input never throws: NUL, invalid UTF-8, 1 MiB line', async () => {
    const stream = Readable.from([Buffer.concat([
      Buffer.from('[ 1.0] ok\n'), Buffer.from([0, 0, 0, 10]), Buffer.from([0xff, 0xc3, 0x28, 10]),
      Buffer.alloc(1024 * 1024, 0x42), Buffer.from('\n[ 2.0] after\n'),
    ])]);
    const { batches } = await readAll(createSource({ kind: 'stdin', stream, input: 'text', includeNonLkrg: true }));
    const rs = batches.flatMap((b) => b.records);
    expect(rs.map((r) => r.text)).toEqual(['ok', '\ufffd\ufffd(', 'after']);
    expect(batches.flatMap((b) => b.malformed).map((m) => m.reason)).toEqual([expect.stringMatching(/NUL/), expect.stringMatching(/line cap/)]);
  });
});
