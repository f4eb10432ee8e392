/**
 * Real peer servers for vitest suites (Kafka, Elasticsearch, ...), started through the peers
 * CLI (`node test/peers/peers.mjs up <name>`, see test/peers/README.md).
 *
 * Policy: with CI=true a peer that cannot start FAILS the suite; without CI the suite's tests
 * are skipped with the reason (so a laptop without Java still runs the unit tests).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, beforeEach } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const peersCli = path.join(repoRoot, 'test', 'peers', 'peers.mjs');

/** Thrown when `peers.mjs up|down` fails; `output` holds its stderr (incl. the log tail). */
export class PeerUnavailableError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'PeerUnavailableError';
  }
}

const started = new Map<string, Promise<Record<string, string>>>();

function runCli(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [peersCli, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PeerUnavailableError(`peers ${args.join(' ')}: ${err.message}`, stderr));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        reject(new PeerUnavailableError(`peers ${args.join(' ')} failed (${why}):\n${stderr.trim()}`, stderr));
      }
    });
  });
}

/** Parses the KEY=VALUE lines `peers.mjs up` prints on stdout. */
export function parsePeerVariables(stdout: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2]!;
  }
  return vars;
}

/**
 * Starts peer `name` (or finds it running) and resolves to its variables, e.g.
 * `{ KAFKA_URL: 'kafka://127.0.0.1:40831', KAFKA_CA_FILE: '...', ... }`. Called by suites in
 * beforeAll; memoized per test process (the CLI is idempotent and locked across processes).
 * `name` may carry an instance suffix ("kafka:restart") for a private server a test may stop.
 * Rejects with {@link PeerUnavailableError} when the peer cannot start.
 */
export function usePeer(name: string, opts: { timeoutMs?: number } = {}): Promise<Record<string, string>> {
  let p = started.get(name);
  if (!p) {
    p = runCli(['up', name], opts.timeoutMs ?? 300_000).then(({ stdout }) => parsePeerVariables(stdout));
    started.set(name, p);
    p.catch(() => started.delete(name));
  }
  return p;
}

/** Stops peer `name` (SIGTERM, then SIGKILL); its state and ports are kept for the next usePeer. */
export async function stopPeer(name: string): Promise<void> {
  started.delete(name);
  await runCli(['down', name], 120_000);
}

/** True when peers are mandatory (CI=true): a peer that cannot start must fail, not skip. */
export function peersRequired(): boolean {
  return process.env.CI === 'true';
}

/**
 * Registers beforeAll/beforeEach hooks in the current describe block: starts `name` once, and
 * skips each test with the reason when it could not start outside CI (fails in CI). Read the
 * variables from the returned handle inside tests.
 */
export function peerForSuite(name: string): { readonly env: Record<string, string> } {
  let env: Record<string, string> | undefined;
  let unavailable: string | undefined;
  beforeAll(async () => {
    try {
      env = await usePeer(name);
    } catch (err) {
      if (peersRequired()) throw err;
      unavailable = `peer "${name}" unavailable, tests skipped (set CI=true to fail instead): ${(err as Error).message}`;
      process.stderr.write(`${unavailable}\n`);
    }
  });
  beforeEach((ctx) => {
    if (unavailable) ctx.skip(unavailable);
  });
  return {
    get env(): Record<string, string> {
      if (!env) throw new Error(`peer "${name}" is not started`);
      return env;
    },
  };
}
