/**
 * A strict CEF parser for tests only (formats.md §3.2, §3.7). Rejects what a lenient parser
 * would guess at: raw CR/LF/NUL anywhere, unknown escapes, unescaped `=` inside a value,
 * duplicate keys, fewer than 7 header fields. Used to round-trip the encoder's output.
 */

/** A parsed CEF line. Header values and extension values are unescaped. */
export interface CefParsed {
  readonly version: string;
  readonly vendor: string;
  readonly product: string;
  readonly deviceVersion: string;
  readonly signatureId: string;
  readonly name: string;
  readonly severity: string;
  /** Extension keys in line order, values unescaped. */
  readonly extension: ReadonlyMap<string, string>;
  readonly keys: readonly string[];
}

/** Thrown for any line that is not strictly valid CEF. */
export class CefSyntaxError extends Error {}

const KEY_RE = /^[A-Za-z0-9_]+$/;

/** Parses one line; throws CefSyntaxError when it is not strict CEF. */
export function parseCefStrict(line: string): CefParsed {
  if (/[\r\n\0]/.test(line)) throw new CefSyntaxError('raw CR, LF or NUL in line');
  if (!line.startsWith('CEF:')) throw new CefSyntaxError('does not start with CEF:');
  const header: string[] = [];
  let cur = '';
  let i = 4;
  while (header.length < 7) {
    if (i >= line.length) throw new CefSyntaxError(`only ${header.length} header fields`);
    const ch = line[i]!;
    if (ch === '\\') {
      const nx = line[i + 1];
      if (nx !== '\\' && nx !== '|') throw new CefSyntaxError(`bad header escape \\${nx ?? ''} at ${i}`);
      cur += nx;
      i += 2;
    } else if (ch === '|') {
      header.push(cur);
      cur = '';
      i++;
    } else {
      cur += ch;
      i++;
    }
  }
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = header as [string, string, string, string, string, string, string];
  if (!/^\d+$/.test(version)) throw new CefSyntaxError('bad version');
  const ext = line.slice(i);
  const extension = new Map<string, string>();
  const keys: string[] = [];
  if (ext.length) {
    // keys start at the beginning or after a space and end at the first unescaped '='
    let pos = 0;
    const readKey = (): string => {
      const eq = ext.indexOf('=', pos);
      if (eq < 0) throw new CefSyntaxError(`no '=' after position ${pos}`);
      const key = ext.slice(pos, eq);
      if (!KEY_RE.test(key)) throw new CefSyntaxError(`bad key '${key}'`);
      pos = eq + 1;
      return key;
    };
    let key = readKey();
    let val = '';
    while (true) {
      if (pos >= ext.length) {
        if (extension.has(key)) throw new CefSyntaxError(`duplicate key ${key}`);
        extension.set(key, val);
        keys.push(key);
        break;
      }
      const ch = ext[pos]!;
      if (ch === '\\') {
        const nx = ext[pos + 1];
        const map: Record<string, string> = { '\\': '\\', '=': '=', n: '\n', r: '\r' };
        if (nx === undefined || !(nx in map)) throw new CefSyntaxError(`bad extension escape \\${nx ?? ''}`);
        val += map[nx];
        pos += 2;
      } else if (ch === '=') {
        throw new CefSyntaxError(`unescaped '=' in value of ${key}`);
      } else if (ch === ' ' && /^[A-Za-z0-9_]+=/.test(ext.slice(pos + 1))) {
        if (extension.has(key)) throw new CefSyntaxError(`duplicate key ${key}`);
        extension.set(key, val);
        keys.push(key);
        pos++;
        key = readKey();
        val = '';
      } else {
        val += ch;
        pos++;
      }
    }
  }
  return { version, vendor, product, deviceVersion, signatureId, name, severity, extension, keys };
}
