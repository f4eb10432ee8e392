#!/usr/bin/env node
// Real peer servers for integration tests: start, stop and report them.
//
//   npm run peers -- up [names...]      start (or re-report) peers; no names = every known peer
//   npm run peers -- down [names...]    stop them (SIGTERM, SIGKILL after a timeout); state kept
//   npm run peers -- status [names...]  print "<name> running|stopped" per peer
//   npm run peers -- reset [names...]   stop and delete .peers/<name>/ (data, certs, logs)
//
// Output contract: `up` prints only KEY=VALUE lines on stdout (exactly one <NAME>_URL=... per
// server, plus extras such as KAFKA_CA_FILE=...); progress and logs go to stderr. On a failed
// start it prints the last 50 lines of the peer's log on stderr and exits non-zero; the log is
// kept. `up` on a running peer re-prints its variables (idempotent).
//
// Peer module interface: each peer is test/peers/<name>.mjs and exports
//
//   export const name = 'kafka';
//   export async function up(ctx)     -> Promise<Record<string, string>>  variables to print
//   export async function down(ctx)   -> Promise<void>                    stop, keep state
//   export async function status(ctx) -> Promise<{ running: boolean, detail?: string }>
//
// where ctx = { name, instance, stateDir, cacheDir, repoRoot, ci, log(msg) }:
//   - instance: the name as given ("kafka" or "kafka:restart"); stateDir is .peers/<name> or
//     .peers/<name>-<suffix> for "name:suffix" instances (a second, independent server of the
//     same kind, e.g. one that a test may stop without disturbing other suites);
//   - cacheDir: ${XDG_CACHE_HOME:-~/.cache}/lkrg-siem/peers (downloads shared by checkouts);
//   - ci: true when CI=true (peers must not silently degrade there).
// `up` throws (PeerError from lib.mjs, with logFile set) when the peer cannot start. Helpers
// for ports, processes, waiting and Maven are in test/peers/lib.mjs. See test/peers/README.md.
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cacheRoot, ensureDir, log, PeerError, repoRoot, stateRoot, tail, withLock } from './lib.mjs';

// Go (for the gelf and splunk-hec peers) lives in /usr/local/go/bin on this machine kind,
// which a non-login shell may not have on PATH.
for (const dir of ['/usr/local/go/bin']) {
  const parts = (process.env.PATH ?? '').split(path.delimiter);
  if (!parts.includes(dir)) process.env.PATH = [...parts, dir].join(path.delimiter);
}

const peersDir = path.dirname(fileURLToPath(import.meta.url));
const NOT_PEERS = new Set(['peers.mjs', 'lib.mjs']);

/** Names of every peer module in test/peers/ (kafka.mjs -> "kafka"). */
export function knownPeers() {
  return readdirSync(peersDir)
    .filter((f) => f.endsWith('.mjs') && !NOT_PEERS.has(f))
    .map((f) => f.slice(0, -'.mjs'.length))
    .sort();
}

async function loadPeer(instance) {
  const [kind, suffix] = instance.split(':', 2);
  if (!knownPeers().includes(kind)) {
    throw new PeerError(`unknown peer "${kind}"; known peers: ${knownPeers().join(', ') || 'none'}`);
  }
  if (suffix !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(suffix)) {
    throw new PeerError(`bad instance suffix in "${instance}": use [a-z0-9-]`);
  }
  const mod = await import(pathToFileURL(path.join(peersDir, `${kind}.mjs`)).href);
  for (const fn of ['up', 'down', 'status']) {
    if (typeof mod[fn] !== 'function') throw new PeerError(`test/peers/${kind}.mjs does not export ${fn}()`);
  }
  const stateDir = path.join(stateRoot, suffix ? `${kind}-${suffix}` : kind);
  const ctx = {
    name: kind,
    instance,
    stateDir,
    cacheDir: cacheRoot,
    repoRoot,
    ci: process.env.CI === 'true',
    log: (msg) => log(instance, msg),
  };
  return { mod, ctx };
}

function printVars(vars) {
  for (const [key, value] of Object.entries(vars)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) throw new PeerError(`bad variable name ${key}`);
    if (/[\n\r]/.test(String(value))) throw new PeerError(`variable ${key} contains a newline`);
    process.stdout.write(`${key}=${value}\n`);
  }
}

async function upOne(instance) {
  const { mod, ctx } = await loadPeer(instance);
  ensureDir(ctx.stateDir);
  const started = Date.now();
  try {
    const vars = await withLock(ctx.stateDir, instance, () => mod.up(ctx));
    ctx.log(`ready (${((Date.now() - started) / 1000).toFixed(1)} s).`);
    printVars(vars);
  } catch (err) {
    ctx.log(`FAILED: ${err.message ?? err}`);
    if (err && typeof err === 'object') err.reported = true;
    const logFile = err.logFile;
    if (logFile) {
      const lines = await tail(logFile, 50);
      process.stderr.write(`--- last 50 lines of ${logFile} ---\n${lines}\n--- end of ${logFile} ---\n`);
    }
    throw err;
  }
}

async function downOne(instance) {
  const { mod, ctx } = await loadPeer(instance);
  await withLock(ctx.stateDir, instance, () => mod.down(ctx));
}

async function statusOne(instance) {
  const { mod, ctx } = await loadPeer(instance);
  const st = await mod.status(ctx);
  process.stdout.write(`${instance} ${st.running ? 'running' : 'stopped'}${st.detail ? ` ${st.detail}` : ''}\n`);
  return st.running;
}

async function resetOne(instance) {
  const { mod, ctx } = await loadPeer(instance);
  await withLock(ctx.stateDir, instance, () => mod.down(ctx));
  await rm(ctx.stateDir, { recursive: true, force: true });
  ctx.log(`removed ${ctx.stateDir}.`);
}

const USAGE = 'usage: node test/peers/peers.mjs up|down|status|reset [names...]';

async function main(argv) {
  const [command, ...names] = argv;
  const targets = names.length > 0 ? names : knownPeers();
  switch (command) {
    case 'up':
      for (const n of targets) await upOne(n);
      return 0;
    case 'down':
      for (const n of targets) await downOne(n);
      return 0;
    case 'status': {
      for (const n of targets) await statusOne(n);
      return 0;
    }
    case 'reset':
      for (const n of targets) await resetOne(n);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 64;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      if (err?.reported) {
        // upOne already printed the reason and the log tail
      } else if (!(err instanceof PeerError)) process.stderr.write(`${err?.stack ?? err}\n`);
      else process.stderr.write(`peers: ${err.message}\n`);
      process.exit(1);
    },
  );
}
