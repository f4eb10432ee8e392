import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/parse/sha256-hex.js';

const reference = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('sha256Hex', () => {
  it('equals createHash(sha256).update(s).digest(hex) (event and boot id keys, odd text)', () => {
    for (const s of ['', 'seq\u000010.0.0.1\u0000a568f4b89ce13ebb684b8226b6444528\u00001065', 'pos\u0000logger:/x/10.0.0.1\u000012345', 'hôst\u0000\ud83d\ude00', 'lone \ud800 surrogate \udfff', '10.77.0.1/1728000000']) {
      expect(sha256Hex(s)).toBe(reference(s));
    }
  });
  it('equals createHash for any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => sha256Hex(s) === reference(s)), { numRuns: 300 });
  });
});
