/**
 * The cheap test sources apply to every kernel line before building a record: true for
 * anything that could be an LKRG message or a companion line of one (indented continuation,
 * stack frames, `Hidden module:`, `Kernel panic - not syncing:`, legacy `name[...]` details).
 * False positives only cost a parse; a false negative would lose a line, so it is generous.
 * Called once per input line on the hot path: a few charCode checks and two indexOf calls.
 */
export function mayBeLkrg(text: string): boolean {
  if (text.length === 0) return false;
  const c = text.charCodeAt(0);
  if (c === 32 || c === 9) return true; // continuation lines, stack frames, \tName: [...]
  if (text.indexOf('LKRG') !== -1 || text.indexOf('lkrg') !== -1) return true;
  switch (c) {
    case 75: // K
      return text.startsWith('Kernel panic');
    case 72: // H
      return text.startsWith('Hidden module') || text.startsWith('HIDDEN MODULE');
    case 45: // -
      return text.startsWith('---');
    case 110: // n
      return text.startsWith('name[');
    default:
      return false;
  }
}

/**
 * The byte-level twin of {@link mayBeLkrg} for sources that see raw (still escaped) lines:
 * tests `buf[start,end)` without decoding it, as strictly as it can without missing a line
 * mayBeLkrg would pass. The WebAssembly store line scanner (src/wasm/logger-line-scan.ts)
 * applies the same rule; test/unit/sources/logger-line-scanner.test.ts holds them equal. It remembers, per buffer, where the next `LKRG`
 * and `lkrg` occur, so a run of ordinary kernel lines costs one scan of the buffer in total,
 * not one per line. One instance per reader (it is stateful); never throws.
 */
export class LkrgByteFilter {
  private buf: Buffer | undefined;
  private nextUpper = -1;
  private nextLower = -1;

  test(buf: Buffer, start: number, end: number): boolean {
    if (end <= start) return false;
    const c = buf[start]!;
    // continuation lines, frames, \tName: [...] (escaped as \x09 in the store)
    if (c === 32 || c === 9 || c === 92) return true;
    // the words mayBeLkrg looks for at the start; an escape within them could hide one, so
    // a backslash there passes too (the decoded text is then tested)
    switch (c) {
      case 75: // K
        if (startsWithRaw(buf, start, end, 'Kernel panic')) return true;
        break;
      case 72: // H
        if (startsWithRaw(buf, start, end, 'Hidden module') || startsWithRaw(buf, start, end, 'HIDDEN MODULE')) return true;
        break;
      case 45: // -
        if (startsWithRaw(buf, start, end, '---')) return true;
        break;
      case 110: // n
        if (startsWithRaw(buf, start, end, 'name[')) return true;
        break;
    }
    if (buf !== this.buf) {
      this.buf = buf;
      this.nextUpper = -1;
      this.nextLower = -1;
    }
    if (this.nextUpper < start) this.nextUpper = indexOrEnd(buf, 'LKRG', start);
    if (this.nextUpper < end) return true;
    if (this.nextLower < start) this.nextLower = indexOrEnd(buf, 'lkrg', start);
    return this.nextLower < end;
  }
}

/**
 * True when the raw bytes buf[start, end) start with the ASCII `word`, or hold a backslash
 * (an escape) before the word's length: a decoded text could then start with it.
 */
function startsWithRaw(buf: Buffer, start: number, end: number, word: string): boolean {
  const n = Math.min(end - start, word.length);
  let i = 0;
  for (; i < n; i++) {
    const b = buf[start + i]!;
    if (b === 92) return true;
    if (b !== word.charCodeAt(i)) break;
  }
  if (i === word.length) return true;
  // a mismatch or the end: an escape may still follow within the word's length
  for (let j = i; j < n; j++) if (buf[start + j] === 92) return true;
  return false;
}

function indexOrEnd(buf: Buffer, needle: string, from: number): number {
  const i = buf.indexOf(needle, from, 'latin1');
  return i < 0 ? buf.length : i;
}
