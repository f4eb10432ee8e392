// GELF test peer: one Go process (source in test/peers/gelf/, built at `up` into the cache)
// with these receivers on loopback, every accepted message written as one JSON line
// {"receiver","remote","compression","chunks","message":{...}} to GELF_RECEIVED, every refused
// one as {"receiver","reason","sample"} to GELF_REJECTED:
//   GELF_URL=gelf+udp://127.0.0.1:P        Graylog's own go-gelf reader (gelf.NewReader): chunks
//                                          of at most 1420 bytes, at most 128 chunks, gzip/zlib/none
//   GELF_UDP_RULES_URL=gelf+udp://...      UDP receiver following Graylog's GelfChunkAggregator
//                                          (128 chunks, 5 s validity, datagrams up to 64 KiB)
//   GELF_TCP_URL=gelf+tcp://127.0.0.1:T    NUL-framed TCP, GelfCodec rules
//   GELF_HTTP_URL=gelf+http://127.0.0.1:H  POST /gelf (gzip/deflate/plain) -> 202; GET /stats
//   GELF_UDP6_URL, GELF_TCP6_URL           the same UDP-rules and TCP receivers on [::1]
// Why a Go receiver for TCP/HTTP/large chunk counts and not Graylog's own GelfCodec in a Java
// harness: org.graylog2:graylog2-server pulls Graylog's whole server dependency tree (MongoDB,
// OpenSearch clients, Jersey, ...; SSPL) for two classes, with no guarantee every artifact is on
// Central; go-gelf has no usable TCP reader (unexported) and no HTTP input, and its UDP reader
// reads 1420-byte datagrams only. The Go receiver is ~400 lines of stdlib code, builds in
// seconds once the Go cache is warm, and applies Graylog's documented codec rules.
// go-gelf comes from the Go module proxy: github.com/Graylog2/go-gelf
// v0.0.0-20191017102106-1550ee647df0 (master; the proxy answers 403 for gopkg.in/Graylog2/go-gelf.v2).
// State in .peers/gelf/ (gelf.log, received.jsonl, rejected.jsonl, ports.json).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  canConnect,
  choosePorts,
  ensureDir,
  isAlive,
  PeerError,
  readJson,
  run,
  runningPid,
  startDaemon,
  stopPid,
  waitFor,
  writeJson,
} from './lib.mjs';

export const name = 'gelf';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.join(here, 'gelf');
const SOURCES = ['go.mod', 'go.sum', 'main.go'];

function files(ctx) {
  const d = ctx.stateDir;
  return {
    pid: path.join(d, 'gelf.pid'),
    log: path.join(d, 'gelf.log'),
    ports: path.join(d, 'ports.json'),
    received: path.join(d, 'received.jsonl'),
    rejected: path.join(d, 'rejected.jsonl'),
  };
}

/** Builds the receiver once per source hash into the shared cache; returns the binary path. */
async function build(ctx) {
  const h = createHash('sha256');
  for (const f of SOURCES) h.update(readFileSync(path.join(srcDir, f)));
  const outDir = ensureDir(path.join(ctx.cacheDir, `gelf-peer-${h.digest('hex').slice(0, 12)}`));
  const bin = path.join(outDir, 'gelf-peer');
  if (existsSync(bin)) return bin;
  ctx.log(`building the Go receiver into ${outDir} (first run only) ...`);
  const started = Date.now();
  await run('go', ['build', '-mod=mod', '-o', bin + '.tmp', '.'], {
    cwd: srcDir,
    env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
  });
  await run('mv', [bin + '.tmp', bin]);
  ctx.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return bin;
}

function variables(f, p) {
  return {
    GELF_URL: `gelf+udp://127.0.0.1:${p.udp}`,
    GELF_UDP_RULES_URL: `gelf+udp://127.0.0.1:${p.udp_rules}`,
    GELF_TCP_URL: `gelf+tcp://127.0.0.1:${p.tcp}`,
    GELF_HTTP_URL: `gelf+http://127.0.0.1:${p.http}`,
    GELF_UDP6_URL: `gelf+udp://[::1]:${p.udp_rules}`,
    GELF_TCP6_URL: `gelf+tcp://[::1]:${p.tcp}`,
    GELF_STATS_URL: `http://127.0.0.1:${p.http}/stats`,
    GELF_RECEIVED: f.received,
    GELF_REJECTED: f.rejected,
  };
}

async function ready(p) {
  if (!(await canConnect(p.tcp)) || !(await canConnect(p.http))) return false;
  return canConnect(p.tcp, '::1');
}

export async function status(ctx) {
  const f = files(ctx);
  const pid = runningPid(f.pid, ctx.stateDir);
  if (!pid) return { running: false };
  return { running: true, detail: `pid ${pid}, received ${f.received}` };
}

export async function up(ctx) {
  const f = files(ctx);
  ensureDir(ctx.stateDir);
  const running = runningPid(f.pid, ctx.stateDir);
  if (running) {
    const ports = readJson(f.ports);
    await waitFor('gelf (already running)', () => ready(ports), {
      timeoutMs: 10_000,
      abort: () => (isAlive(running) ? undefined : 'receiver exited'),
    }).catch((err) => {
      throw new PeerError(err.message, { logFile: f.log });
    });
    return variables(f, ports);
  }
  const bin = await build(ctx);
  const ports = await choosePorts(['udp', 'udp_rules', 'tcp', 'http'], readJson(f.ports));
  writeJson(f.ports, ports);
  for (const file of [f.received, f.rejected]) if (!existsSync(file)) writeFileSync(file, '');
  writeFileSync(f.log, `\n===== gelf-peer starting at ${new Date().toISOString()} =====\n`, { flag: 'a' });
  const pid = startDaemon({
    command: bin,
    args: [
      '-udp', `127.0.0.1:${ports.udp}`,
      '-udp-rules', `127.0.0.1:${ports.udp_rules}`, '-udp-rules', `[::1]:${ports.udp_rules}`,
      '-tcp', `127.0.0.1:${ports.tcp}`, '-tcp', `[::1]:${ports.tcp}`,
      '-http', `127.0.0.1:${ports.http}`,
      '-out', f.received, '-rejected', f.rejected,
    ],
    logFile: f.log,
    pidFile: f.pid,
  });
  try {
    await waitFor('gelf receivers', () => ready(ports), {
      timeoutMs: 15_000,
      intervalMs: 100,
      abort: () => (isAlive(pid) ? undefined : 'receiver exited'),
    });
  } catch (err) {
    throw new PeerError(`${err.message} (log: ${f.log})`, { logFile: f.log });
  }
  ctx.log(`started pid ${pid} (go-gelf udp ${ports.udp}, rules udp ${ports.udp_rules}, tcp ${ports.tcp}, http ${ports.http}).`);
  return variables(f, ports);
}

export async function down(ctx) {
  const f = files(ctx);
  const pid = runningPid(f.pid, ctx.stateDir);
  if (!pid) {
    ctx.log('not running.');
    return;
  }
  const how = await stopPid(pid, { timeoutMs: 5_000, peer: ctx.instance });
  ctx.log(`${how} pid ${pid}.`);
}
