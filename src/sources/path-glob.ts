/**
 * Path patterns of the text source: `*` (any run of characters but `/`) and `?` (one
 * character) in any path segment, e.g. `/var/log/remote/*\/kern.log` for a central rsyslog
 * server that writes one directory per host. The text source calls {@link expandPattern} at
 * every poll in live mode (so directories and files created later are found) and once in
 * replay mode. Names starting with `.` match only a pattern segment that starts with `.`.
 */
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';

/** True when `p` holds a wildcard (`*` or `?`). */
export function hasWildcard(p: string): boolean {
  return /[*?]/.test(p);
}

/** The regex one pattern segment stands for. */
export function segmentRegex(segment: string): RegExp {
  let re = '';
  for (const ch of segment) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The existing paths (files and directories) an absolute pattern matches, sorted. A pattern
 * without wildcards yields itself when it exists. Unreadable directories on the way match
 * nothing (never throws for them).
 */
export async function expandPattern(pattern: string): Promise<string[]> {
  const abs = path.resolve(pattern);
  if (!hasWildcard(abs)) return (await stat(abs).then(() => true, () => false)) ? [abs] : [];
  const root = path.parse(abs).root;
  const segments = abs.slice(root.length).split(path.sep).filter((s) => s.length > 0);
  let current = [root];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const next: string[] = [];
    if (!hasWildcard(seg)) {
      for (const dir of current) {
        const p = path.join(dir, seg);
        if (i === segments.length - 1 ? await stat(p).then(() => true, () => false) : await isDir(p)) next.push(p);
      }
    } else {
      const re = segmentRegex(seg);
      for (const dir of current) {
        let names: string[];
        try {
          names = await readdir(dir);
        } catch {
          continue;
        }
        for (const n of names.sort()) {
          if (n.startsWith('.') && !seg.startsWith('.')) continue;
          if (!re.test(n)) continue;
          const p = path.join(dir, n);
          if (i < segments.length - 1 && !(await isDir(p))) continue;
          next.push(p);
        }
      }
    }
    current = next;
    if (current.length === 0) break;
  }
  return current.sort();
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
