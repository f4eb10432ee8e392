/**
 * File identity, head fingerprints, rotated-archive naming and chunked reading (plain or
 * gzip) shared by the logger-store and text sources.
 *
 * Identity = device + inode + a fingerprint of the first bytes of the (decompressed)
 * content. The fingerprint is what finds a file again after logrotate renamed or gzipped
 * it, and what detects inode reuse (reference/anchors.md §3.10).
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';

/** Bytes hashed for the head fingerprint. */
export const FINGERPRINT_BYTES = 256;

/** Default read size. */
export const CHUNK_BYTES = 1024 * 1024;

/** Saved identity of a file inside a position object. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  /** sha256 (hex, 32 chars) of the first `fpLen` decompressed bytes. */
  readonly fp: string;
  readonly fpLen: number;
}

/** Hash of a head buffer (first `len` bytes). */
export function fingerprint(head: Buffer, len = Math.min(head.length, FINGERPRINT_BYTES)): string {
  return createHash('sha256').update(head.subarray(0, len)).digest('hex').slice(0, 32);
}

/** True for names ending in .gz. */
export function isGzipName(p: string): boolean {
  return p.endsWith('.gz');
}

/**
 * Reads the first `n` decompressed bytes of a file (fewer when it is shorter). Used to
 * compute and check fingerprints. Errors: fs errors (ENOENT …) propagate.
 */
export async function readHead(p: string, n = FINGERPRINT_BYTES): Promise<Buffer> {
  if (!isGzipName(p)) {
    // synchronous: a few hundred bytes, where the round trip through libuv's pool would cost
    // 25-50 times the CPU of the calls themselves (many thousands of files in a replay)
    const fd = openSync(p, 'r');
    try {
      const b = Buffer.alloc(n);
      return b.subarray(0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  }
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of createReadStream(p).pipe(createGunzip()) as AsyncIterable<Buffer>) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
  } catch {
    // corrupt gzip: fingerprint whatever was decoded
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Identity of a file: its stats plus the head fingerprint. */
export async function identify(p: string, st?: Stats): Promise<FileIdentity> {
  const s = st ?? statSync(p);
  const head = await readHead(p);
  return { dev: s.dev, ino: s.ino, fp: fingerprint(head), fpLen: head.length };
}

/**
 * True when the file at `p` has the saved content head: the first `saved.fpLen` bytes hash
 * to `saved.fp`. An empty saved fingerprint matches any file of the same dev/inode.
 */
export async function headMatches(p: string, saved: FileIdentity): Promise<boolean> {
  const head = await readHead(p, saved.fpLen);
  if (head.length < saved.fpLen) return false;
  if (saved.fpLen === 0) return true;
  return fingerprint(head, saved.fpLen) === saved.fp;
}

/** A rotated-archive name split into its base and its age ordering. */
export interface RotatedName {
  /** Name without the rotation suffix and .gz (for logger stores: the client IPv4). */
  readonly base: string;
  /** 0 for the live file; otherwise `<base>.N` → N, dated → 0 with `date` set. */
  readonly n: number;
  readonly date?: string;
  readonly gz: boolean;
}

/** A dotted-quad IPv4 address as a whole name: lkrg-logger client files, rsyslog's %FROMHOST-IP% files. */
export const IPV4_NAME = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const NUM_RE = /^(.+)\.(\d+)$/;
const DATE_RE = /^(.+)-(\d{8}(?:\d{2,6})?)$/;

/**
 * Splits logrotate names: `<base>`, `<base>.1`, `<base>.2.gz`, `<base>-YYYYMMDD[.gz]`.
 * `isBase` tells which names are valid bases (e.g. IPv4 addresses, whose last octet would
 * otherwise look like a `.N` suffix); a name whose stem is itself a valid base is the live
 * file. Without a match the whole name (minus .gz) is the base.
 */
export function parseRotatedName(name: string, isBase: (s: string) => boolean = () => true): RotatedName {
  const gz = name.endsWith('.gz');
  const stem = gz ? name.slice(0, -3) : name;
  if (isBase(stem) && !NUM_RE.test(stem) && !DATE_RE.test(stem)) return { base: stem, n: 0, gz };
  let m = NUM_RE.exec(stem);
  if (m && isBase(m[1]!)) return { base: m[1]!, n: Number(m[2]), gz };
  m = DATE_RE.exec(stem);
  if (m && isBase(m[1]!)) return { base: m[1]!, n: 0, date: m[2]!, gz };
  return { base: stem, n: 0, gz };
}

/**
 * Sorts files of one base oldest first: `.N` archives by descending N, then dated
 * archives by ascending date, then the live file. Stable for equal keys.
 */
export function sortOldestFirst<T extends { rot: RotatedName }>(files: T[]): T[] {
  const key = (r: RotatedName): [number, number, string] =>
    r.n > 0 ? [0, -r.n, ''] : r.date ? [1, 0, r.date] : [2, 0, ''];
  return files.sort((a, b) => {
    const ka = key(a.rot);
    const kb = key(b.rot);
    return ka[0] - kb[0] || ka[1] - kb[1] || (ka[2] < kb[2] ? -1 : ka[2] > kb[2] ? 1 : 0);
  });
}

/** Smallest read buffer of {@link readChunks} (a file larger than it gets up to the chunk size). */
const SMALL_CHUNK_BYTES = 64 * 1024;

/**
 * Yields decompressed chunks of `p` starting at decompressed offset `from`. Plain files are
 * read with positioned reads of `chunkBytes`; gzip files are streamed through zlib and the
 * first `from` bytes discarded. `stopAt` (plain files only) bounds the read to the size seen
 * when reading started. A plain-file chunk is only valid until the iteration after the next
 * (its memory is reused): consumers copy what they keep. Errors: fs and zlib errors
 * propagate to the caller.
 */
export async function* readChunks(p: string, from: number, chunkBytes = CHUNK_BYTES, signal?: AbortSignal): AsyncGenerator<Buffer> {
  // buffers no larger than the file needs: replaying a fleet's archives reads tens of thousands
  // of small files, and two chunk-sized buffers each made garbage collection most of the work
  let size: number | undefined;
  try {
    size = statSync(p).size;
  } catch {
    size = undefined; // open() below says why
  }
  const fit = (n: number): number => (size === undefined ? chunkBytes : Math.min(chunkBytes, Math.max(SMALL_CHUNK_BYTES, n)));
  if (isGzipName(p)) {
    let skip = from;
    for await (const c of createReadStream(p, { highWaterMark: fit(size ?? 0) }).pipe(createGunzip({ chunkSize: 64 * 1024 })) as AsyncIterable<Buffer>) {
      if (signal?.aborted) return;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      yield skip > 0 ? c.subarray(skip) : c;
      skip = 0;
    }
    return;
  }
  if (size !== undefined && size - from < SMALL_CHUNK_BYTES) {
    // a small file (most rotated files of a quiet host): read in place, see readHead
    // (the first buffer one byte larger than what is left: a short read is the end, no second
    // read needed; a file that grew meanwhile is read on, a fresh buffer per read)
    const fd = openSync(p, 'r');
    try {
      let pos = from;
      let want = Math.max(1, size - from + 1); // (a saved offset past the end: read finds nothing)
      for (;;) {
        if (signal?.aborted) return;
        const b = Buffer.allocUnsafe(want);
        const n = readSync(fd, b, 0, want, pos);
        if (n > 0) yield b.subarray(0, n);
        if (n < want) return;
        pos += n;
        want = SMALL_CHUNK_BYTES;
      }
    } finally {
      closeSync(fd);
    }
  }
  const fh = await open(p, 'r');
  // two buffers used in turn: a chunk stays valid until the consumer asks for the one after
  // the next (line splitters copy what they keep), and no fresh memory is faulted in per read
  const bytes = fit((size ?? 0) - from + 1);
  const bufs = [Buffer.allocUnsafe(bytes), Buffer.allocUnsafe(bytes)];
  let turn = 0;
  try {
    let pos = from;
    for (;;) {
      if (signal?.aborted) return;
      const b = bufs[(turn ^= 1)]!;
      const { bytesRead } = await fh.read(b, 0, b.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield b.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Lists a directory's regular files (names), sorted; missing directory → ConfigError-free []. */
export async function listFiles(dir: string): Promise<string[]> {
  const ents = await readdir(dir, { withFileTypes: true });
  // path.join(dir, name) for every name, the directory normalized once instead of once per
  // name (thousands on a log server, at every poll): a name from readdir has no separator and
  // is never `.` or `..`, so the join is the normalized directory's prefix plus the name
  const prefix = path.join(dir, 'x').slice(0, -1);
  const out: string[] = [];
  for (const e of ents) if (e.isFile()) out.push(prefix + e.name);
  return out.sort();
}
