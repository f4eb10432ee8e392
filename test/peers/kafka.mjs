// Kafka test peer: Apache Kafka 4.x in KRaft mode (one process, broker+controller), from
// Maven Central jars, on free loopback ports. Listeners:
//   PLAINTEXT  KAFKA_URL=kafka://127.0.0.1:P
//   SASL_SSL   KAFKA_TLS_URL=kafka+ssl://127.0.0.1:S  (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512;
//              server cert from a generated test CA, valid for 127.0.0.1 and localhost)
//   CONTROLLER internal, loopback.
// State in .peers/kafka/ (kafka.log, data/, tls/, ports.json, credentials.json); jars cached in
// ${XDG_CACHE_HOME:-~/.cache}/lkrg-siem/peers/kafka-<version>/libs. Interface: see peers.mjs.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import {
  canConnect,
  choosePorts,
  ensureDir,
  isAlive,
  mavenCopyDependencies,
  PeerError,
  randomSecret,
  readJson,
  run,
  runningPid,
  startDaemon,
  stopPid,
  waitFor,
  writeJson,
} from './lib.mjs';

export const name = 'kafka';

/** Kafka 4.x: kafkajs 2.2.4 works against it (see test/peers/README.md). Override: KAFKA_PEER_VERSION. */
export const DEFAULT_VERSION = '4.4.0';

const here = path.dirname(fileURLToPath(import.meta.url));
const templateDir = path.join(here, 'kafka');
const START_TIMEOUT_MS = Number(process.env.KAFKA_PEER_START_TIMEOUT_MS ?? 90_000);
const STOP_TIMEOUT_MS = 30_000;

function files(ctx) {
  const d = ctx.stateDir;
  return {
    pid: path.join(d, 'kafka.pid'),
    log: path.join(d, 'kafka.log'),
    config: path.join(d, 'server.properties'),
    log4j: path.join(d, 'log4j2.properties'),
    ports: path.join(d, 'ports.json'),
    credentials: path.join(d, 'credentials.json'),
    version: path.join(d, 'version.json'),
    data: path.join(d, 'data'),
    tls: path.join(d, 'tls'),
    formatted: path.join(d, 'data', 'meta.properties'),
  };
}

function javaCommand() {
  if (process.env.KAFKA_PEER_JAVA) return process.env.KAFKA_PEER_JAVA;
  if (process.env.JAVA_HOME) return path.join(process.env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

function version() {
  return process.env.KAFKA_PEER_VERSION || DEFAULT_VERSION;
}

/** Test-only credentials, made once per state dir. */
function credentials(f) {
  let creds = readJson(f.credentials);
  if (!creds) {
    creds = { username: 'lkrgtest', password: randomSecret(), storePassword: randomSecret() };
    writeJson(f.credentials, creds);
  }
  return creds;
}

/**
 * A test CA and a server certificate for 127.0.0.1 / localhost (PKCS#12 keystore for the
 * broker), plus an unrelated CA that tests use to provoke a trust failure.
 */
async function ensureTls(ctx, f, storePassword) {
  const t = ensureDir(f.tls);
  const p = (n) => path.join(t, n);
  if (existsSync(p('server.p12')) && existsSync(p('untrusted-ca.pem'))) return;
  ctx.log('generating test CA and server certificate ...');
  const days = '3650';
  const ossl = (...args) => run('openssl', args, { cwd: t });
  await ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', days, '-subj', '/CN=lkrg-siem test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost');
  writeFileSync(p('server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  await ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', days, '-sha256', '-extfile', 'server.ext');
  await ossl('pkcs12', '-export', '-in', 'server.pem', '-inkey', 'server.key', '-certfile', 'ca.pem',
    '-name', 'kafka', '-out', 'server.p12', '-passout', `pass:${storePassword}`);
  await ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'untrusted-ca.key',
    '-out', 'untrusted-ca.pem', '-days', days, '-subj', '/CN=lkrg-siem untrusted test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE');
}

function writeConfig(f, ports, creds) {
  const values = {
    PLAINTEXT_PORT: ports.plaintext,
    SASL_SSL_PORT: ports.sasl_ssl,
    CONTROLLER_PORT: ports.controller,
    SASL_USERNAME: creds.username,
    SASL_PASSWORD: creds.password,
    STORE_PASSWORD: creds.storePassword,
    KEYSTORE: path.join(f.tls, 'server.p12'),
    DATA_DIR: f.data,
  };
  const template = readFileSync(path.join(templateDir, 'server.properties.template'), 'utf8');
  // placeholders are replaced on setting lines only; comments may mention @NAME@ freely
  const text = template
    .split('\n')
    .map((line) => line.startsWith('#') ? line : line.replace(/@([A-Z_]+)@/g, (m, key) => {
      if (!(key in values)) throw new PeerError(`server.properties.template: unknown placeholder ${m}`);
      return String(values[key]);
    }))
    .join('\n');
  writeFileSync(f.config, text);
  copyFileSync(path.join(templateDir, 'log4j2.properties'), f.log4j);
}

function jvmArgs(f, ctx) {
  return [
    '-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${f.log4j}`, `-Dkafka.logs.dir=${path.join(ctx.stateDir, 'logs')}`,
    // marker so status() can tell our broker from an unrelated process with a reused pid
    `-Dlkrg.peer=${ctx.stateDir}`,
    // extra JVM flags, e.g. KAFKA_PEER_JAVA_OPTS="-XX:TieredStopAtLevel=1" for a faster start
    ...(process.env.KAFKA_PEER_JAVA_OPTS ?? '').split(/\s+/).filter(Boolean),
  ];
}

async function format(ctx, f, libs, creds) {
  if (existsSync(f.formatted)) return;
  ctx.log('formatting storage (cluster id, SCRAM credentials) ...');
  const cp = `${libs}/*`;
  const clusterId = Buffer.from(randomSecret(16), 'hex').toString('base64url');
  const user = `name=${creds.username},password=${creds.password}`;
  try {
    const { stdout, stderr } = await run(javaCommand(), [
      ...jvmArgs(f, ctx), '-cp', cp, 'kafka.tools.StorageTool', 'format',
      '-t', clusterId, '-c', f.config, '--ignore-formatted',
      '--add-scram', `SCRAM-SHA-256=[${user}]`, '--add-scram', `SCRAM-SHA-512=[${user}]`,
    ], { timeoutMs: 120_000 });
    writeFileSync(f.log, `storage format: ${stdout}${stderr}`, { flag: 'a' });
  } catch (err) {
    // the command line holds the test password: log the tool's output, not the command
    writeFileSync(f.log, `storage format failed: ${String(err.message).split('\n').slice(1).join('\n')}\n`, { flag: 'a' });
    throw new PeerError(`kafka storage format failed (log: ${f.log})`, { logFile: f.log });
  }
}

function variables(ctx, f, ports, creds) {
  return {
    KAFKA_URL: `kafka://127.0.0.1:${ports.plaintext}`,
    KAFKA_BROKERS: `127.0.0.1:${ports.plaintext}`,
    KAFKA_TLS_URL: `kafka+ssl://127.0.0.1:${ports.sasl_ssl}`,
    KAFKA_TLS_BROKERS: `127.0.0.1:${ports.sasl_ssl}`,
    KAFKA_CA_FILE: path.join(f.tls, 'ca.pem'),
    KAFKA_UNTRUSTED_CA_FILE: path.join(f.tls, 'untrusted-ca.pem'),
    KAFKA_SASL_MECHANISMS: 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: creds.username,
    KAFKA_SASL_PASSWORD: creds.password,
    KAFKA_VERSION: readJson(f.version)?.version ?? version(),
    KAFKA_LOG: f.log,
  };
}

const silent = () => () => {};

/** Ready = metadata answered on both listeners (PLAINTEXT, then SASL_SSL with SCRAM-SHA-512). */
async function probe(f, ports, creds) {
  const plain = new kafkajs.Kafka({
    clientId: 'peers-probe', brokers: [`127.0.0.1:${ports.plaintext}`], logCreator: silent,
    connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 },
  });
  const secure = new kafkajs.Kafka({
    clientId: 'peers-probe', brokers: [`127.0.0.1:${ports.sasl_ssl}`], logCreator: silent,
    connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 },
    ssl: { ca: [readFileSync(path.join(f.tls, 'ca.pem'))] },
    sasl: { mechanism: 'scram-sha-512', username: creds.username, password: creds.password },
  });
  for (const kafka of [plain, secure]) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length < 1) return false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  return true;
}

export async function status(ctx) {
  const f = files(ctx);
  const pid = runningPid(f.pid, ctx.stateDir);
  if (!pid) return { running: false };
  const ports = readJson(f.ports);
  return { running: true, detail: `pid ${pid} plaintext 127.0.0.1:${ports?.plaintext} sasl_ssl 127.0.0.1:${ports?.sasl_ssl}` };
}

export async function up(ctx) {
  const f = files(ctx);
  ensureDir(ctx.stateDir);
  const creds = credentials(f);
  const running = runningPid(f.pid, ctx.stateDir);
  if (running) {
    const ports = readJson(f.ports);
    await waitFor('kafka (already running)', () => probe(f, ports, creds), {
      timeoutMs: START_TIMEOUT_MS,
      abort: () => (isAlive(running) ? undefined : 'broker process exited'),
    }).catch((err) => {
      throw new PeerError(err.message, { logFile: f.log });
    });
    ctx.log(`already running (pid ${running}).`);
    return variables(ctx, f, ports, creds);
  }

  const v = version();
  const libs = await mavenCopyDependencies({
    peer: ctx.instance,
    pom: path.join(templateDir, 'pom.xml'),
    outDir: path.join(ctx.cacheDir, `kafka-${v}`, 'libs'),
    properties: { 'kafka.version': v },
  });
  const saved = readJson(f.version);
  if (saved?.version && saved.version !== v && existsSync(f.formatted)) {
    throw new PeerError(`.peers state was formatted by Kafka ${saved.version}, not ${v}: run \`npm run peers -- reset ${ctx.instance}\``);
  }
  writeJson(f.version, { version: v });
  await ensureTls(ctx, f, creds.storePassword);
  const ports = await choosePorts(['plaintext', 'sasl_ssl', 'controller'], readJson(f.ports));
  writeJson(f.ports, ports);
  writeConfig(f, ports, creds);
  await format(ctx, f, libs, creds);

  const started = Date.now();
  writeFileSync(f.log, `\n===== kafka ${v} starting at ${new Date().toISOString()} =====\n`, { flag: 'a' });
  const pid = startDaemon({
    command: javaCommand(),
    args: [...jvmArgs(f, ctx), '-cp', `${libs}/*`, 'kafka.Kafka', f.config],
    logFile: f.log,
    pidFile: f.pid,
  });
  ctx.log(`started pid ${pid} (Kafka ${v}; plaintext ${ports.plaintext}, sasl_ssl ${ports.sasl_ssl}, controller ${ports.controller}); waiting ...`);
  try {
    await waitFor('kafka plaintext port', () => canConnect(ports.plaintext), {
      timeoutMs: START_TIMEOUT_MS,
      abort: () => (isAlive(pid) ? undefined : 'broker process exited'),
    });
    await waitFor('kafka metadata on both listeners', () => probe(f, ports, creds), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 500,
      abort: () => (isAlive(pid) ? undefined : 'broker process exited'),
    });
  } catch (err) {
    throw new PeerError(`${err.message} (log: ${f.log})`, { logFile: f.log });
  }
  ctx.log(`broker ready ${((Date.now() - started) / 1000).toFixed(1)} s after launch.`);
  return variables(ctx, f, ports, creds);
}

export async function down(ctx) {
  const f = files(ctx);
  const pid = runningPid(f.pid, ctx.stateDir);
  if (!pid) {
    ctx.log('not running.');
    return;
  }
  const started = Date.now();
  const how = await stopPid(pid, { timeoutMs: STOP_TIMEOUT_MS, peer: ctx.instance });
  ctx.log(`${how} pid ${pid} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
