/**
 * Path patterns of the text source: `*` (any run of characters but `/`) and `?` (one
 * character) in any path segment, e.g. `/var/log/remote/*\/kern.log` for a central rsyslog
 * server that writes one directory per host. The text source calls {@link expandPattern} at
 * every poll in live mode (so directories and files created later are found) and once in
 * replay mode. Names starting with `.` match only a pattern segment that starts with `.`.
 */
import { statSync, type Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
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

/** One path a pattern matched, with what it is (so callers need no stat of their own). */
export interface PathMatch {
  readonly path: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

/**
 * The existing paths (files and directories) an absolute pattern matches, sorted. A pattern
 * without wildcards yields itself when it exists. Unreadable directories on the way match
 * nothing (never throws for them). Live mode expands at every poll, on a log server over
 * thousands of host directories: the types of directory entries come with the listing, and the
 * few stats left are synchronous (a microsecond or two each, against ten times that for a
 * promise through libuv's pool).
 */
export async function expandPattern(pattern: string): Promise<PathMatch[]> {
  const abs = path.resolve(pattern);
  if (!hasWildcard(abs)) {
    const m = matchOf(abs);
    return m ? [m] : [];
  }
  const root = path.parse(abs).root;
  const segments = abs.slice(root.length).split(path.sep).filter((s) => s.length > 0);
  let current: PathMatch[] = [{ path: root, isFile: false, isDirectory: true }];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    const next: PathMatch[] = [];
    if (!hasWildcard(seg)) {
      for (const dir of current) {
        const m = matchOf(path.join(dir.path, seg));
        if (m && (last || m.isDirectory)) next.push(m);
      }
    } else {
      const re = segmentRegex(seg);
      for (const dir of current) {
        let ents: Dirent[];
        try {
          ents = await readdir(dir.path, { withFileTypes: true });
        } catch {
          continue;
        }
        const prefix = path.join(dir.path, 'x').slice(0, -1);
        for (const e of ents) {
          const n = e.name;
          if (n.startsWith('.') && !seg.startsWith('.')) continue;
          if (!re.test(n)) continue;
          // a symbolic link (or an entry of unknown type) is what it points to
          const m = e.isFile() || e.isDirectory() ? { path: prefix + n, isFile: e.isFile(), isDirectory: e.isDirectory() } : matchOf(prefix + n);
          if (m && (last || m.isDirectory)) next.push(m);
        }
      }
    }
    current = next;
    if (current.length === 0) break;
  }
  return current.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** What `p` is now (following links), or undefined when it does not exist or cannot be stat'ed. */
function matchOf(p: string): PathMatch | undefined {
  try {
    const st = statSync(p, { throwIfNoEntry: false });
    return st ? { path: p, isFile: st.isFile(), isDirectory: st.isDirectory() } : undefined;
  } catch {
    return undefined;
  }
}
