import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink } from '../../../../outputs/file/file-sink.js';

describe('FileSink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-sink-'));

  it('writes each line once, UTF-8 encoded, and commits the byte length', () => {
    const path = join(dir, 'a.ndjson');
    const sink = new FileSink('file', path, 'ecs', true);
    sink.open(undefined);
    const batch1 = ['{"a":"plain"}', '{"name":"é ü 漢字"}', '{"emoji":"😀","ls":"\u2028"}'];
    const s1 = sink.write(batch1);
    const batch2 = ['x'.repeat(100_000), ''];
    const s2 = sink.write(batch2);
    sink.close();
    const expected = batch1.join('\n') + '\n' + batch2.join('\n') + '\n';
    expect(readFileSync(path, 'utf8')).toBe(expected);
    expect(s1.length).toBe(Buffer.byteLength(batch1.join('\n') + '\n'));
    expect(s2.length).toBe(Buffer.byteLength(expected));
    expect(statSync(path).size).toBe(s2.length);
  });

  it('cuts what was written after the last commit when reopened', () => {
    const path = join(dir, 'b.ndjson');
    const sink = new FileSink('file', path, 'ecs', false);
    sink.open(undefined);
    const committed = sink.write(['one', 'two']);
    sink.write(['three (never committed)']);
    sink.close();
    const again = new FileSink('file', path, 'ecs', false);
    again.open(committed);
    const s = again.write(['four']);
    again.close();
    expect(readFileSync(path, 'utf8')).toBe('one\ntwo\nfour\n');
    expect(s.length).toBe(Buffer.byteLength('one\ntwo\nfour\n'));
  });

  it('follows logrotate: after rename-and-create (or a delete) it writes to the file at its path; after copytruncate it appends from the new end', () => {
    const path = join(dir, 'rot.ndjson');
    const sink = new FileSink('file', path, 'ecs', false);
    sink.open(undefined);
    sink.write(['one', 'two']);
    renameSync(path, `${path}.1`); // rename-and-create: logrotate creates an empty file
    writeFileSync(path, '');
    const s1 = sink.write(['three']);
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('one\ntwo\n');
    expect(readFileSync(path, 'utf8')).toBe('three\n');
    expect(s1).toEqual({ path, length: 6 });
    renameSync(path, `${path}.2`); // rename without create (nocreate): the sink creates it
    const s2 = sink.write(['four']);
    expect(readFileSync(path, 'utf8')).toBe('four\n');
    expect(s2.length).toBe(5);
    rmSync(path); // deleted
    sink.write(['five']);
    expect(readFileSync(path, 'utf8')).toBe('five\n');
    truncateSync(path, 0); // copytruncate: no hole of NUL bytes, the length follows the file
    const s3 = sink.write(['six']);
    expect(readFileSync(path, 'utf8')).toBe('six\n');
    expect(s3.length).toBe(4);
    sink.close();
    // the committed state is the new file's: a restart keeps it whole
    const again = new FileSink('file', path, 'ecs', false);
    again.open(s3);
    again.write(['seven']);
    again.close();
    expect(readFileSync(path, 'utf8')).toBe('six\nseven\n');
  });
});
