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
