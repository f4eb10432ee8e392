import { createRequire } from 'node:module';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { escapeCefHeader, escapeCefValue, toCef, truncateCef } from '../../../src/normalize/cef-encoder.js';
import { CefSyntaxError, parseCefStrict } from '../../support/cef-strict-parser.js';
import { eventFromRow, makeEvent, readExpectedRows } from './sample-events.js';

const require = createRequire(import.meta.url);
const nsyslog = require('nsyslog-parser') as (line: string) => { cef?: Record<string, string>; fields: Record<string, string> };

let n: Normalizer;
beforeAll(() => {
  n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'c1', version: '0.1.0' } });
});

// Independent statement of the rules in formats.md §3.2 as the encoder documents them.
const CTRL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]/g;
function cut(v: string, max: number): string {
  let t = v.length > max ? v.slice(0, max) : v;
  const last = t.charCodeAt(t.length - 1);
  if (t.length < v.length && last >= 0xd800 && last <= 0xdbff) t = t.slice(0, -1);
  return t;
}
const expectExt = (v: string, max: number): string => cut(v, max).trim().replace(/\t/g, ' ').replace(CTRL, '\uFFFD');
const expectHdr = (v: string, max: number): string => cut(v, max).replace(/\t/g, ' ').replace(CTRL, '\uFFFD').replace(/[\r\n]/g, ' ');

const hostile = fc
  .array(
    fc.oneof(
      fc.constantFrom('|', '=', '\\', '\n', '\r', '\r\n', 'CEF:0|Evil|X|1|2|3|10|', ' act=evil', ' cs1Label=x cs1=y', '   ', '\0', '\t', 'é', '😀', '\u2028', '\x85', '\\=', '\\n', '\\|', '=='),
      fc.string({ unit: 'binary', maxLength: 6 }),
    ),
    { maxLength: 14 },
  )
  .map((a) => a.join(''));

describe('CEF escaping primitives', () => {
  it('extension: backslash first, then =, LF, CR', () => {
    expect(escapeCefValue('a\\b=c\nd\re')).toBe('a\\\\b\\=c\\nd\\re');
    expect(escapeCefValue('pipes | stay')).toBe('pipes | stay');
    expect(escapeCefValue('nul\0tab\tdel\x7f')).toBe('nul\uFFFDtab del\uFFFD');
  });
  it('header: backslash then pipe; CR/LF become spaces', () => {
    expect(escapeCefHeader('a|b\\c\r\nd=e')).toBe('a\\|b\\\\c  d=e');
  });
  it('truncation never splits a surrogate pair', () => {
    expect(truncateCef('ab😀', 3)).toBe('ab');
    expect(truncateCef('abc', 5)).toBe('abc');
  });
  it('spec examples parse back', () => {
    const line = 'CEF:0|V|P|1|sig|detected a \\| in message|5|act=blocked a \\\\ dst=1.1.1.1 msg=a \\= b';
    const p = parseCefStrict(line);
    expect(p.name).toBe('detected a | in message');
    expect([...p.extension]).toEqual([['act', 'blocked a \\'], ['dst', '1.1.1.1'], ['msg', 'a = b']]);
    expect(() => parseCefStrict('CEF:0|a|b|c|d|e|5|msg=x\ny')).toThrow(CefSyntaxError);
    expect(() => parseCefStrict('CEF:0|a|b|c|d|e|5|msg=x=y')).toThrow(CefSyntaxError);
  });
});

describe('CEF round trip with hostile values (fast-check)', () => {
  it('normalized task.kill events: header untouched, sproc/msg exact, key set exact', () => {
    fc.assert(
      fc.property(hostile, hostile, (name, path) => {
        const text = `LKRG: ALERT: BLOCK: Task: Killing pid 4242, name ${name}`;
        const doc = n.toEcs(makeEvent({ text, templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { pid: '4242', process_name: name }, record: { timeUs: 1_728_892_706_217_351, host: { name: 'web01' } } }));
        const line = n.toCef(doc);
        expect(line).not.toMatch(/[\r\n\0]/);
        const p = parseCefStrict(line);
        expect([p.vendor, p.product, p.signatureId, p.name, p.severity]).toEqual(['Openwall', 'LKRG', 'task.kill', 'Task killed', '8']);
        const want: Record<string, string> = {
          rt: '1728892706217', dvchost: 'web01', deviceProcessName: 'kernel', act: 'lkrg-process-killed', cat: 'Task', outcome: 'success', spid: '4242',
        };
        const sproc = expectExt(name, 1023);
        if (sproc) want.sproc = sproc;
        want.msg = expectExt(text, 1023);
        want.externalId = 'evt-1';
        Object.assign(want, { cs2Label: 'lkrgLevel', cs2: 'ALERT', cs6Label: 'tags', cs6: 'lkrg' });
        expect(Object.fromEntries(p.extension)).toEqual(want);
        expect(p.keys).toEqual(Object.keys(want));
        // UMH path goes to filePath
        const u = n.toEcs(makeEvent({ text: `LKRG: ALERT: BLOCK: UMH: Executing program name ${path}`, templateId: 'umh.block', level: 'ALERT', action: 'BLOCK', category: 'UMH', fields: { umh_path: path } }));
        const pu = parseCefStrict(n.toCef(u));
        const fp = expectExt(path, 1023);
        expect(pu.extension.get('filePath')).toBe(fp || undefined);
      }),
      { numRuns: 400 },
    );
  });

  it('hand-made documents: hostile header fields and labelled slots', () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, fc.string({ minLength: 0, maxLength: 3000 }), (sig, name, mod, long) => {
        const doc = { rule: { id: sig, name }, event: { severity: 7 }, lkrg: { module: { name: mod } }, message: long + mod };
        const line = toCef(doc);
        expect(line).not.toMatch(/[\r\n\0]/);
        const p = parseCefStrict(line);
        expect(p.signatureId).toBe(sig ? expectHdr(sig, 1023) : 'unknown');
        expect(p.name).toBe(name ? expectHdr(name, 512) : 'LKRG event');
        expect(p.severity).toBe('7');
        const want: Record<string, string> = {};
        const msg = expectExt(long + mod, 1023);
        if (msg) want.msg = msg;
        const m = expectExt(mod, 4000);
        if (m) Object.assign(want, { cs1Label: 'module', cs1: m });
        expect(Object.fromEntries(p.extension)).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });

  it('severity outside 0-10 or non-integer falls back to the default', () => {
    expect(parseCefStrict(toCef({ event: { severity: 11 } })).severity).toBe('5');
    expect(parseCefStrict(toCef({ event: { severity: 2.5 } })).severity).toBe('5');
  });
});

describe('CEF over the sample corpus', () => {
  const rows = readExpectedRows().filter((r) => r.message !== undefined);
  it('every line parses strictly; nsyslog-parser agrees on header and keys for lines without escapes', () => {
    let compared = 0;
    rows.forEach((r, i) => {
      const doc = n.toEcs(eventFromRow(r, i));
      const line = n.toCef(doc);
      const p = parseCefStrict(line);
      const ev = doc.event as Record<string, unknown>;
      expect(p.severity).toBe(String(ev.severity));
      expect(p.extension.get('act')).toBe(ev.action);
      if (line.includes('\\')) return;
      const ns = nsyslog(line);
      expect(ns.cef).toBeDefined();
      expect([ns.cef!.deviceVendor, ns.cef!.deviceProduct, ns.cef!.deviceVersion, ns.cef!.deviceEventClassID, ns.cef!.name, ns.cef!.severity]).toEqual([
        p.vendor, p.product, p.deviceVersion, p.signatureId, p.name, p.severity,
      ]);
      expect(Object.keys(ns.fields)).toEqual(p.keys);
      compared++;
    });
    expect(compared).toBeGreaterThan(300);
  });

  it('cn1/cn2 carry numeric expected/actual, flexString1/2 the others', () => {
    const cred = n.toCef(n.toEcs(makeEvent({ text: 'x', templateId: 'task.cred_corruption.uid', level: 'ALERT', action: 'DETECT', category: 'Task', fields: { expected: '1000', actual: '0', pid: '1', process_name: 'a' } })));
    const pc = parseCefStrict(cred);
    expect([pc.extension.get('cn1'), pc.extension.get('cn2'), pc.extension.get('flexString1')]).toEqual(['1000', '0', undefined]);
    expect([pc.extension.get('suid'), pc.extension.get('duid')]).toEqual(['1000', '0']);
    const sec = n.toCef(n.toEcs(makeEvent({ text: 'x', templateId: 'task.seccomp_mode.named', level: 'ALERT', action: 'DETECT', category: 'Task', fields: { expected: 'SECCOMP_MODE_FILTER', actual: 'SECCOMP_MODE_DISABLED', pid: '1', process_name: 'a' } })));
    const ps = parseCefStrict(sec);
    expect([ps.extension.get('cn1'), ps.extension.get('flexString1Label'), ps.extension.get('flexString1'), ps.extension.get('flexString2')]).toEqual([undefined, 'expected', 'SECCOMP_MODE_FILTER', 'SECCOMP_MODE_DISABLED']);
  });
});
