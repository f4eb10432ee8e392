/**
 * The WebAssembly store line scanner against the JavaScript it stands in for:
 * - line by line: it accepts exactly the lines scanLoggerFields accepts, with the same field
 *   values, and marks as candidates exactly the messages LkrgByteFilter passes;
 * - whole stores: the logger-store source gives the same batches (records, malformed reports,
 *   positions with tracker state, byte counts) with and without it, on stores with gaps,
 *   resends, reboots, several boot streams, malformed and overlong lines, cut at small batch
 *   and chunk sizes so runs, carries and the fast path's budget all meet batch boundaries.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordBatch } from '../../../src/core/types.js';
import { newLoggerFields, scanLoggerFields } from '../../../src/parse/containers/logger-record.js';
import { LkrgByteFilter, mayBeLkrg } from '../../../src/parse/lkrg-prefilter.js';
import { createSource } from '../../../src/sources/create-source.js';
import { LoggerLinePump } from '../../../src/sources/logger-line-pump.js';
import { LINE_CANDIDATE, LINE_CONTINUATION, LINE_OK, LoggerLineScanner, ST_ENABLED, ST_FAST_LINES, ST_MAX_ROWS } from '../../../src/sources/logger-line-scanner.js';
import { readAll, tmp } from './helpers.js';

const T = tmp('lkrg-scan-');
afterAll(() => T.done());

const scanner = LoggerLineScanner.create(1 << 16);

/** Scans `lines` (joined with newlines, placed at `pad` in the buffer) without the fast path. */
function scanAll(lines: readonly Buffer[], pad = 0): { buf: Buffer; rows: Array<Record<string, number>> } {
  const buf = Buffer.concat([Buffer.alloc(pad, 0x41), ...lines.flatMap((l) => [l, Buffer.from('\n')])]);
  const sc = scanner!;
  sc.load(buf, pad, buf.length);
  sc.state[ST_ENABLED] = 0;
  sc.state[ST_MAX_ROWS] = sc.capacity;
  const rows: Array<Record<string, number>> = [];
  while (sc.scan()) {
    for (let k = 0; k < sc.count; k++) {
      rows.push({
        start: sc.start[k]!, end: sc.end[k]!, status: sc.status[k]!, msg: sc.msg[k]!, prio: sc.prio[k]!,
        recv: sc.recvUs[k]!, send: sc.sendUs[k]!, sendUp: sc.sendUptimeUs[k]!, seq: sc.seq[k]!, up: sc.eventUptimeUs[k]!,
      });
    }
  }
  return { buf, rows };
}

/** What the JavaScript scanner and byte filter say about each line. */
function checkAgainstJs(lines: readonly Buffer[], pad: number): void {
  const { buf, rows } = scanAll(lines, pad);
  expect(rows).toHaveLength(lines.length);
  const f = newLoggerFields();
  let at = pad;
  for (let i = 0; i < lines.length; i++) {
    const r = rows[i]!;
    const end = at + lines[i]!.length;
    expect([r.start, r.end]).toEqual([at, end]);
    const err = at === end ? 'empty' : scanLoggerFields(buf, at, end, f);
    expect({ line: lines[i]!.toString('latin1'), ok: (r.status & LINE_OK) !== 0 }).toEqual({ line: lines[i]!.toString('latin1'), ok: err === null });
    if (err === null) {
      expect([r.recv, r.send, r.sendUp, r.prio, r.seq, r.up, r.msg]).toEqual([f.recvUs, f.sendUs, f.sendUptimeUs, f.prio, f.seq, f.eventUptimeUs, f.msgStart]);
      expect((r.status & LINE_CONTINUATION) !== 0).toBe(f.flag === 'c');
      expect({ line: lines[i]!.toString('latin1'), candidate: (r.status & LINE_CANDIDATE) !== 0 }).toEqual({
        line: lines[i]!.toString('latin1'),
        candidate: new LkrgByteFilter().test(buf, f.msgStart, end),
      });
    }
    at = end + 1;
  }
}

const digits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`)),
    fc.constantFrom('0', '9007199254740991', '9007199254740992', '9999999999999999', '10000000000000000', '1023', '1024', '00000000000000001'),
  );
const WORDS = ['LKRG', 'lkrg', 'LKR', 'LK', 'lK', 'Kernel panic', 'Kernel pani', 'Kernel\\x20panic', 'Hidden module', 'HIDDEN MODULE', 'Hidden modul', 'Hidden\\x09module', '---', '--', 'name[', 'name', 'nam\\x65[', ' ', '\\x09', '\\', ',', ';', 'L', 'K', 'RG', 'x'];
const message = fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.string({ unit: 'binary-ascii', maxLength: 6 })), { maxLength: 12 }).map((a) => a.join(''));
const header = fc.tuple(digits(1, 17), digits(1, 17), digits(1, 17), digits(1, 4), digits(1, 17), digits(1, 17), fc.constantFrom('-', 'c', 'x', ''), fc.constantFrom(';', ',', ''));
/** A store line: usually well formed, sometimes cut or bent anywhere. */
const storeLine = fc
  .tuple(header, message, fc.nat(200), fc.constantFrom('keep', 'keep', 'keep', 'cut', 'junk'))
  .map(([[a, b, c, d, e, f, flag, semi], msg, cut, how]) => {
    let s = `${a},${b},${c},${d},${e},${f},${flag}${semi}${msg}`;
    if (how === 'cut') s = s.slice(0, cut % (s.length + 1));
    if (how === 'junk') s = s.slice(0, cut % (s.length + 1)) + 'x,;' + s.slice(cut % (s.length + 1));
    return Buffer.from(s.replaceAll('\n', ' '), 'latin1');
  });

describe('WebAssembly store line scanner', () => {
  it('loads (the build produced dist/wasm/logger-line-scan.wasm)', () => {
    expect(scanner).not.toBeNull();
  });

  it('accepts, reads and marks lines exactly as scanLoggerFields and LkrgByteFilter do', () => {
    fc.assert(
      fc.property(fc.array(storeLine, { minLength: 1, maxLength: 40 }), fc.nat(40), (lines, pad) => checkAgainstJs(lines, pad)),
      { numRuns: 400 },
    );
  });

  it('edge cases: empty lines, 16 and 17 digit fields, 2^53, prio 1023/1024, words at the end of a line', () => {
    const lines = [
      '', ',', '1,2,3,4,5,6,-;', '1,2,3,4,5,6,-', '1,2,3,4,5,6,c;x', '1,2,3,4,5,6,-;LKRG', '1,2,3,4,5,6,-;xLKR', '1,2,3,4,5,6,-;lkrg',
      '9999999999999999,1,1,1,1,1,-;m', '99999999999999999,1,1,1,1,1,-;m', '9007199254740991,9007199254740992,1,1,1,1,-;m',
      '1,1,1,1023,1,1,-;m', '1,1,1,1024,1,1,-;m', '1,1,1,6,1,1,-;Kernel panic', '1,1,1,6,1,1,-;Kernel pani', '1,1,1,6,1,1,-;Kernel\\x20panic',
      '1,1,1,6,1,1,-;HIDDEN MODULE', '1,1,1,6,1,1,-;Hidden module: x', '1,1,1,6,1,1,-;---', '1,1,1,6,1,1,-;--', '1,1,1,6,1,1,-;name[', '1,1,1,6,1,1,-;name',
      '1,,1,6,1,1,-;m', '1a,1,1,6,1,1,-;m', ' 1,1,1,6,1,1,-;m', '1,1,1,6,1,1,-; frame', '1,1,1,6,1,1,-;\\x09Name: [x]',
      `1,1,1,6,1,1,-;${'y'.repeat(70)}LKRG`, `1,1,1,6,1,1,-;${'y'.repeat(77)}lkrg`, `${'1'.repeat(16)},${'2'.repeat(16)},${'3'.repeat(16)},1023,${'4'.repeat(16)},${'5'.repeat(16)},c;m`,
    ].map((l) => Buffer.from(l, 'latin1'));
    for (let pad = 0; pad < 17; pad++) checkAgainstJs(lines, pad);
  });
});

// ------------------------------------------------------------------ whole stores

interface Client { ip: string; lines: string[] }

/** A store client file from a list of operations on one or two simulated kernels. */
const storeOps = fc.array(
  fc.oneof(
    { weight: 30, arbitrary: fc.tuple(fc.constant('plain' as const), fc.nat(3)) },
    { weight: 6, arbitrary: fc.tuple(fc.constant('lkrg' as const), fc.nat(3)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('gap' as const), fc.integer({ min: 2, max: 9 })) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('resend' as const), fc.integer({ min: 1, max: 40 })) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('reboot' as const), fc.nat(3)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('other-stream' as const), fc.nat(3)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('malformed' as const), fc.nat(3)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('long' as const), fc.nat(3)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('cont' as const), fc.nat(3)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('clock-step' as const), fc.nat(3)) },
  ),
  { minLength: 1, maxLength: 400 },
);

function buildClient(ip: string, ops: ReadonlyArray<readonly [string, number]>): Client {
  const kernels = [
    { bootWall: 1_728_000_000_000_000, up: 5_000_000, seq: 100 },
    { bootWall: 1_728_000_500_000_000, up: 9_000_000, seq: 7000 },
  ];
  let cur = 0;
  const lines: string[] = [];
  const texts = ['eth0: link up', 'LKRG: ALERT: DETECT: Task: process[1234 | sh] has different cred', 'nf_conntrack: table full', 'Kernel panic - not syncing: x', 'name[x] module', 'audit: type=1400', ' frame+0x1/0x2', '[p_lkrg] ALERT: x'];
  const emit = (flag = '-', text?: string, k = kernels[cur]!): void => {
    k.seq++;
    k.up += 1000 + (k.seq % 7) * 100;
    const send = k.bootWall + k.up + 120;
    lines.push(`${send + 2000},${send},${k.up + 120},6,${k.seq},${k.up},${flag};${text ?? texts[k.seq % 3 === 0 ? 2 : 0]}`);
  };
  for (const [op, n] of ops) {
    const k = kernels[cur]!;
    switch (op) {
      case 'plain': emit('-', texts[[0, 2, 5, 6][n]!]); break;
      case 'lkrg': emit('-', texts[[1, 3, 4, 7][n]!]); break;
      case 'gap': k.seq += n; emit(); break;
      case 'resend': lines.push(...lines.slice(Math.max(0, lines.length - n))); break;
      case 'reboot': k.bootWall += k.up + 60_000_000; k.up = 1_000_000; k.seq = n; emit(); break;
      case 'other-stream': cur = 1 - cur; emit(); break;
      case 'malformed': lines.push(['', 'garbage', '1,2,3', `1,2,3,4,5,6,x;y`][n]!); break;
      case 'long': emit('-', 'x'.repeat(300 + n * 100)); break;
      case 'cont': emit('c', '  continued'); break;
      case 'clock-step': k.bootWall += 30_000_000 * (n + 1); emit(); break;
    }
  }
  return { ip, lines };
}

async function batches(dir: string, opts: Record<string, unknown>, lineScanner: boolean): Promise<RecordBatch[]> {
  // the prefilters as the app sets them (source-factory): only LKRG candidates become records
  const prefilterBytes = (): ((buf: Buffer, start: number, end: number) => boolean) => {
    const f = new LkrgByteFilter();
    return (buf, start, end) => f.test(buf, start, end);
  };
  const src = createSource({ kind: 'logger-store', paths: [dir], mode: 'replay', lineScanner, maxLineBytes: 512, prefilter: mayBeLkrg, prefilterBytes, ...opts });
  return (await readAll(src)).batches;
}

let dirs = 0;
describe('logger-store source with and without the line scanner', () => {
  it('gives the same batches on generated stores, at small batch and chunk sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        storeOps,
        storeOps,
        fc.record({
          maxRecords: fc.constantFrom(3, 50, 4096),
          maxBytes: fc.constantFrom(700, 5000, 1 << 20),
          chunkBytes: fc.constantFrom(600, 4096, 1 << 16),
          includeNonLkrg: fc.boolean(),
        }),
        async (a, b, opts) => {
          const dir = path.join(T.dir, `s${dirs++}`);
          mkdirSync(dir);
          for (const c of [buildClient('10.1.0.1', a), buildClient('10.1.0.2', b)]) writeFileSync(path.join(dir, c.ip), c.lines.join('\n') + '\n');
          const js = await batches(dir, opts, false);
          const wasm = await batches(dir, opts, true);
          expect(JSON.parse(JSON.stringify(wasm))).toEqual(JSON.parse(JSON.stringify(js)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gives the same duplicate window after runs longer than the ring: resends across them are still dropped', async () => {
    const dir = path.join(T.dir, `s${dirs++}`);
    mkdirSync(dir);
    const ops: Array<readonly [string, number]> = [];
    for (const run of [63, 64, 65, 97, 150, 31, 200]) {
      for (let i = 0; i < run; i++) ops.push(['plain', 0]);
      ops.push(['resend', 40], ['lkrg', 0]);
    }
    writeFileSync(path.join(dir, '10.1.0.4'), buildClient('10.1.0.4', ops).lines.join('\n') + '\n');
    const js = await batches(dir, {}, false);
    const wasm = await batches(dir, {}, true);
    expect(js.flatMap((x) => x.records).filter((r) => r.notice?.type === 'duplicate').length).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(wasm))).toEqual(JSON.parse(JSON.stringify(js)));
  });

  it('the fast path consumes every ordinary line of a one-stream store in WebAssembly', async () => {
    const dir = path.join(T.dir, `s${dirs++}`);
    mkdirSync(dir);
    const ops = Array.from({ length: 5000 }, (_, i) => [i % 50 === 0 ? 'lkrg' : 'plain', 0] as const);
    writeFileSync(path.join(dir, '10.1.0.3'), buildClient('10.1.0.3', ops).lines.join('\n') + '\n');
    const js = await batches(dir, {}, false);
    let fast = 0;
    const proto = LoggerLinePump.prototype as unknown as { step(sc: LoggerLineScanner): boolean };
    const step = proto.step;
    proto.step = function (this: unknown, sc: LoggerLineScanner): boolean {
      const more = step.call(this, sc);
      if (more) fast += sc.state[ST_FAST_LINES]!;
      return more;
    };
    let wasm: RecordBatch[];
    try {
      wasm = await batches(dir, {}, true);
    } finally {
      proto.step = step;
    }
    expect(wasm.flatMap((x) => x.records)).toHaveLength(100);
    // all but the LKRG lines (the first line, which starts the stream, is one of them)
    expect(fast).toBe(5000 - 100);
    expect(JSON.parse(JSON.stringify(wasm))).toEqual(JSON.parse(JSON.stringify(js)));
  });
});
