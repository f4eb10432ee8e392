// Helpers shared by the peer modules (test/peers/<name>.mjs) and the peers CLI (peers.mjs).
// Plain Node ESM, no dependencies: process control, free ports, waiting, logs, Maven.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (two levels above test/peers/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Root of all peer state: `.peers/` at the repo root (gitignored), or $PEERS_STATE_DIR. */
export const stateRoot = process.env.PEERS_STATE_DIR
  ? path.resolve(process.env.PEERS_STATE_DIR)
  : path.join(repoRoot, '.peers');

/** Download cache shared by every checkout: ${XDG_CACHE_HOME:-~/.cache}/lkrg-siem/peers. */
export const cacheRoot = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'lkrg-siem',
  'peers',
);

/** An error whose message is meant for the person running the peers (no stack needed). */
export class PeerError extends Error {
  /** @param {string} message @param {{ logFile?: string }} [opts] */
  constructor(message, opts = {}) {
    super(message);
    this.name = 'PeerError';
    this.logFile = opts.logFile;
  }
}

/** Progress and diagnostics go to stderr; stdout is reserved for KEY=VALUE lines. */
export function log(peer, message) {
  process.stderr.write(`[peers:${peer}] ${message}\n`);
}

export function ensureDir(dir) {
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function readJson(file, fallback = undefined) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

export function writeJson(file, value) {
  ensureDir(path.dirname(file));
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A random test secret (hex), for test-only credentials and store passwords. */
export function randomSecret(bytes = 12) {
  return randomBytes(bytes).toString('hex');
}

/** Asks the kernel for a free loopback TCP port (binds port 0, reads it, closes). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on host:port and we may bind it. */
export function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Distinct free ports for `names`. Ports saved in `saved` are reused when still free, so a
 * restarted peer keeps its address (clients holding the old URL reconnect to the same place).
 * @param {string[]} names @param {Record<string, number> | undefined} saved
 */
export async function choosePorts(names, saved) {
  /** @type {Record<string, number>} */
  const ports = {};
  const taken = new Set();
  for (const name of names) {
    const old = saved?.[name];
    if (old && !taken.has(old) && (await isPortFree(old))) {
      ports[name] = old;
    } else {
      let port = await freePort();
      while (taken.has(port)) port = await freePort();
      ports[name] = port;
    }
    taken.add(ports[name]);
  }
  return ports;
}

/** True when a TCP connect to host:port succeeds within timeoutMs. */
export function canConnect(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when a process with this pid exists (signal 0). */
export function isAlive(pid) {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}

/** The command line of a live process ('' when unknown): guards against reused pids. */
export function processCommandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/**
 * Reads `pidFile` and returns the pid when that process is alive and its command line
 * contains `marker` (a path unique to this peer), else undefined.
 */
export function runningPid(pidFile, marker) {
  let pid;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!isAlive(pid)) return undefined;
  if (marker && !processCommandLine(pid).includes(marker)) return undefined;
  return pid;
}

/**
 * Starts a long-running server detached from this process (own process group), stdout and
 * stderr appended to logFile, and writes its pid to pidFile. Returns the pid.
 */
export function startDaemon({ command, args, logFile, pidFile, env, cwd }) {
  ensureDir(path.dirname(logFile));
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: cwd ?? repoRoot,
      env: env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new PeerError(`could not start ${command}`);
    child.unref();
    writeFileSync(pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * Stops one process we started: SIGTERM, then SIGKILL after timeoutMs. Resolves when it is gone.
 * @returns {Promise<'stopped' | 'killed' | 'not-running'>}
 */
export async function stopPid(pid, { timeoutMs = 30_000, peer = 'peers' } = {}) {
  if (!isAlive(pid)) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid) || isZombie(pid)) return 'stopped';
    await sleep(100);
  }
  log(peer, `pid ${pid} still running ${timeoutMs} ms after SIGTERM; sending SIGKILL.`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  for (let i = 0; i < 50 && isAlive(pid) && !isZombie(pid); i++) await sleep(100);
  return 'killed';
}

function isZombie(pid) {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Polls `check` until it returns a truthy value or timeoutMs passes. `check` may throw or
 * return falsy to mean "not yet"; `abort()` may return a string to stop early with that reason.
 */
export async function waitFor(what, check, { timeoutMs = 60_000, intervalMs = 250, abort } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    const reason = abort?.();
    if (reason) throw new PeerError(`${what}: ${reason}`);
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError ? ` (last error: ${lastError.message ?? lastError})` : '';
      throw new PeerError(`${what}: not ready after ${timeoutMs} ms${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** The last n lines of a text file ('' when missing). */
export async function tail(file, n = 50) {
  try {
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs a command to completion, capturing output. Rejects with its output on a non-zero
 * exit or after timeoutMs.
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
export function run(command, args, { cwd, env, timeoutMs = 600_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: cwd ?? repoRoot,
      env: env ?? process.env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PeerError(`${command}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      const out = (stderr + stdout).trim().split('\n').slice(-30).join('\n');
      reject(new PeerError(`${command} ${args.join(' ')} failed (${why}):\n${out}`));
    });
  });
}

/**
 * Resolves the runtime dependencies of a small pom into `outDir` (once; a `.complete` marker
 * records success). Jars come from Maven Central through the local ~/.m2 cache.
 * @param {{ peer: string, pom: string, outDir: string, properties?: Record<string,string> }} opts
 */
export async function mavenCopyDependencies({ peer, pom, outDir, properties = {} }) {
  const marker = path.join(outDir, '.complete');
  if (existsSync(marker)) return outDir;
  rmSync(outDir, { recursive: true, force: true });
  ensureDir(outDir);
  const started = Date.now();
  log(peer, `resolving jars with Maven into ${outDir} (first run only) ...`);
  const props = Object.entries(properties).map(([k, v]) => `-D${k}=${v}`);
  await run('mvn', [
    '-q', '-B', '-f', pom, ...props,
    'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
    '-DincludeScope=runtime', `-DoutputDirectory=${outDir}`,
  ]);
  writeFileSync(marker, new Date().toISOString() + '\n');
  log(peer, `jars resolved in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return outDir;
}

/**
 * A cross-process lock (a directory created atomically) so two test workers running
 * `up kafka` at once do not start two brokers. A lock whose owner pid is dead is broken.
 */
export async function withLock(dir, peer, fn, { timeoutMs = 600_000 } = {}) {
  const lockDir = path.join(dir, '.lock');
  ensureDir(dir);
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, 'pid'), `${process.pid}\n`);
      break;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(path.join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }) || '0', 10);
      const age = Date.now() - statSync(lockDir).mtimeMs;
      if ((owner && !isAlive(owner)) || (!owner && age > 10_000)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new PeerError(`lock ${lockDir} held by pid ${owner} for too long`);
      if (!announced) log(peer, `waiting for pid ${owner} (another peers.mjs on the same peer) ...`);
      announced = true;
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
