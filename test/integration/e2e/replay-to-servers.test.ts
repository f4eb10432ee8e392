/**
 * End to end through the CLI: a replayed multi-host lkrg-logger store is delivered to real
 * Kafka, Elasticsearch and OpenSearch servers in one run, next to a file output that serves as
 * the reference; then read back from each server and compared (count, ids, per-host order in
 * Kafka, field types in the search servers). Also: an outage mid-replay, a SIGKILL
 * mid-delivery, a fatal configuration error, and back-pressure with a dead server.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, repoRoot, runCli, startCli } from '../../support/cli.js';
import { peerForSuite, stopPeer, usePeer } from '../../support/peers.js';
import { consumeWithKafkajs, consumeWithKcat, idsPerKey } from '../kafka/kafka-helpers.js';
import { http, idsIn } from '../elasticsearch/search-suite.js';
import { generateStore } from '../../bench/generate-store.js';

interface Doc {
  event: { id: string; dataset: string };
  host: { ip?: string[]; name?: string };
  data_stream: { namespace: string };
}

function readNdjson(path: string): Doc[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Doc);
}

function hostKey(d: Doc): string {
  return d.host.ip?.[0] ?? d.host.name ?? '';
}

const sharedSamples = join(repoRoot, '..', 'shared', 'samples');
// Peers keep their data between runs: every index and topic name carries this run's stamp.
const run = `r${Date.now().toString(36)}`;

describe('replay into Kafka, Elasticsearch and OpenSearch', () => {
  const kafka = peerForSuite('kafka');
  const es = peerForSuite('elasticsearch');
  const os = peerForSuite('opensearch');
  let dir: string;
  let store: string;

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-e2e-'));
    store = join(dir, 'store');
    cpSync(join(repoRoot, 'test', 'fixtures', 'demo', 'lkrg-logger'), store, { recursive: true });
    generateStore(join(dir, 'gen'), { records: 6000, hosts: 3, lkrgShare: 0.2, sharedSamples });
    cpSync(join(dir, 'gen'), store, { recursive: true });
  });

  it('delivers the same events to every output: counts, ids, per-host order, field types', async () => {
    const topic = `e2e-${run}-{dataset}`;
    const ref = join(dir, 'ref.ndjson');
    const r = await runCli(
      [
        'replay', store, '--no-progress', '--state', join(dir, 'state.db'),
        '--output', `file:${ref}`,
        '--output', `${kafka.env.KAFKA_URL}/${encodeURIComponent(topic)}`,
        '--output', `elasticsearch+${es.env.ELASTICSEARCH_URL}/e2e${run}-{dataset}?install_templates=true&template_name=e2e${run}`,
        '--output', `opensearch+${os.env.OPENSEARCH_URL}/e2e${run}-{dataset}?install_templates=true&template_name=e2e${run}`,
      ],
      { timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const docs = readNdjson(ref);
    expect(docs.length).toBeGreaterThan(1000);
    const ids = docs.map((d) => d.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(r.stderr).toMatch(/output kafka: queued \d+, delivered \d+/);

    // Kafka, read with kafkajs: every id once per topic; per host the order of the file output.
    const datasets = [...new Set(docs.map((d) => d.event.dataset))];
    const topics = datasets.map((ds) => topic.replace('{dataset}', ds));
    const msgs = await consumeWithKafkajs([kafka.env.KAFKA_BROKERS!], topics, docs.length, 120_000);
    const got = msgs.map((m) => m.headers.event_id);
    expect(new Set(got)).toEqual(new Set(ids));
    const expectedOrder = new Map<string, string[]>();
    for (const d of docs) {
      const k = `${topic.replace('{dataset}', d.event.dataset)}/${hostKey(d)}`;
      expectedOrder.set(k, [...(expectedOrder.get(k) ?? []), d.event.id]);
    }
    const dedup = new Map([...idsPerKey(msgs)].map(([k, v]) => [k, v.filter((id, i) => v.indexOf(id) === i)]));
    expect(dedup).toEqual(expectedOrder);
    // ... and with kcat, an independent client.
    for (const t of topics) {
      const viaKcat = await consumeWithKcat(kafka.env.KAFKA_BROKERS!, t);
      const expected = docs.filter((d) => topic.replace('{dataset}', d.event.dataset) === t).map((d) => d.event.id);
      expect(new Set(viaKcat.map((m) => m.headers.event_id))).toEqual(new Set(expected));
      expect(viaKcat.every((m) => (JSON.parse(m.value) as Doc).event.id === m.headers.event_id)).toBe(true);
    }

    // Elasticsearch and OpenSearch: same ids, no duplicates, ECS types from the templates.
    for (const base of [es.env.ELASTICSEARCH_URL!, os.env.OPENSEARCH_URL!]) {
      const found: string[] = [];
      for (const ds of datasets) found.push(...(await idsIn(base, `e2e${run}-${ds}`)));
      expect(found.length).toBe(ids.length);
      expect(new Set(found)).toEqual(new Set(ids));
      const m = await http(base, 'GET', `/e2e${run}-lkrg.alert/_mapping`);
      const props = JSON.stringify(m.json);
      expect(props).toMatch(/"@timestamp":\{"type":"date/);
      const mapping = Object.values(m.json as Record<string, { mappings: { properties: Record<string, any> } }>)[0]!.mappings.properties;
      expect(mapping.process.properties.pid.type).toBe('long');
      expect(mapping.host.properties.ip.type).toBe('ip');
      expect(mapping.event.properties.id.type).toBe('keyword');
    }
  }, 600_000);

  it('replaying the same store again adds no duplicates in Elasticsearch (ids are deterministic)', async () => {
    const state = join(dir, 'again.db');
    const out = `elasticsearch+${es.env.ELASTICSEARCH_URL}/again${run}-{dataset}`;
    const first = await runCli(['replay', store, '--no-progress', '--state', state, '--output', out], { timeoutMs: 300_000 });
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(['replay', store, '--no-progress', '--state', state, '--output', out], { timeoutMs: 300_000 });
    expect(second.code, second.stderr).toBe(0);
    const ids = [...(await idsIn(es.env.ELASTICSEARCH_URL!, `again${run}-lkrg.alert`)), ...(await idsIn(es.env.ELASTICSEARCH_URL!, `again${run}-lkrg.log`))];
    expect(new Set(ids).size).toBe(ids.length);
    const ref = join(dir, 'again-ref.ndjson');
    const r = await runCli(['replay', store, '--no-progress', '--state', join(dir, 'again-ref.db'), '--output', `file:${ref}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(ids.length).toBe(readNdjson(ref).length);
  }, 600_000);
});

describe('delivery survives outages, crashes and full queues', () => {
  let dir: string;
  let store: string;
  let refIds: string[];

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-e2e-fault-'));
    store = join(dir, 'store');
    generateStore(store, { records: 40_000, hosts: 4, lkrgShare: 0.25, sharedSamples });
    const ref = join(dir, 'ref.ndjson');
    const r = await runCli(['replay', store, '--no-progress', '--state', join(dir, 'ref.db'), '--output', `file:${ref}`]);
    expect(r.code, r.stderr).toBe(0);
    refIds = readNdjson(ref).map((d) => d.event.id);
  });

  it('an OpenSearch outage mid-delivery: everything arrives once the server is back, without duplicates', async () => {
    const env = await usePeer('opensearch:outage');
    const base = env.OPENSEARCH_URL!;
    const cfg = join(dir, 'outage.yaml');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(dir, 'outage.db')}`,
        'sources:',
        `  - { type: logger_store, path: ${store}, mode: replay }`,
        'outputs:',
        '  - type: opensearch',
        '    name: soc-opensearch',
        `    urls: [${base}]`,
        `    index: outage${run}-{dataset}`,
        '    batch: { max_events: 100, max_in_flight: 1 }',
        '    retry: { initial_backoff_ms: 200, max_backoff_ms: 2000 }',
        '',
      ].join('\n'),
    );
    const child = startCli(['run', '--config', cfg]);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    // stop the server once delivery is under way
    const t0 = Date.now();
    for (;;) {
      const c = await http(base, 'GET', `/outage${run}-*/_count`).catch(() => ({ status: 0, json: {} as any }));
      if (c.status === 200 && c.json.count > 0) break;
      if (Date.now() - t0 > 120_000) throw new Error(`no delivery started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await stopPeer('opensearch:outage');
    await new Promise((r) => setTimeout(r, 5000));
    expect(child.exitCode, stderr).toBeNull(); // still waiting to deliver, not failed
    await usePeer('opensearch:outage');
    const code = await exited;
    expect(code, stderr).toBe(0);
    const ids = [...(await idsIn(base, `outage${run}-lkrg.alert`)), ...(await idsIn(base, `outage${run}-lkrg.log`))];
    expect(ids.length).toBe(refIds.length);
    expect(new Set(ids)).toEqual(new Set(refIds));
    expect(stderr).toMatch(/output soc-opensearch: queued \d+, delivered \d+, retried [1-9]/);
    await stopPeer('opensearch:outage');
  }, 600_000);

  it('SIGKILL mid-delivery to Elasticsearch, restart with --resume: nothing lost, nothing duplicated', async () => {
    const env = await usePeer('elasticsearch');
    const base = env.ELASTICSEARCH_URL!;
    const state = join(dir, 'kill.db');
    const out = `elasticsearch+${base}/kill${run}-{dataset}`;
    let kills = 0;
    for (let i = 0; i < 3; i++) {
      const child = startCli(['replay', store, '--no-progress', '--state', state, '--output', out, ...(i ? ['--resume'] : [])]);
      const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      const t = setTimeout(() => {
        if (child.exitCode === null) {
          child.kill('SIGKILL');
          kills++;
        }
      }, 1200 + i * 700);
      const code = await exited;
      clearTimeout(t);
      if (code === 0) break;
    }
    const fin = await runCli(['replay', store, '--no-progress', '--state', state, '--output', out, '--resume'], { timeoutMs: 300_000 });
    expect(fin.code, fin.stderr).toBe(0);
    expect(kills).toBeGreaterThan(0);
    const ids = [...(await idsIn(base, `kill${run}-lkrg.alert`)), ...(await idsIn(base, `kill${run}-lkrg.log`))];
    expect(ids.length).toBe(refIds.length);
    expect(new Set(ids)).toEqual(new Set(refIds));
  }, 600_000);

  it('a wrong Kafka password halts that output with a clear error naming it; the file output still gets everything', async () => {
    const env = await usePeer('kafka');
    writeFileSync(join(dir, 'bad-password'), 'not-the-password');
    const cfg = join(dir, 'bad-sasl.yaml');
    const ref = join(dir, 'sasl-file.ndjson');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(dir, 'sasl.db')}`,
        'sources:',
        `  - { type: logger_store, path: ${store}, mode: replay }`,
        'outputs:',
        `  - { type: file, name: archive, path: ${ref} }`,
        '  - type: kafka',
        '    name: soc-kafka',
        `    brokers: [${env.KAFKA_TLS_BROKERS}]`,
        `    topic: sasl${run}-{dataset}`,
        `    tls: { enabled: true, ca_file: ${env.KAFKA_CA_FILE} }`,
        `    sasl: { mechanism: scram-sha-512, username: ${env.KAFKA_SASL_USERNAME}, password_file: ${join(dir, 'bad-password')} }`,
        '',
      ].join('\n'),
    );
    const t0 = Date.now();
    const r = await runCli(['run', '--config', cfg], { timeoutMs: 120_000 });
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Output soc-kafka: HALTED by a configuration error: .*(SASL|auth)/i);
    expect(r.stderr).not.toContain('not-the-password');
    expect(readNdjson(ref).length).toBe(refIds.length);
    const st = await runCli(['status', '--config', cfg, '--json']);
    const status = JSON.parse(st.stdout) as { outputs: Record<string, { queue_depth: number }> };
    expect(status.outputs['soc-kafka']!.queue_depth).toBe(refIds.length);
  }, 300_000);

  it('back-pressure: with the server down and a small queue, the source stops reading and memory stays flat', async () => {
    const big = join(dir, 'big');
    generateStore(big, { records: 400_000, hosts: 4, lkrgShare: 0.25, sharedSamples });
    const cfg = join(dir, 'bp.yaml');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(dir, 'bp.db')}`,
        'sources:',
        `  - { type: logger_store, path: ${big}, mode: replay }`,
        'outputs:',
        '  - type: kafka',
        '    name: dead-kafka',
        '    brokers: ["127.0.0.1:9"]',
        '    topic: lkrg-{dataset}',
        '    queue: { max_events: 2000 }',
        '    retry: { initial_backoff_ms: 200, max_backoff_ms: 1000 }',
        '',
      ].join('\n'),
    );
    const child = startCli(['run', '--config', cfg]);
    const rss: number[] = [];
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      rss.push(Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024);
    }
    const st = await runCli(['status', '--config', cfg, '--json']);
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
    const status = JSON.parse(st.stdout) as { pipeline: { records_read: number }; outputs: Record<string, { queue_depth: number }> };
    expect(status.outputs['dead-kafka']!.queue_depth).toBeLessThanOrEqual(2000 + 4096);
    expect(status.pipeline.records_read).toBeLessThan(100_000 * 0.5 + 20_000); // far from the 100k LKRG records
    const late = rss.slice(3);
    expect(Math.max(...late) - Math.min(...late)).toBeLessThan(40);
    expect(Math.max(...rss)).toBeLessThan(250);
  }, 300_000);
});
