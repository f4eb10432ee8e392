/**
 * `npm run bench:outputs`: end-to-end delivery throughput of the network outputs against the
 * real test peers (test/peers/), each beside a ceiling measured in the same run on the same
 * documents, so the figures can be read as ratios on a shared, noisy machine.
 *
 * Generates a multi-host lkrg-logger store (default 400,000 records, 25% LKRG, about 100k
 * events), replays it once into a file output (reference row; its ECS NDJSON is the payload of
 * the ceilings), then replays it through the CLI into each output:
 *   kafka          vs Kafka's own ProducerPerformance (same jars as the broker, same documents,
 *                  acks=-1, idempotence, gzip, a topic with the same 3 partitions)
 *   elasticsearch  vs a raw `_bulk` of the same documents with fetch (create, _id = event.id,
 *                  the output's default batch size and requests in flight: 1000 per request,
 *                  3 concurrent requests; SEARCH_BATCH_DEFAULTS), after full warm-up passes;
 *                  measured before and after the replay, the faster run is the ceiling
 *   splunk HEC, GELF UDP, GELF TCP, syslog TCP
 *                  vs the receiver's own receive rate in the same run (growth of its
 *                  *_RECEIVED file, first to last arrival; records counted afterwards)
 * For Kafka and Elasticsearch the notes also give the server's own CPU time (user + system, from
 * /proc/<pid>/stat) around every run of either side: on two shared cores a CPU-bound server and
 * the CLI compete for the same time.
 * "ours" is events / wall clock of the CLI process (start to exit; a replay exits only after
 * its outputs delivered everything), peak RSS is VmHWM of the CLI process. For Kafka and
 * Elasticsearch both sides run twice, alternating with each other, and each side's faster run
 * counts (the ceilings were always best-of; on a shared machine the faster run is the less
 * disturbed one). "without start-up" also takes away the CLI's fixed cost: the wall time of a
 * replay of a 1,000-record store into the same server (process start, module loading, catalog
 * and mappings, connecting, exit), as the ceilings do not include a JVM or client start either.
 *
 * Peers: started as separate instances `<peer>:<suffix>` (default suffix "bench", state in
 * .peers/<peer>-bench/) and stopped at the end unless --keep-peers; peers of other people are
 * never touched. A peer that cannot start fails only its stages (the reason is printed).
 *
 * Options: --records N, --hosts N, --lkrg-share F, --only kafka,elasticsearch,splunk-hec,
 * gelf-udp,gelf-tcp,syslog, --stage-timeout S (default 300 per replay/ceiling), --suffix NAME,
 * --es-warm-passes N (at most N full raw passes warm Elasticsearch before anything is measured,
 * fewer once, after the fifth, a pass is within 5% of the previous one; default 10),
 * --keep-peers, --keep (keep the store, the NDJSON and the state files), --cpu-prof (run the
 * CLI under --cpu-prof; profiles in <tmp>/prof-<stage>/, implies --keep).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { SEARCH_BATCH_DEFAULTS } from '../../outputs/search-bulk/search-config.js';
import { generateStore } from './generate-store.js';

// ---------------------------------------------------------------------------------------------
// options and paths

const args = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
}
const RECORDS = Number(opt('--records', '400000'));
const HOSTS = Number(opt('--hosts', '20'));
const SHARE = Number(opt('--lkrg-share', '0.25'));
const STAGE_TIMEOUT_MS = Number(opt('--stage-timeout', '300')) * 1000;
const SUFFIX = opt('--suffix', 'bench');
const ALL_STAGES = ['kafka', 'elasticsearch', 'splunk-hec', 'gelf-udp', 'gelf-tcp', 'syslog'] as const;
type StageName = (typeof ALL_STAGES)[number];
const ONLY = new Set(opt('--only', ALL_STAGES.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
for (const s of ONLY) if (!(ALL_STAGES as readonly string[]).includes(s)) throw new Error(`--only: unknown stage ${s}; known: ${ALL_STAGES.join(', ')}`);
const CPU_PROF = args.includes('--cpu-prof');
const KEEP = args.includes('--keep') || CPU_PROF;
const KEEP_PEERS = args.includes('--keep-peers');
// the ceiling sends like our elasticsearch output does by default (same batch size, same requests in flight)
const BULK_BATCH: number = SEARCH_BATCH_DEFAULTS.max_events;
const BULK_CONCURRENCY: number = SEARCH_BATCH_DEFAULTS.max_in_flight;
const ES_WARM_PASSES = Number(opt('--es-warm-passes', '10'));

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const cli = join(repoRoot, 'dist', 'src', 'cli.js');
const peersCli = join(repoRoot, 'test', 'peers', 'peers.mjs');
const shared = join(repoRoot, '..', 'shared', 'samples');
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lkrg-siem', 'peers');
/** Unique per run: topic and index names never collide with an earlier run. */
const RUN_ID = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;

const say = (msg: string): void => void process.stderr.write(`[bench:outputs] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// result rows

interface Row {
  stage: string;
  events: number;
  ours?: number; // events/s
  steady?: number; // events/s without the CLI's fixed start-up/exit time
  ceiling?: number; // records/s, docs/s or events/s
  ceilingKind?: string;
  peakMb?: number;
  notes: string[];
  error?: string;
}
const rows: Row[] = [];

// ---------------------------------------------------------------------------------------------
// processes

interface ProcStats {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  peakMb: number;
  cpuSeconds: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function procStatus(pid: number): { hwmKb: number; cpuTicks: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after ")" start at field 3 (state); utime = 14, stime = 15 (1-based)
    return { hwmKb: Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0), cpuTicks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** Runs a command; polls its peak RSS and CPU time; SIGKILLs it (only it) after timeoutMs. */
function runMeasured(command: string, argv: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; onTick?: () => void }): Promise<ProcStats> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let child: ChildProcess;
    try {
      child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    } catch (err) {
      reject(err);
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (stdout.length > 1_000_000) stdout = stdout.slice(-500_000);
    });
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    let peakKb = 0;
    let cpuTicks = 0;
    let timedOut = false;
    const poll = (): void => {
      const s = child.pid ? procStatus(child.pid) : undefined;
      if (s) {
        peakKb = Math.max(peakKb, s.hwmKb);
        cpuTicks = Math.max(cpuTicks, s.cpuTicks);
      }
      opts.onTick?.();
    };
    const timer = setInterval(poll, 50);
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearInterval(timer);
      clearTimeout(killer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      clearTimeout(killer);
      opts.onTick?.();
      resolve({
        code,
        signal,
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        peakMb: peakKb / 1024,
        cpuSeconds: cpuTicks / 100, // USER_HZ is 100 on Linux
        stdout,
        stderr,
        timedOut,
      });
    });
  });
}

function lastLines(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

/** One CLI replay of the store into `output`; throws with the CLI's stderr on failure. */
async function replay(stage: string, store: string, output: string, workDir: string, opts: { env?: NodeJS.ProcessEnv; onTick?: () => void } = {}): Promise<ProcStats> {
  const state = join(workDir, `state-${stage}.db`);
  const nodeArgs: string[] = [];
  if (CPU_PROF) {
    const profDir = join(workDir, `prof-${stage}`);
    mkdirSync(profDir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', profDir);
  }
  say(`${stage}: replay -> ${output.replace(/\/\/[^@/]*@/, '//<token>@')}`);
  const r = await runMeasured(process.execPath, [...nodeArgs, cli, 'replay', store, '--output', output, '--state', state, '--no-progress'], {
    timeoutMs: STAGE_TIMEOUT_MS,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.onTick ? { onTick: opts.onTick } : {}),
  });
  if (r.timedOut) throw new Error(`${stage}: replay did not finish within ${STAGE_TIMEOUT_MS / 1000} s (killed). Last stderr:\n${lastLines(r.stderr, 15)}`);
  if (r.code !== 0) throw new Error(`${stage}: replay exited with ${r.code ?? r.signal}:\n${lastLines(r.stderr, 25)}`);
  say(`${stage}: ${r.seconds.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} s CPU, peak RSS ${r.peakMb.toFixed(0)} MB`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// peers

const startedPeers: string[] = [];
const peerEnv = new Map<string, Record<string, string> | Error>();

/** `peers.mjs up <kind>:<suffix>`; the variables, or an Error naming why the peer did not start. */
async function peerUp(kind: string): Promise<Record<string, string>> {
  const known = peerEnv.get(kind);
  if (known instanceof Error) throw known;
  if (known) return known;
  const instance = `${kind}:${SUFFIX}`;
  say(`starting peer ${instance} (kafka and elasticsearch take 20-60 s) ...`);
  const r = await runMeasured(process.execPath, [peersCli, 'up', instance], { timeoutMs: 240_000 });
  startedPeers.push(instance);
  if (r.code !== 0 || r.timedOut) {
    const err = new Error(
      `peer ${instance} could not start (${r.timedOut ? 'timed out after 240 s' : `exit ${r.code}`}):\n${lastLines(r.stderr, 20)}`,
    );
    peerEnv.set(kind, err);
    throw err;
  }
  const vars: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) vars[m[1]!] = m[2]!;
  }
  peerEnv.set(kind, vars);
  return vars;
}

/**
 * CPU seconds (user + system, all threads) the peer's server process has used so far, read from
 * /proc/<pid>/stat; its pid file sits beside the log the peer reports (`<NAME>_LOG`). NaN when
 * it cannot be read. Measured around each run, it shows how much of the two cores the server
 * needed for the same documents, beside the CLI's own CPU time.
 */
function serverCpuSeconds(vars: Record<string, string>, logVar: string, pidFile: string): number {
  try {
    const dir = need(vars, logVar).replace(/\/[^/]*$/, '');
    const pid = readFileSync(join(dir, pidFile), 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return Number.NaN;
  }
}

async function peersDown(): Promise<void> {
  if (KEEP_PEERS || startedPeers.length === 0) return;
  say(`stopping ${startedPeers.join(' ')} ...`);
  const r = await runMeasured(process.execPath, [peersCli, 'down', ...startedPeers], { timeoutMs: 120_000 });
  if (r.code !== 0) say(`peers down failed: ${lastLines(r.stderr, 10)}`);
}

function need(vars: Record<string, string>, key: string): string {
  const v = vars[key];
  if (!v) throw new Error(`the peer did not print ${key}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// receiver files: growth timeline while the replay runs, records counted afterwards

class GrowthWatch {
  private readonly base: number;
  private last: number;
  first?: number; // ms (hrtime) of the first growth seen
  lastGrowth?: number;
  constructor(readonly file: string) {
    this.base = existsSync(file) ? statSync(file).size : 0;
    this.last = this.base;
  }
  get startOffset(): number {
    return this.base;
  }
  tick = (): void => {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return;
    }
    if (size > this.last) {
      const now = Number(process.hrtime.bigint()) / 1e6;
      this.first ??= now;
      this.lastGrowth = now;
      this.last = size;
    }
  };
  /** After the sender exited: waits until the file has not grown for quietMs (at most maxMs). */
  async settle(quietMs = 1500, maxMs = 60_000): Promise<void> {
    const t0 = Date.now();
    let lastChange = Date.now();
    let size = this.last;
    while (Date.now() - t0 < maxMs) {
      await sleep(100);
      this.tick();
      if (this.last !== size) {
        size = this.last;
        lastChange = Date.now();
      } else if (Date.now() - lastChange >= quietMs) return;
    }
  }
  /** Seconds from the first to the last growth (at least one poll interval). */
  get windowSeconds(): number {
    if (this.first === undefined || this.lastGrowth === undefined) return 0;
    return Math.max(0.05, (this.lastGrowth - this.first) / 1000);
  }
}

/** Calls fn(line) for every complete line of `file` from byte `offset`. */
async function forLines(file: string, offset: number, fn: (line: string) => void): Promise<void> {
  const rl = createInterface({ input: createReadStream(file, { start: offset }), crlfDelay: Infinity });
  for await (const line of rl) if (line) fn(line);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// stages

interface Input {
  store: string;
  workDir: string;
  ndjson: string; // ECS NDJSON of every event (the file-output replay)
  events: number;
  /** A 1,000-record store and its event count: the CLI's fixed cost per output. */
  tinyStore: string;
  tinyEvents: number;
}

/** Events/s of the replay without the fixed cost a tiny replay into the same output shows. */
function steadyRate(inp: Input, best: ProcStats, tiny: ProcStats): number {
  return (inp.events - inp.tinyEvents) / Math.max(best.seconds - tiny.seconds, 1e-3);
}

async function stageKafka(inp: Input): Promise<Row> {
  const row: Row = { stage: 'kafka (kafkajs, gzip, acks=-1, idempotent)', events: inp.events, ceilingKind: 'ProducerPerformance', notes: [] };
  const vars = await peerUp('kafka');
  const brokers = need(vars, 'KAFKA_BROKERS');
  const version = vars.KAFKA_VERSION ?? '4.4.0';
  const topic = `bench-${RUN_ID}`;
  const ppTopic = `bench-${RUN_ID}-pp`;
  // Topics are created up front with the broker's default 3 partitions: the Java idempotent
  // producer against a topic it auto-creates loops on OutOfOrderSequenceException here.
  const kafka = new kafkajs.Kafka({ clientId: 'bench-outputs', brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await withTimeout(admin.connect(), 30_000, 'kafka admin connect');
  try {
    const topics = [`${topic}-1`, `${topic}-2`, `${topic}-fixed`, `${ppTopic}-1`, `${ppTopic}-2`];
    await withTimeout(
      admin.createTopics({ waitForLeaders: true, topics: topics.map((t) => ({ topic: t, numPartitions: 3, replicationFactor: 1 })) }),
      30_000,
      'kafka createTopics',
    );

    // the ceiling: the broker's own producer benchmark, same jars, same documents
    const libs = join(cacheRoot, `kafka-${version}`, 'libs');
    const tools = await kafkaToolsJar(version);
    const java = process.env.KAFKA_PEER_JAVA || (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java');
    const producerPerformance = async (ppTopicN: string): Promise<{ rate: number; note: string }> => {
      say(`kafka: ProducerPerformance, ${inp.events} records from ${inp.ndjson} into ${ppTopicN}`);
      const pp = await runMeasured(
      java,
      [
        '-Xmx512m', '-cp', `${libs}/*:${tools}`, 'org.apache.kafka.tools.ProducerPerformance',
        '--topic', ppTopicN, '--num-records', String(inp.events), '--throughput', '-1',
        '--payload-file', inp.ndjson, '--payload-delimiter', '\n',
        '--command-property', `bootstrap.servers=${brokers}`, 'acks=-1', 'enable.idempotence=true', 'compression.type=gzip',
        'max.in.flight.requests.per.connection=5', 'linger.ms=5', 'client.id=bench-outputs-pp',
      ],
      { timeoutMs: STAGE_TIMEOUT_MS },
    );
      if (pp.timedOut) throw new Error(`ProducerPerformance did not finish within ${STAGE_TIMEOUT_MS / 1000} s:\n${lastLines(pp.stdout + pp.stderr, 10)}`);
      // final summary line: "N records sent, X records/sec (Y MB/sec), A ms avg latency, ..."
      const m = /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency/m.exec(
        pp.stdout.split('\n').filter((l) => /records sent/.test(l) && /50th/.test(l)).pop() ?? '',
      );
      if (pp.code !== 0 || !m) throw new Error(`ProducerPerformance failed (exit ${pp.code}):\n${lastLines(pp.stdout + pp.stderr, 15)}`);
      return { rate: Number(m[2]), note: `${m[1]} records, ${m[3]} MB/s, ${m[4]} ms avg latency, ${pp.seconds.toFixed(1)} s incl. JVM start` };
    };
    const ours = async (n: 1 | 2): Promise<ProcStats> => {
      const t = `${topic}-${n}`;
      const r = await replay(`kafka-${n}`, inp.store, `kafka://${brokers}/${t}`, inp.workDir);
      const offsets = await admin.fetchTopicOffsets(t);
      const stored = offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
      row.notes.push(`kafka run ${n}: ${r.seconds.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} s CPU of the CLI; ${stored} records in ${t} (${offsets.length} partitions)`);
      if (stored < inp.events) row.notes.push(`kafka run ${n}: only ${stored} of ${inp.events} events in the topic`);
      return r;
    };

    // alternating: ours, ProducerPerformance, ours, ProducerPerformance; the faster run of each side
    // the broker's CPU around each run, beside the CLI's (ProducerPerformance runs in a JVM of its own)
    const brokerCpu = (): number => serverCpuSeconds(vars, 'KAFKA_LOG', 'kafka.pid');
    const cpuNotes: string[] = [];
    const measured = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
      const c0 = brokerCpu();
      const r = await run();
      cpuNotes.push(`${label} ${(brokerCpu() - c0).toFixed(1)} s`);
      return r;
    };
    const r1 = await measured('ours 1', () => ours(1));
    const pp1 = await measured('ProducerPerformance 1', () => producerPerformance(`${ppTopic}-1`));
    const r2 = await measured('ours 2', () => ours(2));
    const pp2 = await measured('ProducerPerformance 2', () => producerPerformance(`${ppTopic}-2`));
    const best = r1.seconds <= r2.seconds ? r1 : r2;
    const tiny = await replay('kafka-fixed', inp.tinyStore, `kafka://${brokers}/${topic}-fixed`, inp.workDir);
    row.ours = inp.events / best.seconds;
    row.steady = steadyRate(inp, best, tiny);
    row.peakMb = Math.max(r1.peakMb, r2.peakMb);
    row.ceiling = Math.max(pp1.rate, pp2.rate);
    row.notes.push(`kafka fixed cost: ${tiny.seconds.toFixed(2)} s wall for a ${inp.tinyEvents}-event replay`);
    row.notes.push(`kafka ceiling: ProducerPerformance, the faster of two runs (${pp1.note}; ${pp2.note}; no key, sticky partitioner, linger.ms=5, 5 in flight)`);
    row.notes.push(`kafka broker CPU per run: ${cpuNotes.join('; ')}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return row;
}

/** kafka-tools-<version>.jar (ProducerPerformance is not in the broker's jars): fetched once with Maven into the peer cache. */
async function kafkaToolsJar(version: string): Promise<string> {
  const dir = join(cacheRoot, `kafka-${version}`, 'tools');
  const jar = join(dir, `kafka-tools-${version}.jar`);
  if (existsSync(jar)) return jar;
  say(`kafka: fetching org.apache.kafka:kafka-tools:${version} with Maven into ${dir} (once) ...`);
  const r = await runMeasured(
    'mvn',
    ['-q', '-B', 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy', `-Dartifact=org.apache.kafka:kafka-tools:${version}`, `-DoutputDirectory=${dir}`],
    { timeoutMs: 300_000 },
  );
  if (r.code !== 0 || !existsSync(jar)) throw new Error(`could not fetch kafka-tools ${version} with mvn (exit ${r.code}):\n${lastLines(r.stdout + r.stderr, 15)}`);
  return jar;
}

async function stageElasticsearch(inp: Input): Promise<Row> {
  const row: Row = {
    stage: `elasticsearch (_bulk create, ${BULK_BATCH}/request, ${BULK_CONCURRENCY} in flight)`,
    events: inp.events,
    ceilingKind: `raw _bulk (fetch, also ${BULK_BATCH}/request, ${BULK_CONCURRENCY} in flight)`,
    notes: [],
  };
  const vars = await peerUp('elasticsearch');
  const base = need(vars, 'ELASTICSEARCH_URL').replace(/\/+$/, '');
  const prefix = `bench-${RUN_ID}`;
  const rawPrefix = `benchraw-${RUN_ID}`;
  const url = new URL(base);

  // bulk bodies of the same documents, encoded before any clock starts
  const bodiesFor = async (indexPrefix: string): Promise<string[]> => {
    const bodies: string[] = [];
    let cur: string[] = [];
    await forLines(inp.ndjson, 0, (line) => {
      const doc = JSON.parse(line) as { event?: { id?: string; dataset?: string }; data_stream?: { namespace?: string } };
      // routed like the output's default template (logs-{dataset}-{namespace})
      const index = `${indexPrefix}-${doc.event?.dataset ?? 'unknown'}-${doc.data_stream?.namespace ?? 'default'}`;
      cur.push(JSON.stringify({ create: { _index: index, _id: doc.event?.id } }), line);
      if (cur.length >= BULK_BATCH * 2) {
        bodies.push(cur.join('\n') + '\n');
        cur = [];
      }
    });
    if (cur.length) bodies.push(cur.join('\n') + '\n');
    return bodies;
  };
  let errors = 0;
  let firstError = '';
  const rawBulk = async (bodies: string[]): Promise<number> => {
    let next = 0;
    const t0 = process.hrtime.bigint();
    const worker = async (): Promise<void> => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const res = await fetch(`${base}/_bulk`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body,
          signal: AbortSignal.timeout(60_000),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`raw _bulk: HTTP ${res.status}: ${text.slice(0, 300)}`);
        if (text.includes('"errors":true')) {
          const j = JSON.parse(text) as { items: Record<string, { status: number; error?: unknown }>[] };
          for (const it of j.items) {
            const v = Object.values(it)[0]!;
            if (v.status >= 300) {
              errors++;
              firstError ||= JSON.stringify(v.error).slice(0, 200);
            }
          }
        }
      }
    };
    await withTimeout(Promise.all(Array.from({ length: BULK_CONCURRENCY }, worker)), STAGE_TIMEOUT_MS, 'raw _bulk');
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };

  // Warm the server first, so neither side pays for a cold JVM. A fresh node needs several
  // full passes before its cost per document settles (2 cores: Elasticsearch CPU for the same
  // 51,652 documents fell from 34 s to 12 s over six passes). Stopping at the first pass within
  // 10% of the one before was too early: the raw runs after it were still 20-25% faster
  // (10.0 s warm-up, then 7.8 and 6.6 s), so measurements fell into the warming. Now: at least
  // five full passes, then until one is within 5% of the one before (at most --es-warm-passes),
  // each index deleted afterwards (no merges of it run on during the measurements).
  const warmTimes: number[] = [];
  const serverCpu: string[] = [];
  for (let pass = 1; pass <= ES_WARM_PASSES; pass++) {
    const warmPrefix = `benchwarm${pass}-${RUN_ID}`;
    const t = await rawBulk(await bodiesFor(warmPrefix));
    warmTimes.push(t);
    say(`elasticsearch: warm-up pass ${pass}: ${t.toFixed(1)} s`);
    await esDelete(base, `${warmPrefix}-*`);
    if (pass >= 5 && t >= warmTimes[pass - 2]! * 0.95) break;
  }

  // The ceiling is measured right before and right after the replay, and the faster run counts
  // (the server's best effort, whichever of them found it warmer); each index is counted, then deleted.
  const esCpu = (): number => serverCpuSeconds(vars, 'ELASTICSEARCH_LOG', 'elasticsearch.pid');
  const rawRun = async (tag: string): Promise<{ seconds: number; docs: number; note: string }> => {
    errors = 0;
    firstError = '';
    const bodies = await bodiesFor(`${rawPrefix}-${tag}`);
    say(`elasticsearch: raw _bulk (${tag}) of ${inp.events} docs in ${bodies.length} requests, ${BULK_CONCURRENCY} concurrent`);
    const cpu0 = esCpu();
    const seconds = await rawBulk(bodies);
    serverCpu.push(`raw ${tag} ${(esCpu() - cpu0).toFixed(1)} s`);
    const docs = await esCount(base, `${rawPrefix}-${tag}-*`);
    await esDelete(base, `${rawPrefix}-${tag}-*`);
    return { seconds, docs, note: `${tag} ${seconds.toFixed(1)} s, ${docs} docs${errors ? `, ${errors} item errors (first: ${firstError})` : ''}` };
  };
  const ours = async (n: 1 | 2 | 3 | 'fixed', store: string, keep = false): Promise<ProcStats> => {
    const cpu0 = esCpu();
    const r = await replay(`elasticsearch-${n}`, store, `elasticsearch+http://${url.host}/${prefix}-${n}-{dataset}-{namespace}`, inp.workDir);
    if (n !== 'fixed') serverCpu.push(`ours ${n} ${(esCpu() - cpu0).toFixed(1)} s (CLI ${r.cpuSeconds.toFixed(1)} s)`);
    const docs = await esCount(base, `${prefix}-${n}-*`);
    if (!keep) await esDelete(base, `${prefix}-${n}-*`);
    row.notes.push(`elasticsearch run ${n}: ${r.seconds.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} s CPU of the CLI; ${docs} docs in ${prefix}-${n}-*`);
    return r;
  };
  // alternating three times: raw, ours, raw, ours, raw, ours; the fastest run of each side
  // (the server's speed still drifts by 10-20% from run to run, even warmed)
  const raws: { seconds: number; docs: number; note: string }[] = [];
  const runs: ProcStats[] = [];
  for (const n of [1, 2, 3] as const) {
    raws.push(await rawRun(`r${n}`));
    runs.push(await ours(n, inp.store));
  }
  // the fixed cost is the CLI's only: the tiny replay runs twice into the same indices and the
  // second counts (index creation, about a second here, is in both sides' full runs)
  await ours('fixed', inp.tinyStore, true);
  const tiny = await ours('fixed', inp.tinyStore);
  const bestOurs = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  row.ours = inp.events / bestOurs.seconds;
  row.steady = steadyRate(inp, bestOurs, tiny);
  row.peakMb = Math.max(...runs.map((r) => r.peakMb));
  const best = Math.min(...raws.map((r) => r.seconds));
  row.ceiling = inp.events / best;
  row.notes.push(
    `elasticsearch ceiling: ${best.toFixed(1)} s, the fastest of three raw runs (${raws.map((r) => r.note).join('; ')}) into ${rawPrefix}-*; server warmed first with ${warmTimes.length} full passes of the documents (${warmTimes.map((t) => t.toFixed(1)).join(', ')} s)`,
    `elasticsearch server CPU per run (the same documents each time): ${serverCpu.join('; ')}`,
  );
  return row;
}

/** Deletes the indices matching `pattern` by name (wildcard deletes are refused by default). */
async function esDelete(base: string, pattern: string): Promise<void> {
  const res = await fetch(`${base}/_cat/indices/${pattern}?h=index&expand_wildcards=all`, { signal: AbortSignal.timeout(60_000) });
  const names = (await res.text()).split('\n').map((n) => n.trim()).filter(Boolean);
  if (names.length) await fetch(`${base}/${names.join(',')}`, { method: 'DELETE', signal: AbortSignal.timeout(120_000) }).then((r) => r.text());
}

async function esCount(base: string, pattern: string): Promise<number> {
  await fetch(`${base}/${pattern}/_refresh`, { method: 'POST', signal: AbortSignal.timeout(60_000) }).catch(() => undefined);
  const res = await fetch(`${base}/${pattern}/_count`, { signal: AbortSignal.timeout(60_000) });
  const j = (await res.json()) as { count?: number };
  return j.count ?? -1;
}

/** A replay into a receiver peer, measured against the growth of the receiver's file. */
async function stageReceiver(
  inp: Input,
  opts: { stage: StageName; label: string; peer: string; output: (vars: Record<string, string>) => string; receivedKey: string; env?: (vars: Record<string, string>) => NodeJS.ProcessEnv; count: (file: string, offset: number) => Promise<number> },
): Promise<Row> {
  const row: Row = { stage: opts.label, events: inp.events, ceilingKind: 'receiver rate', notes: [] };
  const vars = await peerUp(opts.peer);
  const received = need(vars, opts.receivedKey);
  const watch = new GrowthWatch(received);
  const udpBefore = udpCounters();
  const r = await replay(opts.stage, inp.store, opts.output(vars), inp.workDir, { onTick: watch.tick, ...(opts.env ? { env: opts.env(vars) } : {}) });
  row.ours = inp.events / r.seconds;
  row.peakMb = r.peakMb;
  await watch.settle();
  const got = await opts.count(received, watch.startOffset);
  const win = watch.windowSeconds;
  if (got === 0 || win === 0) throw new Error(`${opts.stage}: the receiver got nothing (${received})`);
  row.ceiling = got / win;
  const udpAfter = udpCounters();
  row.notes.push(
    `${opts.stage}: ${r.seconds.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} s CPU of the CLI; receiver got ${got} of ${inp.events} (${((got / inp.events) * 100).toFixed(1)}%) in ${win.toFixed(1)} s first-to-last arrival`,
  );
  if (got < inp.events) row.ceilingKind += `, ${(((inp.events - got) / inp.events) * 100).toFixed(0)}% lost`;
  if (opts.stage === 'gelf-udp' && udpBefore && udpAfter) {
    row.notes.push(
      `gelf-udp: kernel UDP counters during the stage (whole machine): ${udpAfter.RcvbufErrors - udpBefore.RcvbufErrors} RcvbufErrors, ${udpAfter.InErrors - udpBefore.InErrors} InErrors, ${udpAfter.OutDatagrams - udpBefore.OutDatagrams} OutDatagrams`,
    );
  }
  return row;
}

/** The Udp: line of /proc/net/snmp (RcvbufErrors = datagrams dropped because a socket buffer was full). */
function udpCounters(): Record<string, number> | undefined {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const keys = lines[0]!.split(/\s+/).slice(1);
    const vals = lines[1]!.split(/\s+/).slice(1).map(Number);
    return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
  } catch {
    return undefined;
  }
}

async function countLines(file: string, offset: number): Promise<number> {
  let n = 0;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = offset;
    for (;;) {
      const k = readSync(fd, buf, 0, buf.length, pos);
      if (k <= 0) break;
      pos += k;
      for (let i = buf.indexOf(10, 0); i !== -1 && i < k; i = buf.indexOf(10, i + 1)) n++;
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

/** HEC receiver file: one OTLP-JSON request per line; counts its log records. */
async function countHecRecords(file: string, offset: number): Promise<number> {
  let n = 0;
  await forLines(file, offset, (line) => {
    const j = JSON.parse(line) as { resourceLogs?: { scopeLogs?: { logRecords?: unknown[] }[] }[] };
    for (const rl of j.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) n += sl.logRecords?.length ?? 0;
  });
  return n;
}

/** GELF receiver file: one JSON line per message; counts accepted ones from the given receiver. */
function countGelf(receiver: string): (file: string, offset: number) => Promise<number> {
  return async (file, offset) => {
    let n = 0;
    const head = `{"receiver":"${receiver}"`;
    await forLines(file, offset, (line) => {
      if (line.startsWith(head)) n++;
    });
    return n;
  };
}

// ---------------------------------------------------------------------------------------------
// main

function fmt(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en');
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`build first (npx tsc -p tsconfig.json): ${cli} is missing`);
  const dir = mkdtempSync(join(tmpdir(), 'lkrg-bench-outputs-'));
  const store = join(dir, 'store');
  say(`run ${RUN_ID}; generating ${RECORDS} records for ${HOSTS} hosts (${SHARE * 100}% LKRG) in ${store} ...`);
  const gen = generateStore(store, { records: RECORDS, hosts: HOSTS, lkrgShare: SHARE, sharedSamples: shared });

  // reference: the same replay into a file output; its ECS NDJSON is the ceilings' payload
  const ndjson = join(dir, 'events.ndjson');
  const fileRun = await replay('file', store, `file:${ndjson}`, dir);
  const events = await countLines(ndjson, 0);
  const avgBytes = statSync(ndjson).size / Math.max(1, events);
  rows.push({ stage: 'file output (reference, fsync per batch)', events, ours: events / fileRun.seconds, peakMb: fileRun.peakMb, notes: [`file: ${fileRun.seconds.toFixed(1)} s wall, ${fileRun.cpuSeconds.toFixed(1)} s CPU of the CLI`] });
  // the CLI's fixed cost per output is measured with a replay of this small store
  const tinyStore = join(dir, 'tiny-store');
  generateStore(tinyStore, { records: 1000, hosts: 1, lkrgShare: SHARE, sharedSamples: shared });
  const tinyNdjson = join(dir, 'tiny-events.ndjson');
  await replay('file-fixed', tinyStore, `file:${tinyNdjson}`, dir);
  const inp: Input = { store, workDir: dir, ndjson, events, tinyStore, tinyEvents: await countLines(tinyNdjson, 0) };

  const stages: Record<StageName, () => Promise<Row>> = {
    kafka: () => stageKafka(inp),
    elasticsearch: () => stageElasticsearch(inp),
    'splunk-hec': () =>
      stageReceiver(inp, {
        stage: 'splunk-hec',
        label: 'splunk HEC (gzip, 500/request)',
        peer: 'splunk-hec',
        receivedKey: 'SPLUNK_HEC_RECEIVED',
        output: (v) => `splunk+${need(v, 'SPLUNK_HEC_URL')}?token_env=BENCH_HEC_TOKEN`,
        env: (v) => ({ ...process.env, BENCH_HEC_TOKEN: need(v, 'SPLUNK_HEC_TOKEN') }),
        count: countHecRecords,
      }),
    'gelf-udp': () =>
      stageReceiver(inp, {
        stage: 'gelf-udp',
        label: 'GELF UDP (go-gelf reader)',
        peer: 'gelf',
        receivedKey: 'GELF_RECEIVED',
        output: (v) => need(v, 'GELF_URL'),
        count: countGelf('go-gelf'),
      }),
    'gelf-tcp': () =>
      stageReceiver(inp, {
        stage: 'gelf-tcp',
        label: 'GELF TCP (NUL framing)',
        peer: 'gelf',
        receivedKey: 'GELF_RECEIVED',
        output: (v) => need(v, 'GELF_TCP_URL'),
        count: countGelf('tcp'),
      }),
    syslog: () =>
      stageReceiver(inp, {
        stage: 'syslog',
        label: 'syslog TCP (CEF, RFC 5424, rsyslog)',
        peer: 'syslog',
        receivedKey: 'SYSLOG_RECEIVED',
        output: (v) => need(v, 'SYSLOG_URL'),
        count: countLines,
      }),
  };

  try {
    for (const name of ALL_STAGES) {
      if (!ONLY.has(name)) continue;
      try {
        rows.push(await stages[name]());
      } catch (err) {
        const msg = (err as Error).message ?? String(err);
        say(`${name} FAILED: ${msg}`);
        rows.push({ stage: name, events, notes: [], error: msg });
      }
    }
  } finally {
    await peersDown();
  }

  const out: string[] = [];
  out.push(
    `lkrg-siem bench:outputs, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus()[0]?.model ?? 'cpu'} (${cpus().length} cores), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
  );
  out.push(
    `input: ${RECORDS.toLocaleString('en')} records, ${HOSTS} hosts, ${gen.lkrg.toLocaleString('en')} LKRG records (${((gen.lkrg / RECORDS) * 100).toFixed(1)}%), ${(gen.bytes / 2 ** 20).toFixed(0)} MiB -> ${events.toLocaleString('en')} events, ${Math.round(avgBytes)} B/event ECS JSON; run ${RUN_ID}`,
  );
  out.push('');
  out.push('| stage | events | ours events/s | ours without start-up | ceiling or receiver rate | ratio | ratio without start-up | peak RSS MB |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const pct = (a: number | undefined, b: number | undefined): string => (a && b ? `${((a / b) * 100).toFixed(0)}%` : '—');
  for (const r of rows) {
    if (r.error) {
      out.push(`| ${r.stage} | ${r.events.toLocaleString('en')} | FAILED | — | — | — | — | — |`);
      continue;
    }
    const ceiling = r.ceiling === undefined ? '—' : `${fmt(r.ceiling)} (${r.ceilingKind})`;
    out.push(
      `| ${r.stage} | ${r.events.toLocaleString('en')} | ${fmt(r.ours)} | ${fmt(r.steady)} | ${ceiling} | ${pct(r.ours, r.ceiling)} | ${pct(r.steady, r.ceiling)} | ${r.peakMb === undefined ? '—' : r.peakMb.toFixed(0)} |`,
    );
  }
  out.push('');
  for (const r of rows) for (const n of r.notes) out.push(`- ${n}`);
  for (const r of rows) if (r.error) out.push(`- ${r.stage} FAILED: ${r.error.replace(/\n/g, '\n  ')}`);
  if (CPU_PROF) out.push(`- CPU profiles of the CLI: ${dir}/prof-<stage>/`);
  process.stdout.write(out.join('\n') + '\n');
  if (rows.some((r) => r.error)) process.exitCode = 1;
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
  else say(`kept ${dir}`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench:outputs failed: ${(err as Error).stack ?? String(err)}\n`);
  await peersDown().catch(() => {});
  process.exitCode = 1;
});

