/**
 * The monitoring endpoint of `lkrg-siem run` (config `metrics.listen`): /metrics read back by
 * the Prometheus project's own parser and linter (test/tools/promcheck), its figures checked
 * against what the run wrote, a hostile host name kept inside its label, and /health naming
 * the output that cannot deliver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ensureBuilt, repoRoot, startCli } from '../../support/cli.js';
import { promcheck, promcheckBinary, type PromCheck, type PromFamily } from '../../support/promcheck.js';
import { generateStore } from '../../bench/generate-store.js';
import fc from 'fast-check';
import { ExpositionWriter } from '../../../src/app/metrics-server.js';

const samples = join(repoRoot, '..', 'shared', 'samples');
/** A host name as an attacker on a journald host could set it: quotes, a newline, a backslash, a fake sample. */
const HOSTILE_HOST = 'evil"} 1\nlkrg_siem_fake_total 99\\';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sample(f: PromFamily | undefined, labels: Record<string, string>): number | undefined {
  return f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

interface Doc {
  host: { ip?: string[] | string; name?: string };
  lkrg?: { level?: string; action?: string | null; category?: string | null; forged?: boolean; legacy?: boolean };
}

describe('metrics endpoint of run', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let stderr = '';
  let udp: Socket;
  let datagrams = 0;
  let downPort: number;

  beforeAll(async () => {
    ensureBuilt();
    promcheckBinary(); // builds the Go checker once (cached), before any timing starts
    dir = mkdtempSync(join(tmpdir(), 'lkrg-metrics-'));
    mkdirSync(join(dir, 'store'));
    copyFileSync(join(samples, 'samples-lkrg-logger-store.txt'), join(dir, 'store', '10.9.8.7'));
    // journald export lines of a host whose name is hostile
    const journal = readFileSync(join(samples, 'samples-journal-json.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.stringify({ ...(JSON.parse(l) as Record<string, unknown>), _HOSTNAME: HOSTILE_HOST }));
    writeFileSync(join(dir, 'journal.json'), journal.join('\n') + '\n');
    udp = createSocket('udp4');
    udp.on('message', () => datagrams++);
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    downPort = await freePort(); // nothing listens there
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `state_file: ${join(dir, 'state.db')}`,
        'metrics:',
        '  listen: "127.0.0.1:0"',
        'sources:',
        `  - { type: logger_store, path: ${join(dir, 'store')}, mode: live, poll_interval_ms: 100 }`,
        `  - { type: journald_json, paths: [${join(dir, 'journal.json')}] }`,
        'outputs:',
        `  - { type: file, path: ${join(dir, 'events.ndjson')} }`,
        `  - { type: syslog, name: siem-up, host: 127.0.0.1, port: ${(udp.address() as { port: number }).port}, transport: udp }`,
        `  - { type: syslog, name: siem-down, host: 127.0.0.1, port: ${downPort}, transport: tcp, request_timeout_ms: 2000, retry: { initial_backoff_ms: 100, max_backoff_ms: 500 } }`,
      ].join('\n') + '\n',
    );
  }, 360_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    udp?.close();
  });

  it('serves /metrics that Prometheus parses and lints clean, with the counts of the run; /health names the output that is down', async () => {
    child = startCli(['run', '--config', join(dir, 'config.yaml')]);
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const base = await waitFor('the metrics URL in the log', () => /Metrics at (http:\/\/[^\s]+)\/metrics/.exec(stderr)?.[1]);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // every event written to the file output (it commits with the source position)
    const out = join(dir, 'events.ndjson');
    const docs = await waitFor('both sources in the file output', () => {
      if (!existsSync(out)) return undefined;
      const d = readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc);
      const hosts = new Set(d.map((x) => x.host.name));
      return hosts.has(HOSTILE_HOST) && d.some((x) => [x.host.ip].flat().includes('10.9.8.7')) ? d : undefined;
    });
    await waitFor('the UDP output to deliver everything', () => (datagrams >= docs.length ? true : undefined));

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const m: PromCheck = promcheck(text);
    expect(m.problems).toEqual([]);
    const f = m.families;

    // nothing an input line says can add a sample or a family
    expect(Object.keys(f).every((n) => n.startsWith('lkrg_siem_') || n.startsWith('process_'))).toBe(true);
    expect(f.lkrg_siem_fake_total).toBeUndefined();
    expect(text.split('\n').filter((l) => l.startsWith('lkrg_siem_fake'))).toEqual([]);

    // counters against what the run wrote
    expect(f.lkrg_siem_events_total!.type).toBe('COUNTER');
    expect(sample(f.lkrg_siem_events_total, {})).toBe(docs.length);
    // the sample store's out-of-range record (its torn last line is still awaited: live mode)
    expect(sample(f.lkrg_siem_malformed_records_total, {})).toBe(1);
    expect(sample(f.lkrg_siem_output_events_total, { output: 'siem-up', outcome: 'queued' })).toBe(docs.length);
    expect(sample(f.lkrg_siem_output_events_total, { output: 'siem-up', outcome: 'delivered' })).toBe(docs.length);
    expect(sample(f.lkrg_siem_output_events_total, { output: 'siem-down', outcome: 'delivered' })).toBe(0);
    expect(sample(f.lkrg_siem_output_up, { output: 'siem-up' })).toBe(1);
    expect(sample(f.lkrg_siem_output_failing, { output: 'siem-up' })).toBe(0);
    expect(sample(f.lkrg_siem_output_queue_events, { output: 'siem-up' })).toBe(0);
    expect(sample(f.lkrg_siem_output_queue_events, { output: 'siem-down' })).toBe(docs.length);
    expect(sample(f.lkrg_siem_output_queue_bytes, { output: 'siem-down' })).toBeGreaterThan(docs.length * 100);
    expect(sample(f.lkrg_siem_output_oldest_queued_age_seconds, { output: 'siem-down' })).toBeGreaterThan(0);
    expect(sample(f.lkrg_siem_output_failing, { output: 'siem-down' })).toBe(1);
    expect(sample(f.lkrg_siem_output_last_error_timestamp_seconds, { output: 'siem-down' })).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(sample(f.lkrg_siem_dead_letters, { kind: 'input' })).toBe(1);
    const states = f.lkrg_siem_output_state!.samples.filter((s) => s.labels.output === 'siem-down');
    expect(states.map((s) => s.value).reduce((a, b) => a + b)).toBe(1);

    // the per-host LKRG view, against the documents
    for (const host of ['10.9.8.7', HOSTILE_HOST]) {
      const mine = docs.filter((d) => (host === HOSTILE_HOST ? d.host.name === HOSTILE_HOST : [d.host.ip].flat().includes(host)));
      expect(mine.length).toBeGreaterThan(0);
      expect(sample(f.lkrg_siem_host_events_total, { host })).toBe(mine.length);
      const alerts = new Map<string, number>();
      for (const d of mine) {
        const l = d.lkrg;
        if (!l || l.forged || !(l.level === 'ALERT' || (l.legacy && l.action))) continue;
        const k = `${l.action ?? '-'}|${l.category ?? '-'}`;
        alerts.set(k, (alerts.get(k) ?? 0) + 1);
      }
      const got = new Map(
        f.lkrg_siem_lkrg_alerts_total!.samples.filter((s) => s.labels.host === host).map((s) => [`${s.labels.action}|${s.labels.category}`, s.value]),
      );
      expect(got).toEqual(alerts);
      expect(sample(f.lkrg_siem_forged_lines_total, { host })).toBe(mine.filter((d) => d.lkrg?.forged).length);
    }
    expect(sample(f.lkrg_siem_stream_notices_total, { host: '10.9.8.7', type: 'gap' })).toBe(3);
    expect(sample(f.lkrg_siem_stream_notices_total, { host: '10.9.8.7', type: 'reboot' })).toBe(1);
    expect(sample(f.lkrg_siem_host_last_event_timestamp_seconds, { host: '10.9.8.7' })).toBeCloseTo(1728899350.794889, 5) // 2024-10-14T09:49:10.794889Z;

    // /health: degraded, and it says which output and why
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; outputs: Record<string, { state: string; failing: boolean; queue_events: number; last_error?: string }> };
    expect(body.status).toBe('degraded');
    expect(body.outputs['siem-up']).toMatchObject({ state: 'running', failing: false, queue_events: 0 });
    expect(body.outputs['siem-down']).toMatchObject({ failing: true, queue_events: docs.length });
    expect(body.outputs['siem-down']!.last_error).toMatch(/ECONNREFUSED|refused/i);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);

    // SIGTERM: the run stops and the endpoint with it
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
    child = undefined;
  }, 120_000);

  it('a metrics address that cannot be bound is a configuration error naming metrics.listen', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    const cfg = join(dir, 'busy.yaml');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(dir, 'busy.db')}`,
        'metrics:',
        `  listen: "127.0.0.1:${port}"`,
        'sources:',
        `  - { type: logger_store, path: ${join(dir, 'store')}, mode: live }`,
        'outputs:',
        `  - { type: syslog, host: 127.0.0.1, port: ${downPort}, transport: udp }`,
      ].join('\n') + '\n',
    );
    const p = startCli(['run', '--config', cfg]);
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    busy.close();
    expect(code).not.toBe(0);
    expect(err).toMatch(new RegExp(`metrics\\.listen: "127\\.0\\.0\\.1:${port}" is not valid: cannot listen there \\(EADDRINUSE\\)`));
  }, 60_000);

  it('queue.max_bytes holds the sources while the run goes on (the queued bytes are counted)', async () => {
    const store = join(dir, 'big-store');
    generateStore(store, { records: 40_000, hosts: 4, lkrgShare: 0.25, sharedSamples: samples }); // about 10k events, 15 MB of JSON
    const maxBytes = 2_000_000;
    const cfg = join(dir, 'bytes.yaml');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(dir, 'bytes.db')}`,
        'metrics:',
        '  listen: "127.0.0.1:0"',
        'sources:',
        `  - { type: logger_store, path: ${store}, mode: live, poll_interval_ms: 100 }`,
        'outputs:',
        `  - { type: syslog, name: down, host: 127.0.0.1, port: ${downPort}, transport: tcp, queue: { max_events: 1000000, max_bytes: ${maxBytes} } }`,
      ].join('\n') + '\n',
    );
    const p = startCli(['run', '--config', cfg]);
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    try {
      const base = await waitFor('the metrics URL', () => /Metrics at (http:\/\/[^\s]+)\/metrics/.exec(err)?.[1]);
      await waitFor('the queue-full warning', () => (/Output down: queue full \(\d+ events, \d+ bytes\); holding the sources/.test(err) ? true : undefined));
      const scrape = async () => promcheck(await (await fetch(`${base}/metrics`)).text()).families;
      const a = await scrape();
      const bytes = sample(a.lkrg_siem_output_queue_bytes, { output: 'down' })!;
      const events = sample(a.lkrg_siem_output_queue_events, { output: 'down' })!;
      const read = sample(a.lkrg_siem_records_read_total, {})!;
      expect(bytes).toBeGreaterThanOrEqual(maxBytes);
      expect(bytes).toBeLessThan(maxBytes * 3); // at most one source batch past the bound
      expect(events).toBeLessThan(10_000 / 2);
      expect(read).toBeLessThan(40_000);
      // held: nothing more is read while the queue stays full
      await new Promise((r) => setTimeout(r, 1500));
      const b = await scrape();
      expect(sample(b.lkrg_siem_records_read_total, {})).toBe(read);
      expect(sample(b.lkrg_siem_output_queue_bytes, { output: 'down' })).toBe(bytes);
    } finally {
      p.kill('SIGKILL');
    }
  }, 120_000);

  it('any label value (quotes, backslashes, newlines, non-ASCII, a text that looks like samples) reads back exactly', () => {
    const values = fc.sample(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.constantFrom('"', '\\', '\n', '\\n', '\\"', '} 1\nx 2', 'a"b\\c\nd', '# TYPE x counter', '\u2028\u00e9'),
      ).filter((v) => !/[\ud800-\udfff]/.test(v)), // lone surrogates are not text (UTF-8 cannot carry them)
      300,
    );
    const w = new ExpositionWriter();
    w.family('t_total', 'counter', 'Help with a backslash \\ and a\nnewline.', values.map((v, i) => [{ host: v, i: String(i) }, i] as const));
    const m = promcheck(w.text());
    expect(m.families.t_total!.help).toBe('Help with a backslash \\ and a\nnewline.');
    const got = m.families.t_total!.samples.map((x) => [x.labels.i, x.labels.host ?? '', x.value]);
    expect(got.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(values.map((v, i) => [String(i), v, i]));
    expect(Object.keys(m.families)).toEqual(['t_total']);
  });
});
