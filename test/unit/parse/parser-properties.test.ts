/** Property tests: the parser never throws and stays fast on adversarial input. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LkrgMessageParser, MAX_MATCH_LENGTH } from '../../../src/parse/lkrg-message-parser.js';
import type { ParsedMessage } from '../../../src/core/types.js';

const parser = new LkrgMessageParser();

const PREFIXES = [
  'LKRG: ALERT: DETECT: Task: ',
  'LKRG: ALERT: BLOCK: ',
  'LKRG: WATCH: ',
  'LKRG: STATE: Changing \'',
  'LKRG:',
  '[p_lkrg] ',
  '[p_lkrg] <Exploit Detection> process[',
  'Kernel panic - not syncing: ',
  'Kernel panic - not syncing: [p_lkrg] ',
  'Hidden module:',
  '\tName: [',
  '\tState: [',
  '--- ',
  ' ',
  '[  T1] ',
];

/** Fragments of real templates: the material an attacker would repeat to cause backtracking. */
const FRAGMENTS = [
  ', name ', ' vs. ', ' (have pid 1, name ', ') ', '] ', ' | ', '[', ']', '(', ')', '0x', '1', ' ',
  'for pid ', ' has different SECCOMP mode! [', ' vs ', '\n', '\r', '\t', '\u0000', '\u001b', '\ud800',
];

const adversarial = fc
  .tuple(
    fc.constantFrom(...PREFIXES),
    fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 60 }),
  )
  .map(([p, parts]) => p + parts.join(''));

function checkShape(r: ParsedMessage): void {
  expect(typeof r.isLkrg).toBe('boolean');
  expect(typeof r.body).toBe('string');
  expect(typeof r.fields).toBe('object');
  if (r.templateId === null) expect(r.isLkrg).toBe(false);
  for (const v of Object.values(r.fields)) expect(typeof v).toBe('string');
}

describe('parser properties', () => {
  it('never throws on arbitrary strings (binary units)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        checkShape(parser.parse(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on LKRG-looking adversarial strings', () => {
    fc.assert(
      fc.property(adversarial, (s) => {
        const r = parser.parse(s);
        checkShape(r);
        if (s.startsWith('LKRG:') || s.startsWith('[p_lkrg] ')) expect(r.isLkrg).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on non-string input from untyped callers', () => {
    for (const v of [undefined, null, 42, {}, []]) {
      expect(parser.parse(v as unknown as string).isLkrg).toBe(false);
    }
  });

  it('a process name never changes the fields before it', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), fc.string({ unit: 'binary', maxLength: 40 }), (e, a, pid, name) => {
        const r = parser.parse(
          `LKRG: ALERT: DETECT: Task: gid corruption (expected ${e} vs. actual ${a}) for pid ${pid}, name ${name}`,
        );
        expect(r.templateId).toBe('task.cred_corruption.gid');
        expect(r.fields.expected).toBe(String(e));
        expect(r.fields.actual).toBe(String(a));
        expect(r.fields.pid).toBe(String(pid));
        // trailing CR/LF are line-ending junk and dropped; everything else is the name
        expect(r.fields.process_name).toBe(name.replace(/[\r\n]+$/, ''));
      }),
      { numRuns: 2000 },
    );
  });

  it('stays linear: long adversarial lines parse fast', () => {
    let worst = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...PREFIXES),
        fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(MAX_MATCH_LENGTH - 20, MAX_MATCH_LENGTH, 1 << 20),
        (prefix, unit, size) => {
          const u = unit.join('');
          const s = (prefix + u.repeat(Math.ceil(size / u.length))).slice(0, size);
          const t0 = performance.now();
          parser.parse(s);
          worst = Math.max(worst, performance.now() - t0);
        },
      ),
      { numRuns: 300 },
    );
    expect(worst).toBeLessThan(2000); // backtracking guard, not a speed test: catastrophic cases take minutes
  });

  it('every template repeated against itself stays fast (no catastrophic backtracking)', () => {
    let worst = 0;
    let worstId = '';
    for (const t of parser.catalog.templates) {
      const parts = t.lineFormat.split('\n')[0]!.split(/%[a-z]+/);
      const head = parts[0]!;
      const fillers = [...parts.slice(1), 'a'];
      for (const f of fillers) {
        const unit = `${f}1`;
        const s = head + unit.repeat(Math.ceil((MAX_MATCH_LENGTH - head.length) / unit.length) - 1);
        const t0 = performance.now();
        parser.parse(s);
        const ms = performance.now() - t0;
        if (ms > worst) [worst, worstId] = [ms, t.id];
      }
    }
    expect(worst, worstId).toBeLessThan(1000); // backtracking guard (the shared CI machine is noisy)
  });

  it('a 1 MiB line of each kind parses in well under a second', () => {
    for (const prefix of PREFIXES) {
      const s = prefix + 'A'.repeat(1 << 20);
      const t0 = performance.now();
      parser.parse(s);
      expect(performance.now() - t0, JSON.stringify(prefix)).toBeLessThan(2000); // linear: ~1 ms here; exponential would never end
    }
  });
});
