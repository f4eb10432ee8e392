import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LkrgByteFilter, mayBeLkrg } from '../../../src/parse/lkrg-prefilter.js';
import { LkrgMessageParser } from '../../../src/parse/lkrg-message-parser.js';

const samples = join(process.cwd(), '..', 'shared', 'samples');

/** /dev/kmsg escaping, as lkrg-logger stores the message. */
function kmsgEscape(s: string): Buffer {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b < 0x20 || b >= 0x7f || b === 0x5c ? '\\x' + b.toString(16).padStart(2, '0') : String.fromCharCode(b);
  return Buffer.from(out, 'latin1');
}

describe('LKRG prefilters', () => {
  const parser = new LkrgMessageParser();
  const lines = readFileSync(join(samples, 'samples-kernel-lines.txt'), 'utf8').split('\n').filter(Boolean);

  it('let every LKRG and companion line of the samples through, text and bytes alike', () => {
    let lkrg = 0;
    for (const line of lines) {
      const p = parser.parse(line);
      if (p.isLkrg || p.style === 'raw') {
        lkrg++;
        expect(mayBeLkrg(line), line).toBe(true);
        const buf = kmsgEscape(line);
        expect(new LkrgByteFilter().test(buf, 0, buf.length), line).toBe(true);
      }
    }
    expect(lkrg).toBeGreaterThan(200);
  });

  it('drop ordinary kernel lines', () => {
    for (const l of [
      'audit: type=1400 audit(1.2:3): apparmor="STATUS"', 'EXT4-fs (vda1): mounted', 'TCP: request_sock_TCP: Possible SYN flooding',
      // first letters of the companion words, without the words
      'nf_conntrack: table full, dropping packet', 'Key type id_resolver registered', 'Hardware name: QEMU', '-- Reboot --',
    ]) {
      expect(mayBeLkrg(l)).toBe(false);
      const b = Buffer.from(l);
      expect(new LkrgByteFilter().test(b, 0, b.length)).toBe(false);
    }
  });

  it('the byte filter is never stricter than the text filter, in one buffer of many lines', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom('LKRG: ALERT: x', ' frame', 'lkrg: y', 'Kernel panic - not syncing: z', '\tName: [m]', 'Hidden module: x', 'HIDDEN MODULE:', '--- STACK', 'name[x]', 'Kernel pani', 'nam', '-- x', 'Hidden\tmodule')), { maxLength: 30 }), (msgs) => {
        const parts = msgs.map((m) => kmsgEscape(m.replace(/\n/g, ' ')));
        const buf = Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')]));
        const f = new LkrgByteFilter();
        let off = 0;
        parts.forEach((p, i) => {
          const text = msgs[i]!.replace(/\n/g, ' ');
          if (mayBeLkrg(text)) expect(f.test(buf, off, off + p.length)).toBe(true);
          off += p.length + 1;
        });
      }),
    );
  });
});
