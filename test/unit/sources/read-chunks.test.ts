import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readChunks } from '../../../src/sources/file-identity.js';
import { tmp } from './helpers.js';

const T = tmp('lkrg-chunks-');
afterAll(() => T.done());

async function all(p: string, from: number, chunkBytes?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  // copies: a plain-file chunk is valid only until the iteration after the next
  for await (const c of readChunks(p, from, chunkBytes)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('readChunks', () => {
  it('reads small files (in place) and large ones (in chunks) from any offset, gzip too; an offset past the end reads nothing', async () => {
    const small = path.join(T.dir, 'small');
    const large = path.join(T.dir, 'large');
    const gz = path.join(T.dir, 'large.gz');
    const s = Buffer.from('line one\nline two\n');
    const l = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `record ${i}\n`).join(''));
    writeFileSync(small, s);
    writeFileSync(large, l);
    writeFileSync(gz, gzipSync(l));
    expect(l.length).toBeGreaterThan(64 * 1024); // past the in-place size
    expect(await all(small, 0)).toEqual(s);
    expect(await all(small, 5)).toEqual(s.subarray(5));
    expect(await all(small, s.length)).toEqual(Buffer.alloc(0));
    expect(await all(small, s.length + 100)).toEqual(Buffer.alloc(0)); // a saved offset past a file that shrank
    expect(await all(large, 0)).toEqual(l);
    expect(await all(large, 70_000, 16 * 1024)).toEqual(l.subarray(70_000));
    expect(await all(gz, 0)).toEqual(l);
    expect(await all(gz, 1234)).toEqual(l.subarray(1234));
  });
});
