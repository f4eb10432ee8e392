// Splunk HEC test peer: an OpenTelemetry Collector built with ocb from the Go module proxy,
// with the contrib splunkhecreceiver (HEC endpoints /services/collector[/event], /raw, /health,
// /ack), the ack extension (indexer acknowledgement), bearertokenauth in the Splunk scheme
// ("Authorization: Splunk <token>") and the file exporter. Splunk itself cannot be had here.
//
//   up prints  SPLUNK_HEC_URL=http://127.0.0.1:P   HEC base URL (loopback, free port kept across restarts)
//              SPLUNK_HEC_TOKEN=<uuid>             test token (made once per state dir)
//              SPLUNK_HEC_RECEIVED=<file>          what the receiver got: one OTLP-JSON logs
//                                                  request per line, appended (see README.md)
//              SPLUNK_HEC_MAX_BODY=<bytes>         max_request_body_size (larger bodies: 400 code 6)
//              SPLUNK_HEC_LOG=<file>               collector log
//
// Build: test/peers/splunk-hec/builder-config.yaml (ocb manifest) -> binary cached in
// ${XDG_CACHE_HOME:-~/.cache}/lkrg-siem/peers/otelcol-hec-<sha256(manifest)[0:12]>/otelcol-hec-peer,
// built once (a few minutes on 2 cores; GOMAXPROCS=2, go build -p 2). ocb itself is installed
// with `go install` into .../ocb-<version>/bin. Go comes from PATH or /usr/local/go/bin.
//
// Checksums: the Go proxy here is a partial mirror whose checksum database lacks the contrib
// v0.158.0 modules (lookups answer 404), so the build sets GONOSUMDB for the contrib module
// prefix ONLY, and then compares every contrib line of the generated go.sum with the pinned
// hashes in test/peers/splunk-hec/contrib.sum (trust on first use; a mismatch fails the build).
// Every other module is still verified against sum.golang.org.
//
// State in .peers/splunk-hec/ (collector.yaml, collector.log, received.jsonl, ports.json,
// credentials.json). Interface: see peers.mjs.
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
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
  withLock,
  writeJson,
} from './lib.mjs';

export const name = 'splunk-hec';

/** ocb version; keep equal to the core collector release named in builder-config.yaml. */
export const OCB_VERSION = 'v0.158.0';
const CONTRIB_PREFIX = 'github.com/open-telemetry/opentelemetry-collector-contrib';
/** Bodies above this many bytes (after gunzip) are refused with 400 code 6 by the receiver. */
export const MAX_BODY = 1024 * 1024;

const here = path.dirname(fileURLToPath(import.meta.url));
const templateDir = path.join(here, 'splunk-hec');
const manifestFile = path.join(templateDir, 'builder-config.yaml');
const START_TIMEOUT_MS = Number(process.env.SPLUNK_HEC_PEER_START_TIMEOUT_MS ?? 30_000);
const BUILD_TIMEOUT_MS = Number(process.env.SPLUNK_HEC_PEER_BUILD_TIMEOUT_MS ?? 45 * 60_000);

function files(ctx) {
  const d = ctx.stateDir;
  return {
    pid: path.join(d, 'collector.pid'),
    log: path.join(d, 'collector.log'),
    config: path.join(d, 'collector.yaml'),
    ports: path.join(d, 'ports.json'),
    credentials: path.join(d, 'credentials.json'),
    received: path.join(d, 'received.jsonl'),
  };
}

function goEnv() {
  const extra = existsSync('/usr/local/go/bin/go') ? ['/usr/local/go/bin'] : [];
  return {
    ...process.env,
    PATH: [...extra, process.env.PATH ?? ''].join(':'),
    GOMAXPROCS: '2',
    GOFLAGS: '-mod=mod -p=2',
    // see the header comment: only the contrib modules skip sum.golang.org, and are pinned instead
    GONOSUMDB: CONTRIB_PREFIX,
  };
}

/** Where the binary for the current manifest lives (the hash keys the cache). */
export function binaryPath(cacheDir) {
  const hash = createHash('sha256').update(readFileSync(manifestFile)).digest('hex').slice(0, 12);
  const dir = path.join(cacheDir, `otelcol-hec-${hash}`);
  return { dir, binary: path.join(dir, 'otelcol-hec-peer') };
}

/** Compares the contrib lines of the build's go.sum with the pinned contrib.sum. */
function checkPinnedSums(goSumFile) {
  const pinnedFile = path.join(templateDir, 'contrib.sum');
  const pinned = new Set(
    readFileSync(pinnedFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')),
  );
  const got = readFileSync(goSumFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.startsWith(CONTRIB_PREFIX + '/'));
  const unknown = got.filter((l) => !pinned.has(l));
  if (unknown.length > 0) {
    throw new PeerError(
      `contrib module checksums differ from test/peers/splunk-hec/contrib.sum (not verifiable against ` +
        `sum.golang.org here):\n${unknown.join('\n')}\nIf the manifest changed on purpose, review and update contrib.sum.`,
    );
  }
}

/** Builds the collector once per manifest hash (locked across processes). */
async function ensureBinary(ctx) {
  const { dir, binary } = binaryPath(ctx.cacheDir);
  if (existsSync(binary)) return binary;
  ensureDir(dir);
  return withLock(dir, ctx.instance, async () => {
    if (existsSync(binary)) return binary;
    const env = goEnv();
    const ocbDir = path.join(ctx.cacheDir, `ocb-${OCB_VERSION}`, 'bin');
    const ocb = path.join(ocbDir, 'builder');
    const started = Date.now();
    if (!existsSync(ocb)) {
      ctx.log(`installing ocb ${OCB_VERSION} (go install, first run only) ...`);
      await run('go', ['install', `go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}`], {
        env: { ...env, GOBIN: ocbDir },
        timeoutMs: BUILD_TIMEOUT_MS,
      });
      ctx.log(`ocb installed in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
    }
    const buildDir = path.join(dir, 'build');
    rmSync(buildDir, { recursive: true, force: true });
    const template = readFileSync(manifestFile, 'utf8');
    const outputLine = /^(\s*output_path:\s*)"@OUTPUT_PATH@"\s*$/m;
    if (!outputLine.test(template)) throw new PeerError(`${manifestFile}: no 'output_path: "@OUTPUT_PATH@"' line`);
    const manifest = template.replace(outputLine, (_m, key) => `${key}${JSON.stringify(buildDir)}`);
    const manifestCopy = path.join(dir, 'builder-config.yaml');
    writeFileSync(manifestCopy, manifest);
    ctx.log(`building the OpenTelemetry Collector HEC peer with ocb into ${dir} (first run only, several minutes) ...`);
    const buildStarted = Date.now();
    const { stdout, stderr } = await run(ocb, ['--config', manifestCopy], { env, cwd: dir, timeoutMs: BUILD_TIMEOUT_MS });
    writeFileSync(path.join(dir, 'build.log'), stderr + stdout);
    checkPinnedSums(path.join(buildDir, 'go.sum'));
    const built = path.join(buildDir, 'otelcol-hec-peer');
    copyFileSync(built, binary + '.tmp');
    renameSync(binary + '.tmp', binary);
    const seconds = (Date.now() - buildStarted) / 1000;
    writeJson(path.join(dir, 'build-info.json'), {
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round(seconds),
      ocb: OCB_VERSION,
      bytes: statSync(binary).size,
    });
    rmSync(buildDir, { recursive: true, force: true });
    ctx.log(`collector built in ${seconds.toFixed(0)} s (${(statSync(binary).size / 1e6).toFixed(0)} MB).`);
    return binary;
  });
}

/** The test token, a UUID like Splunk's, made once per state dir. */
function credentials(f) {
  let creds = readJson(f.credentials);
  if (!creds?.token) {
    creds = { token: randomUUID() };
    writeJson(f.credentials, creds);
  }
  return creds;
}

function writeConfig(f, port, creds) {
  const values = { PORT: port, TOKEN: creds.token, RECEIVED: f.received, MAX_BODY: MAX_BODY };
  const template = readFileSync(path.join(templateDir, 'collector.yaml.template'), 'utf8');
  const text = template
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('#')
        ? line
        : line.replace(/@([A-Z_]+)@/g, (m, key) => {
            if (!(key in values)) throw new PeerError(`collector.yaml.template: unknown placeholder ${m}`);
            return String(values[key]);
          }),
    )
    .join('\n');
  writeFileSync(f.config, text);
}

/** Ready = the health endpoint answers code 17 (the auth extension guards it too). */
async function probe(port, token) {
  const res = await fetch(`http://127.0.0.1:${port}/services/collector/health`, {
    headers: { authorization: `Splunk ${token}` },
    signal: AbortSignal.timeout(2000),
  });
  const body = await res.text();
  return res.status === 200 && /"code":\s*17/.test(body);
}

function variables(f, port, creds) {
  return {
    SPLUNK_HEC_URL: `http://127.0.0.1:${port}`,
    SPLUNK_HEC_TOKEN: creds.token,
    SPLUNK_HEC_RECEIVED: f.received,
    SPLUNK_HEC_MAX_BODY: String(MAX_BODY),
    SPLUNK_HEC_LOG: f.log,
  };
}

export async function status(ctx) {
  const f = files(ctx);
  const pid = runningPid(f.pid, ctx.stateDir);
  if (!pid) return { running: false };
  return { running: true, detail: `pid ${pid} hec 127.0.0.1:${readJson(f.ports)?.hec}` };
}

export async function up(ctx) {
  const f = files(ctx);
  ensureDir(ctx.stateDir);
  const creds = credentials(f);
  const running = runningPid(f.pid, ctx.stateDir);
  if (running) {
    const port = readJson(f.ports)?.hec;
    await waitFor('splunk-hec (already running)', () => probe(port, creds.token), {
      timeoutMs: START_TIMEOUT_MS,
      abort: () => (isAlive(running) ? undefined : 'collector process exited'),
    }).catch((err) => {
      throw new PeerError(err.message, { logFile: f.log });
    });
    ctx.log(`already running (pid ${running}).`);
    return variables(f, port, creds);
  }

  const binary = await ensureBinary(ctx);
  const ports = await choosePorts(['hec'], readJson(f.ports));
  writeJson(f.ports, ports);
  writeConfig(f, ports.hec, creds);
  const started = Date.now();
  writeFileSync(f.log, `\n===== otelcol-hec-peer starting at ${new Date().toISOString()} =====\n`, { flag: 'a' });
  // the config path lies in stateDir: runningPid() uses it as the marker against reused pids
  const pid = startDaemon({ command: binary, args: ['--config', f.config], logFile: f.log, pidFile: f.pid });
  ctx.log(`started pid ${pid} (HEC on 127.0.0.1:${ports.hec}); waiting ...`);
  try {
    await waitFor('splunk-hec health endpoint', () => probe(ports.hec, creds.token), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 100,
      abort: () => (isAlive(pid) ? undefined : 'collector process exited'),
    });
  } catch (err) {
    throw new PeerError(`${err.message} (log: ${f.log})`, { logFile: f.log });
  }
  ctx.log(`receiver ready ${((Date.now() - started) / 1000).toFixed(1)} s after launch.`);
  return variables(f, ports.hec, creds);
}

export async function down(ctx) {
  const f = files(ctx);
  const pid = runningPid(f.pid, ctx.stateDir);
  if (!pid) {
    ctx.log('not running.');
    return;
  }
  const started = Date.now();
  const how = await stopPid(pid, { timeoutMs: 15_000, peer: ctx.instance });
  ctx.log(`${how} pid ${pid} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
