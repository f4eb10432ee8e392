/** Runs the built CLI (dist/) as a child process; used by end-to-end tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(new URL('../..', import.meta.url).pathname);
export const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');

/** Builds dist/ once if it is missing (npm test builds it before vitest runs). */
export function ensureBuilt(): void {
  if (!existsSync(cliPath)) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('tsc failed');
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `lkrg-siem args...` to completion. */
export function runCli(args: readonly string[], opts: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Starts the CLI without waiting (for kill tests). */
export function startCli(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Successive `lkrg-siem run --config FILE` processes of a crash test: their stderr collected
 * with a `[run N]` prefix, and every run that ended on its own (not by a signal) listed.
 */
export class RunSeries {
  logs = '';
  /** Runs that exited by themselves, as `run N exited with CODE`. */
  readonly unexpected: string[] = [];
  private runs = 0;

  constructor(private readonly config: string) {}

  /** Starts the next run. */
  start(): ChildProcess {
    const c = startCli(['run', '--config', this.config]);
    const n = ++this.runs;
    c.stderr!.on('data', (b: Buffer) => (this.logs += b.toString().replace(/^(?=.)/gm, `[run ${n}] `)));
    c.on('exit', (code, signal) => {
      if (signal === null) this.unexpected.push(`run ${n} exited with ${code}`);
    });
    return c;
  }

  /** Sends `signal` and waits for the exit (no-op when it already ended). */
  async stop(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const closed = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await closed;
  }
}
