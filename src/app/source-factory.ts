/**
 * Builds sources for the CLI: from config sections (`run`, `demo`), from replay paths
 * (auto-detected: lkrg-logger store files and directories, journal files, `journalctl -o
 * json` exports, text archives), and from stdin (`parse`). Each source gets a stable state
 * id so `--resume` and restarts find their positions again.
 */
import { readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { Source } from '../core/types.js';
import { ConfigError } from '../core/types.js';
import { createSource } from '../sources/create-source.js';
import { LkrgByteFilter, mayBeLkrg } from '../parse/lkrg-prefilter.js';

const lkrgBytes = (): ((buf: Buffer, start: number, end: number) => boolean) => {
  const f = new LkrgByteFilter();
  return (buf, start, end) => f.test(buf, start, end);
};
import { QuietMonitor } from './quiet-monitor.js';
import { KafkaSource } from '../sources/kafka-source.js';
import type { TextShape } from '../parse/containers/text-line.js';

export type InputShape = 'auto' | 'logger' | 'journal-json' | 'text';

export interface StatefulSource {
  readonly source: Source;
  readonly stateId: string;
  /** The section's `tags` / `labels`, added to the run's for this source's events. */
  readonly tags?: readonly string[] | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

const LOGGER_NAME = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?:\.\d+|-\d{8})?(?:\.gz)?$/;

/** Sources for `run`/`demo` config sections (already validated). */
export function sourcesFromConfig(sections: readonly Record<string, unknown>[], includeNonLkrg: boolean): StatefulSource[] {
  return sections.map((s, i) => {
    let source = sourceFromSection(s, i, includeNonLkrg);
    // a live source (kafka is always live) can notice a host whose LKRG went quiet
    const quiet = (s.quiet_after_s as number | undefined) ?? 0;
    if (quiet > 0 && s.mode !== 'replay') source = new QuietMonitor(source, { quietAfterMs: quiet * 1000 });
    return {
      source,
      stateId: (s.name as string | undefined) ?? `${s.type as string}:${i}`,
      tags: s.tags as readonly string[] | undefined,
      labels: s.labels as Readonly<Record<string, string>> | undefined,
    };
  });
}

/** The source one validated config section describes. */
function sourceFromSection(s: Record<string, unknown>, i: number, includeNonLkrg: boolean): Source {
  const common = { prefilter: mayBeLkrg, prefilterBytes: lkrgBytes, includeNonLkrg };
  switch (s.type) {
    case 'logger_store':
      return createSource({
        kind: 'logger-store', paths: [s.path as string], mode: s.mode as 'live' | 'replay', pollIntervalMs: s.poll_interval_ms as number,
        rotatedFollowMax: s.rotated_follow_max as number, rotatedDeletedFollowMs: (s.rotated_deleted_follow_s as number) * 1000,
        startAt: s.start_at as 'beginning' | 'end', ...common,
      });
    case 'journald':
      return createSource({
        kind: 'journald',
        mode: s.mode as 'live' | 'replay',
        files: s.files as string[] | undefined,
        directory: s.directory as string | undefined,
        journalctlPath: s.journalctl_path as string,
        startAt: s.start_at as 'beginning' | 'end',
        ...common,
      });
    case 'journald_json':
      // the text source reads `journalctl -o json` lines (auto shape, lines starting with `{`)
      return createSource({ kind: 'text', paths: s.paths as string[], input: 'auto', ...liveFileOptions(s), ...common });
    case 'text':
      return createSource({
        kind: 'text', paths: s.paths as string[], input: s.input as never, ...(s.year !== undefined ? { year: s.year as number } : {}), ...liveFileOptions(s), ...common,
      });
    case 'kafka':
      return new KafkaSource({
        section: s,
        keyPath: `sources[${i}]`,
        topics: s.topics as string[],
        groupId: s.group_id as string,
        startFrom: s.start_from as 'earliest' | 'latest',
        input: s.input as TextShape,
        sessionTimeoutMs: s.session_timeout_ms as number,
        rebalanceTimeoutMs: s.rebalance_timeout_ms as number,
        ...common,
      });
    default:
      throw new ConfigError(`sources[${i}].type`, s.type, 'allowed types: logger_store, journald, journald_json, text, kafka');
  }
}

/** The text source options of a `text` / `journald_json` section's mode and live-file fields. */
function liveFileOptions(s: Record<string, unknown>): {
  mode: 'replay' | 'live'; pollIntervalMs: number; rotatedFollowMax: number; rotatedDeletedFollowMs: number; startAt: 'beginning' | 'end';
} {
  return {
    mode: s.mode as 'replay' | 'live',
    startAt: s.start_at as 'beginning' | 'end',
    pollIntervalMs: s.poll_interval_ms as number,
    rotatedFollowMax: s.rotated_follow_max as number,
    rotatedDeletedFollowMs: (s.rotated_deleted_follow_s as number) * 1000,
  };
}

type PathKind = 'logger' | 'journal' | 'journal-json' | 'text';

/** What a replay path holds, judged by its name and first bytes. */
export function classifyPath(p: string): PathKind {
  const st = statSync(p);
  if (st.isDirectory()) {
    const names = readdirSync(p).filter((n) => !n.startsWith('.'));
    if (names.some((n) => LOGGER_NAME.test(n))) return 'logger';
    if (names.some((n) => n.endsWith('.journal') || n.endsWith('.journal~'))) return 'journal';
    return 'text';
  }
  const name = basename(p);
  if (name.endsWith('.journal') || name.endsWith('.journal~')) return 'journal';
  if (LOGGER_NAME.test(name)) return 'logger';
  const head = firstBytes(p);
  const firstLine = head.split('\n').find((l) => l.trim().length > 0) ?? '';
  if (firstLine.trimStart().startsWith('{')) return 'journal-json';
  if (/^\d+,\d+,\d+,\d+,\d+,\d+,[-c];/.test(firstLine)) return 'logger';
  return 'text';
}

function firstBytes(p: string): string {
  const fd = openSync(p, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const n = readSync(fd, buf, 0, buf.length, 0);
    let b = buf.subarray(0, n);
    if (b[0] === 0x1f && b[1] === 0x8b) {
      try {
        b = gunzipSync(readFileSync(p)).subarray(0, 8192);
      } catch {
        return '';
      }
    }
    return b.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Sources for `replay` paths, grouped by kind; state ids derive from the replay id. */
export function sourcesFromPaths(
  paths: readonly string[],
  opts: { input: TextShape; replayId: string; includeNonLkrg?: boolean },
): StatefulSource[] {
  const groups = new Map<PathKind, string[]>();
  for (const p of paths) {
    const k = classifyPath(p);
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  const common = { prefilter: mayBeLkrg, prefilterBytes: lkrgBytes, includeNonLkrg: opts.includeNonLkrg ?? false };
  const out: StatefulSource[] = [];
  for (const [kind, ps] of groups) {
    const stateId = `replay:${opts.replayId}:${kind}`;
    switch (kind) {
      case 'logger':
        out.push({ source: createSource({ kind: 'logger-store', paths: ps, mode: 'replay', ...common }), stateId });
        break;
      case 'journal': {
        const dirs = ps.filter((p) => statSync(p).isDirectory());
        const files = ps.filter((p) => !statSync(p).isDirectory());
        for (const d of dirs) out.push({ source: createSource({ kind: 'journald', mode: 'replay', directory: d, ...common }), stateId: `${stateId}:${d}` });
        if (files.length) out.push({ source: createSource({ kind: 'journald', mode: 'replay', files, ...common }), stateId });
        break;
      }
      case 'journal-json':
        out.push({ source: createSource({ kind: 'text', paths: ps, input: 'auto', ...common }), stateId });
        break;
      case 'text':
        out.push({ source: createSource({ kind: 'text', paths: ps, input: opts.input as never, ...common }), stateId });
        break;
    }
  }
  return out;
}

/** The `parse` command's source: lines on stdin in the named or detected shape. */
export function stdinSource(stream: Readable, input: InputShape, includeNonLkrg = false): Source {
  return createSource({ kind: 'stdin', stream, input: input as never, prefilter: mayBeLkrg, includeNonLkrg } as never);
}

