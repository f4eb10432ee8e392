/**
 * The Prometheus project's own parser and linter (test/tools/promcheck, Go: prometheus/common
 * expfmt and client_golang promlint), built once per source hash into the user cache from the
 * Go module proxy. Used by the metrics endpoint tests to read /metrics as Prometheus would.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

export interface PromSample {
  readonly labels: Record<string, string>;
  readonly value: number;
}
export interface PromFamily {
  readonly type: 'COUNTER' | 'GAUGE' | 'UNTYPED' | string;
  readonly help: string;
  readonly samples: PromSample[];
}
export interface PromCheck {
  readonly families: Record<string, PromFamily>;
  /** What `promtool check metrics` would complain about. */
  readonly problems: { metric: string; text: string }[];
}

const srcDir = join(repoRoot, 'test', 'tools', 'promcheck');

/** Path of the built checker (builds it on first use; throws with go's output when that fails). */
export function promcheckBinary(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) h.update(readFileSync(join(srcDir, f)));
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lkrg-siem', 'tools', `promcheck-${h.digest('hex').slice(0, 12)}`);
  const bin = join(dir, 'promcheck');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('go', ['build', '-mod=mod', '-o', `${bin}.tmp`, '.'], {
    cwd: srcDir,
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`building test/tools/promcheck failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  renameSync(`${bin}.tmp`, bin);
  return bin;
}

/** Parses and lints an exposition text; throws with the parser's message when it is not valid. */
export function promcheck(text: string): PromCheck {
  const r = spawnSync(promcheckBinary(), [], { input: text, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`promcheck: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as PromCheck;
}
