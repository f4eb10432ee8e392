/**
 * The forwarder's own HTTP endpoint for monitoring (config `metrics.listen`, `run` only):
 * `GET /metrics` in the Prometheus text exposition format (0.0.4) and `GET /health` as JSON.
 *
 * Everything is read at scrape time from what the run already keeps: the state file's
 * counters (cumulative across restarts, like `lkrg-siem status`), each output's mirrored
 * status and queue depth, and the run summary (per-host LKRG view since this process
 * started). A scrape reads a few small tables; the queue itself is only touched through its
 * index (the oldest row).
 *
 * Label values come from input (host names, LKRG categories) and are escaped as the format
 * requires, so no value can end a label, start a sample or add a line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StateStore } from '../state/state-store.js';
import type { Delivery } from '../delivery/delivery-thread.js';
import type { RunSummary } from '../pipeline/run-summary.js';
import { ConfigError, type SourceGaugeFamily } from '../core/types.js';
import { VERSION } from '../version.js';

/** What a scrape reads: handed over by the forwarder, which owns all of it. */
export interface MetricsSources {
  readonly store: StateStore;
  readonly workers: readonly Delivery[];
  readonly summary: RunSummary;
}

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [Labels, number];

/** Escapes a label value (backslash, double quote, newline), as the text format requires. */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** Builds one exposition text: each family once, with HELP and TYPE before its samples. */
export class ExpositionWriter {
  private readonly parts: string[] = [];

  family(name: string, type: 'counter' | 'gauge', help: string, samples: Iterable<Sample>): this {
    this.parts.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`);
    for (const [labels, value] of samples) {
      const keys = Object.keys(labels);
      const l = keys.length ? `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(',')}}` : '';
      this.parts.push(`${name}${l} ${formatValue(value)}\n`);
    }
    return this;
  }

  text(): string {
    return this.parts.join('');
  }
}

const OUTCOMES = ['queued', 'delivered', 'retried', 'rejected', 'dropped', 'filtered'] as const;
const STATES = ['starting', 'running', 'halted', 'stopped'] as const;

/** The exposition text of one scrape. Called by the server; exported for tests. */
export function renderMetrics(src: MetricsSources, nowMs = Date.now()): string {
  const counters = src.store.counters();
  const pipeline = counters.get('pipeline');
  const dead = src.store.countDeadLetters();
  const w = new ExpositionWriter();
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  w.family('lkrg_siem_build_info', 'gauge', 'Always 1; the version of lkrg-siem in a label.', [[{ version: VERSION, node: process.version }, 1]]);
  w.family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch in seconds.', [[{}, Math.round((nowMs - process.uptime() * 1000) / 10) / 100]]);
  w.family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent in seconds.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  w.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[{}, mem.rss]]);

  w.family('lkrg_siem_records_read_total', 'counter', 'Input records read and committed (all runs of this state file).', [[{}, pipeline?.get('records_read') ?? 0]]);
  w.family('lkrg_siem_events_total', 'counter', 'Events produced from the input (all runs of this state file).', [[{}, pipeline?.get('events') ?? 0]]);
  w.family('lkrg_siem_malformed_records_total', 'counter', 'Malformed input records, kept as input dead letters (all runs of this state file).', [[{}, pipeline?.get('malformed') ?? 0]]);

  const outputs = src.workers.map((x) => x.name);
  w.family('lkrg_siem_output_events_total', 'counter', 'Events per output and outcome (all runs of this state file); retried counts attempts.', outputs.flatMap((o) => OUTCOMES.map((k): Sample => [{ output: o, outcome: k }, counters.get(o)?.get(k) ?? 0])));
  w.family('lkrg_siem_source_up', 'gauge', '1 while the source reads its input, 0 while it reports a problem (see /health for which).', [...src.summary.sourceHealth].map(([id, h]): Sample => [{ source: id }, h ? 0 : 1]));
  w.family('lkrg_siem_output_up', 'gauge', '1 when the output is delivering (running), else 0 (starting, halted by a configuration error, stopped).', src.workers.map((x): Sample => [{ output: x.name }, x.status.state === 'running' ? 1 : 0]));
  w.family('lkrg_siem_output_state', 'gauge', 'The state of each output: 1 for the current one.', src.workers.flatMap((x) => STATES.map((s): Sample => [{ output: x.name, state: s }, x.status.state === s ? 1 : 0])));
  w.family('lkrg_siem_output_queue_events', 'gauge', 'Events waiting in the output\'s durable queue.', src.workers.map((x): Sample => [{ output: x.name }, Math.max(0, x.depth().events)]));
  w.family('lkrg_siem_output_queue_bytes', 'gauge', 'Payload bytes waiting in the output\'s durable queue.', src.workers.map((x): Sample => [{ output: x.name }, Math.max(0, x.depth().bytes)]));
  w.family('lkrg_siem_output_oldest_queued_age_seconds', 'gauge', 'Age of the oldest queued event (0 when the queue is empty).', src.workers.map((x): Sample => {
    const head = src.store.queueHeadMeta(x.name, 0);
    return [{ output: x.name }, head ? Math.max(0, (nowMs - head.enqueuedAt) / 1000) : 0];
  }));
  w.family('lkrg_siem_output_requests_in_flight', 'gauge', 'Requests the output has in flight.', src.workers.map((x): Sample => [{ output: x.name }, x.status.inFlight]));
  w.family('lkrg_siem_output_last_error_timestamp_seconds', 'gauge', 'When the output last failed a request or its start (0: not in this run).', src.workers.map((x): Sample => [{ output: x.name }, (x.status.lastErrorAt ?? 0) / 1000]));
  w.family('lkrg_siem_output_last_delivery_timestamp_seconds', 'gauge', 'When a request of the output last delivered events (0: not in this run).', src.workers.map((x): Sample => [{ output: x.name }, (x.status.lastDeliveredAt ?? 0) / 1000]));
  w.family('lkrg_siem_output_failing', 'gauge', '1 when the output\'s latest request (or start) failed and nothing was delivered since.', src.workers.map((x): Sample => [{ output: x.name }, failing(x) ? 1 : 0]));
  const deadRows: Sample[] = [[{ kind: 'input' }, dead.input]];
  for (const [o, n] of [...dead.delivery].sort((a, b) => a[0].localeCompare(b[0]))) deadRows.push([{ kind: 'delivery', output: o }, n]);
  w.family('lkrg_siem_dead_letters', 'gauge', 'Dead letters kept in the state file (input: malformed records; delivery: events an output rejected).', deadRows);

  const fileGauge = (f: SourceGaugeFamily): Sample[] => [...(src.summary.sourceGauges.get(f)?.values() ?? [])].map((g): Sample => [{ ...g.labels }, g.value]);
  w.family('lkrg_siem_source_unread_bytes', 'gauge', 'Live file sources: bytes the followed files hold beyond what the source has read (their sizes taken every 5 s, also while outputs hold the source); growing means it does not keep up.', fileGauge('file_unread_bytes'));
  w.family('lkrg_siem_source_files_followed', 'gauge', 'Live file sources: files followed (live files and rotated files still read).', fileGauge('files_followed'));
  const lag = [...(src.summary.sourceGauges.get('kafka_consumer_lag')?.values() ?? [])];
  w.family('lkrg_siem_kafka_consumer_lag_messages', 'gauge', 'Kafka source: messages of each partition this member reads that the group has not committed yet (end offset minus committed offset, read every 5 s).', lag.map((g): Sample => [{ ...g.labels }, g.value]));

  // the LKRG view of this process: per host, since it started
  const hosts = [...src.summary.hosts.values()].sort((a, b) => a.host.localeCompare(b.host));
  w.family('lkrg_siem_host_events_total', 'counter', 'Events per host since lkrg-siem started.', hosts.map((h): Sample => [{ host: h.host }, h.events]));
  w.family('lkrg_siem_lkrg_alerts_total', 'counter', 'LKRG alerts per host, action (DETECT, BLOCK, ALLOW) and category since lkrg-siem started; forged lines excluded.', hosts.flatMap((h) =>
    [...h.alerts].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]): Sample => {
      const [action, ...category] = k.split(' ');
      return [{ host: h.host, action: action!, category: category.join(' ') }, n];
    }),
  ));
  w.family('lkrg_siem_stream_notices_total', 'counter', 'What the sources noticed about each host\'s stream since lkrg-siem started: gap, reboot, duplicate (records dropped), quiet, truncated, journal-missed.', hosts.flatMap((h) =>
    [...h.notices].sort((a, b) => a[0].localeCompare(b[0])).map(([type, n]): Sample => [{ host: h.host, type }, n]),
  ));
  w.family('lkrg_siem_forged_lines_total', 'counter', 'Lines claiming to be LKRG that did not come from the kernel, per host, since lkrg-siem started.', hosts.map((h): Sample => [{ host: h.host }, h.forged]));
  w.family('lkrg_siem_unknown_lkrg_lines_total', 'counter', 'LKRG lines that matched no template, per host, since lkrg-siem started.', hosts.map((h): Sample => [{ host: h.host }, h.unknown]));
  w.family('lkrg_siem_host_last_event_timestamp_seconds', 'gauge', 'Event time of the newest event per host (alert on hosts that went silent).', hosts.map((h): Sample => [{ host: h.host }, (h.lastUs ?? 0) / 1e6]));
  return w.text();
}

/**
 * True when the output's latest outcome was a failure: it failed a request (or its start) and
 * delivered nothing since.
 */
function failing(x: Delivery): boolean {
  const { lastErrorAt, lastDeliveredAt } = x.status;
  return lastErrorAt !== undefined && (lastDeliveredAt === undefined || lastErrorAt > lastDeliveredAt);
}

/**
 * The /health answer: 200 `ok` when every output is running and its latest request did not
 * fail, and no source reports a problem (SourceContext.health); else 503 `degraded`, and the
 * body says which output is not (state, failing, last error) and which source has what problem
 * since when.
 */
export function renderHealth(src: MetricsSources, nowMs = Date.now()): { status: number; body: string } {
  const outputs: Record<string, Record<string, unknown>> = {};
  const sources: Record<string, Record<string, unknown>> = {};
  let ok = true;
  for (const [id, h] of src.summary.sourceHealth) {
    if (h) ok = false;
    sources[id] = h ? { reading: false, problem: h.problem, since: new Date(h.since).toISOString() } : { reading: true };
  }
  for (const x of src.workers) {
    const bad = failing(x);
    if (x.status.state !== 'running' || bad) ok = false;
    const head = src.store.queueHeadMeta(x.name, 0);
    outputs[x.name] = {
      state: x.status.state,
      failing: bad,
      queue_events: Math.max(0, x.depth().events),
      oldest_queued_age_s: head ? Math.round((nowMs - head.enqueuedAt) / 1000) : 0,
      ...(x.status.fatalError !== undefined ? { fatal_error: x.status.fatalError } : {}),
      ...(x.status.lastError !== undefined ? { last_error: x.status.lastError, last_error_at: new Date(x.status.lastErrorAt ?? 0).toISOString() } : {}),
    };
  }
  return { status: ok ? 200 : 503, body: JSON.stringify({ status: ok ? 'ok' : 'degraded', sources, outputs }) + '\n' };
}

/**
 * Starts the endpoint on `listen` (`HOST:PORT`, `[v6]:PORT`, `:PORT` for every interface; checked by the config). Called by the
 * forwarder when `metrics.listen` is set. Throws ConfigError naming `metrics.listen` when the
 * address cannot be bound (in use, not local). A scrape that fails answers 500 and is logged;
 * it never stops the run.
 */
export async function startMetricsServer(
  listen: string,
  src: MetricsSources,
  log: (level: 'info' | 'warn' | 'error', message: string) => void,
): Promise<{ readonly url: string; close(): Promise<void> }> {
  const cut = listen.lastIndexOf(':');
  let host = listen.slice(0, cut);
  if (host.startsWith('[')) host = host.slice(1, -1);
  const port = Number(listen.slice(cut + 1));
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : renderMetrics(src));
      } else if (path === '/health') {
        const h = renderHealth(src);
        res.writeHead(h.status, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : h.body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
      }
    } catch (err) {
      log('warn', `Metrics: scrape of ${req.url} failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('scrape failed\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConfigError('metrics.listen', listen, `cannot listen there (${err.code ?? err.message}); choose a free local address such as 127.0.0.1:9464`)),
    );
    server.listen({ host: host === '' ? undefined : host, port }, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  log('info', `Metrics at ${url}/metrics, health at ${url}/health.`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
