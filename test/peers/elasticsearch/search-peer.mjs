// Shared machinery of the two search-engine test peers (test/peers/elasticsearch.mjs and
// test/peers/opensearch.mjs): resolve jars from Maven Central once, compile a tiny Java launcher
// once per source hash, start one single-node server on free loopback ports with a small heap,
// wait for cluster health yellow/green over HTTP, stop it by pid. Plain Node ESM.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  choosePorts,
  ensureDir,
  isAlive,
  mavenCopyDependencies,
  PeerError,
  readJson,
  run,
  runningPid,
  startDaemon,
  stopPid,
  waitFor,
  writeJson,
} from '../lib.mjs';

/**
 * One GET against the peer; resolves { status, headers, body } (never rejects on HTTP status).
 * @param {number} port @param {string} urlPath @param {number} [timeoutMs]
 */
export function httpGet(port, urlPath, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** The first JDK directory (containing bin/javac) among `candidates` that exists. */
function findJdk(candidates) {
  for (const dir of candidates) {
    if (dir && existsSync(path.join(dir, 'bin', 'javac'))) return dir;
  }
  return undefined;
}

/** Candidate JDK homes with at least `minMajor` (Debian / Temurin layout under /usr/lib/jvm). */
function jdkCandidates(envVar, minMajor, preferMajor) {
  const out = [process.env[envVar]];
  let listed = [];
  try {
    listed = readdirSync('/usr/lib/jvm');
  } catch {
    /* no /usr/lib/jvm */
  }
  const major = (n) => Number(/(?:^|-)(\d+)(?:-|\.|$)/.exec(n.replace(/^java-1\./, 'java-'))?.[1] ?? 0);
  const usable = listed.filter((n) => major(n) >= minMajor).sort((a, b) => {
    // preferred major first, then newest
    const pa = major(a) === preferMajor ? 1 : 0;
    const pb = major(b) === preferMajor ? 1 : 0;
    return pb - pa || major(b) - major(a);
  });
  out.push(...usable.map((n) => path.join('/usr/lib/jvm', n)));
  if (process.env.JAVA_HOME) out.push(process.env.JAVA_HOME);
  return out;
}

/**
 * Defines a peer module (name, up, down, status) for a JVM search server.
 * @param {{
 *   name: string,                 // peer name and env prefix, e.g. 'elasticsearch'
 *   envPrefix: string,            // 'ELASTICSEARCH' / 'OPENSEARCH'
 *   product: string,              // human name for messages
 *   version: string,              // artifact version resolved by the pom
 *   versionProperty: string,      // pom property that selects the version
 *   pom: string,                  // path of the pom
 *   sources: string[],            // launcher .java files
 *   mainClass: string,
 *   minJava: number, preferJava: number,
 *   jvmFlags: string[],           // extra JVM flags
 *   heap?: string,                // -Xmx / -Xms value
 *   checkReady?: (res: { status: number, headers: Record<string, any>, body: string }) => string | undefined,
 *                                 // extra readiness check; returns an error text or undefined
 * }} spec
 */
export function defineSearchPeer(spec) {
  const envPrefix = spec.envPrefix;
  const startTimeoutMs = Number(process.env[`${envPrefix}_PEER_START_TIMEOUT_MS`] ?? 120_000);
  const heap = process.env[`${envPrefix}_PEER_HEAP`] ?? spec.heap ?? '512m';

  function files(ctx) {
    const d = ctx.stateDir;
    return {
      pid: path.join(d, `${spec.name}.pid`),
      log: path.join(d, `${spec.name}.log`),
      ports: path.join(d, 'ports.json'),
      version: path.join(d, 'version.json'),
      home: path.join(d, 'home'),
    };
  }

  function version() {
    return process.env[`${envPrefix}_PEER_VERSION`] || spec.version;
  }

  function jdk() {
    const home = findJdk(jdkCandidates(`${envPrefix}_PEER_JAVA_HOME`, spec.minJava, spec.preferJava));
    if (!home) {
      throw new PeerError(
        `${spec.product} needs a JDK >= ${spec.minJava} (javac): none under /usr/lib/jvm; set ${envPrefix}_PEER_JAVA_HOME`,
      );
    }
    return home;
  }

  /** Compiles the launcher once per (sources, version, JDK) into the cache. */
  async function compile(ctx, javaHome, libs) {
    const hash = createHash('sha256');
    for (const src of spec.sources) hash.update(src).update(readFileSync(src));
    hash.update(javaHome).update(version());
    const dir = path.join(path.dirname(libs), `classes-${hash.digest('hex').slice(0, 12)}`);
    const marker = path.join(dir, '.complete');
    if (existsSync(marker)) return dir;
    rmSync(dir, { recursive: true, force: true });
    ensureDir(dir);
    ctx.log(`compiling launcher with ${javaHome} ...`);
    await run(path.join(javaHome, 'bin', 'javac'), ['-nowarn', '-cp', `${libs}/*`, '-d', dir, ...spec.sources], {
      timeoutMs: 120_000,
    });
    writeFileSync(marker, new Date().toISOString() + '\n');
    return dir;
  }

  async function probe(port) {
    const res = await httpGet(port, '/_cluster/health?wait_for_status=yellow&timeout=1s', 5000);
    if (res.status !== 200) return false;
    const health = JSON.parse(res.body);
    if (health.status !== 'yellow' && health.status !== 'green') return false;
    const problem = spec.checkReady?.(res);
    if (problem) throw new PeerError(problem);
    return true;
  }

  function variables(f, ports) {
    return {
      [`${envPrefix}_URL`]: `http://127.0.0.1:${ports.http}`,
      [`${envPrefix}_VERSION`]: readJson(f.version)?.version ?? version(),
      [`${envPrefix}_LOG`]: f.log,
    };
  }

  async function status(ctx) {
    const f = files(ctx);
    const pid = runningPid(f.pid, ctx.stateDir);
    if (!pid) return { running: false };
    const ports = readJson(f.ports);
    return { running: true, detail: `pid ${pid} http://127.0.0.1:${ports?.http}` };
  }

  async function up(ctx) {
    const f = files(ctx);
    ensureDir(ctx.stateDir);
    const running = runningPid(f.pid, ctx.stateDir);
    if (running) {
      const ports = readJson(f.ports);
      await waitFor(`${spec.name} (already running)`, () => probe(ports.http), {
        timeoutMs: startTimeoutMs,
        abort: () => (isAlive(running) ? undefined : `${spec.product} process exited`),
      }).catch((err) => {
        throw new PeerError(err.message, { logFile: f.log });
      });
      ctx.log(`already running (pid ${running}).`);
      return variables(f, ports);
    }

    const v = version();
    const javaHome = jdk();
    const libs = await mavenCopyDependencies({
      peer: ctx.instance,
      pom: spec.pom,
      outDir: path.join(ctx.cacheDir, `${spec.name}-${v}`, 'libs'),
      properties: { [spec.versionProperty]: v },
    });
    const classes = await compile(ctx, javaHome, libs);
    const saved = readJson(f.version);
    if (saved?.version && saved.version !== v && existsSync(f.home)) {
      throw new PeerError(
        `.peers state was written by ${spec.product} ${saved.version}, not ${v}: run \`npm run peers -- reset ${ctx.instance}\``,
      );
    }
    writeJson(f.version, { version: v });
    const ports = await choosePorts(['http', 'transport'], readJson(f.ports));
    writeJson(f.ports, ports);
    ensureDir(f.home);

    const started = Date.now();
    writeFileSync(f.log, `\n===== ${spec.name} ${v} starting at ${new Date().toISOString()} =====\n`, { flag: 'a' });
    const pid = startDaemon({
      command: path.join(javaHome, 'bin', 'java'),
      args: [
        `-Xms${heap}`, `-Xmx${heap}`, '-XX:+UseG1GC', '-XX:-UsePerfData',
        '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8', '-Djava.locale.providers=CLDR',
        '-Dlog4j2.disable.jmx=true', '-Dlog4j2.formatMsgNoLookups=true', '-Dlog4j.shutdownHookEnabled=false',
        ...spec.jvmFlags,
        // marker so status() can tell our server from an unrelated process with a reused pid
        `-Dlkrg.peer=${ctx.stateDir}`,
        '-cp', `${classes}:${libs}/*`,
        spec.mainClass, f.home, String(ports.http), String(ports.transport),
      ],
      logFile: f.log,
      pidFile: f.pid,
      cwd: ctx.stateDir,
    });
    ctx.log(`started pid ${pid} (${spec.product} ${v}, ${javaHome}, heap ${heap}; http ${ports.http}, transport ${ports.transport}); waiting ...`);
    try {
      await waitFor(`${spec.name} cluster health yellow`, () => probe(ports.http), {
        timeoutMs: startTimeoutMs,
        intervalMs: 500,
        abort: () => (isAlive(pid) ? undefined : `${spec.product} process exited`),
      });
    } catch (err) {
      throw new PeerError(`${err.message} (log: ${f.log})`, { logFile: f.log });
    }
    ctx.log(`${spec.product} ready ${((Date.now() - started) / 1000).toFixed(1)} s after launch.`);
    return variables(f, ports);
  }

  async function down(ctx) {
    const f = files(ctx);
    const pid = runningPid(f.pid, ctx.stateDir);
    if (!pid) {
      ctx.log('not running.');
      return;
    }
    const started = Date.now();
    const how = await stopPid(pid, { timeoutMs: 30_000, peer: ctx.instance });
    ctx.log(`${how} pid ${pid} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  }

  return { up, down, status };
}
