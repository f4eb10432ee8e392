/**
 * Byte-level helpers shared by the container parsers: `\xNN` escape decoding (as written by
 * /dev/kmsg, lkrg-logger and util-linux dmesg), lossless UTF-8 decoding and the reverse
 * escaping used for `RawRecord.original` when a message is not printable text.
 */

import { isUtf8 } from 'node:buffer';

const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i;
    t[97 + i] = 10 + i;
  }
  return t;
})();

/**
 * Decodes `\xNN` escapes in `buf[start, end)` to bytes, then decodes the bytes as UTF-8
 * (invalid sequences become U+FFFD; nothing is dropped). Bytes that are not part of an
 * escape are taken as they are. Called by the logger-record and text-line parsers for
 * every message; never throws.
 */
export function decodeEscapedBytes(buf: Buffer, start: number, end: number): string {
  // bounded search: buf may be a large read chunk holding many lines
  let i = start;
  while (i < end && buf[i] !== 92) i++;
  if (i === end) return buf.toString('utf8', start, end);
  const out = Buffer.allocUnsafe(end - start);
  let o = 0;
  for (let k = start; k < i; k++) out[o++] = buf[k]!;
  while (i < end) {
    const c = buf[i]!;
    if (c === 92 && i + 3 < end && buf[i + 1] === 120) {
      const h = HEX[buf[i + 2]!]!;
      const l = HEX[buf[i + 3]!]!;
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 4;
        continue;
      }
    }
    out[o++] = c;
    i++;
  }
  return out.toString('utf8', 0, o);
}

/** String convenience over {@link decodeEscapedBytes} (the string is taken as UTF-8). */
export function decodeEscapes(s: string): string {
  if (s.indexOf('\\x') < 0) return s;
  const b = Buffer.from(s, 'utf8');
  return decodeEscapedBytes(b, 0, b.length);
}

/**
 * Escapes bytes the way /dev/kmsg does: bytes < 0x20, >= 0x7f and the backslash become
 * `\xNN`, printable ASCII stays. Used for `original` of journald byte-array messages and
 * for the `raw` of malformed binary input. Never throws.
 */
export function escapeBytes(buf: Uint8Array, start = 0, end = buf.length): string {
  let out = '';
  let runStart = start;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c >= 0x7f || c === 92) {
      if (i > runStart) out += Buffer.from(buf.buffer, buf.byteOffset + runStart, i - runStart).toString('latin1');
      out += '\\x' + (c < 16 ? '0' : '') + c.toString(16);
      runStart = i + 1;
    }
  }
  if (end > runStart) out += Buffer.from(buf.buffer, buf.byteOffset + runStart, end - runStart).toString('latin1');
  return out;
}

/** True when `buf[start,end)` is valid UTF-8 (no replacement needed). */
export function isValidUtf8(buf: Buffer, start = 0, end = buf.length): boolean {
  return isUtf8(buf.subarray(start, end));
}

/**
 * Text for a malformed-record `raw` field: UTF-8 when valid, otherwise kmsg-style escaped,
 * cut to `max` bytes (default 4096) with a marker. Called by every source.
 */
export function rawForReport(buf: Buffer, start: number, end: number, max = 4096): string {
  const cut = end - start > max;
  const e = cut ? start + max : end;
  const s = isValidUtf8(buf, start, e) ? buf.toString('utf8', start, e) : escapeBytes(buf, start, e);
  return cut ? `${s}…[${end - start} bytes]` : s;
}
