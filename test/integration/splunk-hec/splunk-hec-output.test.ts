/**
 * The splunk-hec output against a real HEC receiver: the OpenTelemetry Collector contrib
 * splunkhecreceiver (test peer `splunk-hec`, built with ocb; see test/peers/splunk-hec.mjs),
 * which writes what it accepted to a file that these tests read back field by field.
 * Without CI the suite is skipped when the peer cannot start; with CI=true it fails.
 *
 * Faults the real receiver cannot produce (Splunk's JSON auth codes, 503 code 9 with
 * Retry-After, code 7, acks that never arrive) are in test/unit/outputs/splunk-hec/.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../src/core/output.js';
import type { DeliveryResult } from '../../../src/core/types.js';
import { hecEnvelope } from '../../../outputs/splunk-hec/hec-encoder.js';
import { SplunkHecOutput } from '../../../outputs/splunk-hec/splunk-hec-output.js';
import { resolveSplunkHecSettings, type SplunkHecSettings } from '../../../outputs/splunk-hec/splunk-hec-spec.js';
import { DeliveryWorker, type DeliverySettings } from '../../../src/delivery/delivery-worker.js';
import { StateStore } from '../../../src/state/state-store.js';
import { peerForSuite, stopPeer, usePeer } from '../../support/peers.js';
import { makeEvents, receivedId, waitForReceived, type ReceivedHecEvent } from './hec-fixtures.js';

const signal = () => AbortSignal.timeout(20_000);

function settingsFor(env: Record<string, string>, extra: Record<string, unknown> = {}): SplunkHecSettings {
  process.env.LKRG_IT_SPLUNK_HEC_TOKEN = env.SPLUNK_HEC_TOKEN!;
  return resolveSplunkHecSettings({ url: env.SPLUNK_HEC_URL, token_env: 'LKRG_IT_SPLUNK_HEC_TOKEN', ...extra }, 'outputs.hec-it.');
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

async function sendAll(out: SplunkHecOutput, events: readonly QueuedEvent[], size = 100): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  for (const batch of chunk(events, size)) results.push(...(await out.send(batch, signal())));
  return results;
}

/** Field-by-field: what HEC received equals what the encoder was meant to send for each ECS doc. */
function expectReceivedMatches(got: readonly ReceivedHecEvent[], events: readonly QueuedEvent[], settings: SplunkHecSettings): void {
  expect(got).toHaveLength(events.length);
  const byId = new Map(got.map((r) => [receivedId(r)!, r]));
  expect(new Set(byId.keys())).toEqual(new Set(events.map((e) => e.id)));
  for (const ev of events) {
    const r = byId.get(ev.id)!;
    const want = hecEnvelope(ev, settings);
    // envelope values checked against the ECS document directly, not only against the encoder
    const d = ev.doc as { '@timestamp': string; event: Record<string, string>; host: { name?: string; ip?: string[] }; lkrg: { level: string }; rule: { id: string } };
    expect(r.host).toBe(d.host.name ?? d.host.ip![0]);
    expect(r.source).toBe(settings.source);
    expect(r.sourcetype).toBe(`lkrg:${settings.eventFormat}:${ev.dataset === 'lkrg.alert' ? 'alert' : 'log'}`);
    expect(r.index).toBe(settings.index);
    expect(r.timeMs).toBe(Date.parse(d['@timestamp']));
    const fields: Record<string, string> = {
      'event.dataset': d.event.dataset!,
      'event.action': d.event.action!,
      'event.id': ev.id,
      'lkrg.level': d.lkrg.level,
      'rule.id': d.rule.id,
    };
    if (d.host.name) fields['host.name'] = d.host.name;
    if (d.host.ip) fields['host.ip'] = d.host.ip[0]!;
    expect(r.fields).toEqual(fields);
    expect(r.fields).toEqual(want.fields);
    // the ECS document (and CIM keys) arrive unchanged: hostile text stays in its string
    expect(r.event).toEqual(want.event);
    const doc = r.event as Record<string, unknown>;
    for (const [k, v] of Object.entries(ev.doc)) expect(doc[k]).toEqual(v);
  }
}

describe('splunk-hec output against the real HEC receiver (OTel splunkhecreceiver)', () => {
  const peer = peerForSuite('splunk-hec');

  it('delivers 300 events from 5 hosts (gzip, cim format); read back: same count, same ids, fields intact', async () => {
    const settings = settingsFor(peer.env, { compression: true, index: 'lkrg_it' });
    const out = new SplunkHecOutput('hec-it', settings);
    const events = makeEvents(300, `cim-${randomUUID()}`);
    try {
      await out.start(signal());
      const results = await sendAll(out, events);
      expect(results).toEqual(events.map(() => ({ status: 'delivered' })));
    } finally {
      await out.close();
    }
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, events.map((e) => e.id));
    expectReceivedMatches(got, events, settings);
    expect(new Set(got.map((r) => r.host))).toEqual(new Set(['web-01', 'db-02', '192.0.2.33', 'build"host', 'k8s-node-5']));
    for (const r of got) {
      const e = r.event as Record<string, unknown> & { rule: { id: string; name: string } };
      expect(e).toMatchObject({ vendor_product: 'Openwall LKRG', signature_id: e.rule.id, signature: e.rule.name, dest: r.host });
    }
    // hostile process names survived byte for byte
    const names = got.map((r) => ((r.event as { process: { name: string } }).process.name));
    expect(names).toContain('evil"}{"event":"forged","sourcetype":"lkrg:fake"}');
    expect(names).toContain('nul\u0000byte');
    expect(names).toContain('line1\nline2\r\nline3');
    expect(names).toContain('"}{"');
  });

  it('ecs format, gzip off: the event body is exactly the ECS document', async () => {
    const settings = settingsFor(peer.env, { compression: false, event_format: 'ecs' });
    const out = new SplunkHecOutput('hec-it', settings);
    const events = makeEvents(60, `ecs-${randomUUID()}`);
    try {
      expect(await sendAll(out, events, 25)).toEqual(events.map(() => ({ status: 'delivered' })));
    } finally {
      await out.close();
    }
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, events.map((e) => e.id));
    expectReceivedMatches(got, events, settings);
    const byId = new Map(got.map((r) => [receivedId(r)!, r]));
    for (const ev of events) expect(byId.get(ev.id)!.event).toEqual(ev.doc);
  });

  it('ack on: counts events delivered only after /services/collector/ack reported them', async () => {
    const settings = settingsFor(peer.env, { ack: { enabled: true, poll_interval_ms: 100, timeout_ms: 10_000 } });
    const out = new SplunkHecOutput('hec-it', settings);
    const events = makeEvents(120, `ack-${randomUUID()}`);
    try {
      await out.start(signal()); // includes one ack query: the receiver has the ack extension
      const before = out.requestCount;
      const results = await sendAll(out, events, 40);
      expect(results).toEqual(events.map(() => ({ status: 'delivered' })));
      // 3 event posts plus at least one ack poll per batch
      expect(out.requestCount - before).toBeGreaterThanOrEqual(6);
    } finally {
      await out.close();
    }
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, events.map((e) => e.id));
    expectReceivedMatches(got, events, settings);
  });

  it('wrong token → fast fatal OutputError naming the output (start and send), token not shown', async () => {
    const wrong = randomUUID();
    process.env.LKRG_IT_SPLUNK_HEC_WRONG = wrong;
    const out = new SplunkHecOutput(
      'hec-wrong',
      resolveSplunkHecSettings({ url: peer.env.SPLUNK_HEC_URL, token_env: 'LKRG_IT_SPLUNK_HEC_WRONG' }, 'outputs.hec-wrong.'),
    );
    try {
      const t0 = Date.now();
      const startErr = (await out.start(signal()).catch((e: unknown) => e)) as OutputError;
      const sendErr = (await out.send(makeEvents(5, `wrong-${randomUUID()}`), signal()).catch((e: unknown) => e)) as OutputError;
      expect(Date.now() - t0).toBeLessThan(3000);
      for (const err of [startErr, sendErr]) {
        expect(err).toBeInstanceOf(OutputError);
        expect(err.fatal).toBe(true);
        expect(err.message).toContain('splunk-hec output "hec-wrong"');
        expect(err.message).toContain('HTTP 401');
        expect(err.message).not.toContain(wrong);
        expect(err.message).not.toContain(peer.env.SPLUNK_HEC_TOKEN!);
      }
    } finally {
      await out.close();
    }
  });

  it('health check answers code 17', async () => {
    const out = new SplunkHecOutput('hec-it', settingsFor(peer.env));
    try {
      await out.healthcheck(signal());
    } finally {
      await out.close();
    }
  });

  it('one oversized event in a batch: the receiver refuses the batch (400 code 6); bisect rejects exactly it, delivers the rest', async () => {
    const settings = settingsFor(peer.env, { compression: true });
    const out = new SplunkHecOutput('hec-it', settings);
    const run = `big-${randomUUID()}`;
    const events = makeEvents(40, run);
    const maxBody = Number(peer.env.SPLUNK_HEC_MAX_BODY);
    expect(maxBody).toBeGreaterThan(0);
    // a message larger than the receiver's max_request_body_size (checked after gunzip)
    const bigIndex = 17;
    const big = events[bigIndex]!;
    const bigDoc = { ...big.doc, message: 'A'.repeat(maxBody + 1024) };
    events[bigIndex] = { ...big, doc: bigDoc, json: JSON.stringify(bigDoc) };
    let results: DeliveryResult[];
    try {
      results = await out.send(events, signal());
    } finally {
      await out.close();
    }
    results.forEach((r, i) => {
      if (i === bigIndex) expect(r).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/HTTP 400 code 6 "Invalid data format"/) });
      else expect(r).toEqual({ status: 'delivered' });
    });
    const rest = events.filter((_e, i) => i !== bigIndex);
    await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, rest.map((e) => e.id));
    await new Promise((r) => setTimeout(r, 500)); // past the exporter's 100 ms flush: nothing more comes
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, events.map((e) => e.id), 0);
    expect(got.map(receivedId).sort()).toEqual(rest.map((e) => e.id).sort());
    expectReceivedMatches(got, rest, settings);
  });
});

describe('splunk-hec output when the receiver goes down and comes back', () => {
  // a private instance, so stopping it does not disturb the suite above
  const peer = peerForSuite('splunk-hec:restart');
  // `peers down` after the run stops only the plain-named peers: stop this instance here
  afterAll(() => stopPeer('splunk-hec:restart'));

  it('receiver down → retriable error; receiver up again → delivered', async () => {
    const settings = settingsFor(peer.env);
    const out = new SplunkHecOutput('hec-restart', settings);
    const events = makeEvents(30, `restart-${randomUUID()}`);
    try {
      expect(await out.send(events.slice(0, 10), signal())).toEqual(Array(10).fill({ status: 'delivered' }));
      await stopPeer('splunk-hec:restart');
      const err = (await out.send(events.slice(10), signal()).catch((e: unknown) => e)) as OutputError;
      expect(err).toBeInstanceOf(OutputError);
      expect(err.retriable).toBe(true);
      expect(err.fatal).toBe(false);
      expect(err.message).toMatch(/splunk-hec output "hec-restart": send failed: .*(ECONNREFUSED|other side closed|socket)/i);
      const env2 = await usePeer('splunk-hec:restart');
      expect(env2.SPLUNK_HEC_URL).toBe(peer.env.SPLUNK_HEC_URL); // same port after restart
      expect(await out.send(events.slice(10), signal())).toEqual(Array(20).fill({ status: 'delivered' }));
    } finally {
      await out.close();
    }
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, events.map((e) => e.id));
    expect(new Set(got.map(receivedId))).toEqual(new Set(events.map((e) => e.id)));
  });
});

describe('splunk-hec output through the shared delivery layer (real receiver)', () => {
  const peer = peerForSuite('splunk-hec');
  const delivery: DeliverySettings = {
    batch: { max_events: 50, max_bytes: 4 << 20, max_wait_ms: 0, max_in_flight: 2 },
    retry: { initial_backoff_ms: 10, max_backoff_ms: 50, max_attempts: 0 },
    queue: { max_events: 10_000, max_bytes: 64 << 20, when_full: 'block' },
    request_timeout_ms: 20_000,
  };
  function enqueue(store: StateStore, output: string, events: readonly QueuedEvent[]): void {
    store.commitBatch({
      sourceId: 'it',
      positions: {},
      queued: new Map([[output, events.map((e) => ({ eventId: e.id, key: e.key, dataset: e.dataset, namespace: e.namespace ?? 'default', payload: e.json }))]]),
    });
  }

  it('queue → batches → HEC: all delivered, the one oversized event dead-lettered with the HEC reason', async () => {
    const store = new StateStore(':memory:');
    const events = makeEvents(200, `dl-${randomUUID()}`);
    const bigDoc = { ...events[123]!.doc, message: 'B'.repeat(Number(peer.env.SPLUNK_HEC_MAX_BODY) + 10) };
    events[123] = { ...events[123]!, doc: bigDoc, json: JSON.stringify(bigDoc) };
    enqueue(store, 'hec-dl', events);
    const settings = settingsFor(peer.env, { ack: { enabled: true, poll_interval_ms: 50, timeout_ms: 5000 } });
    const w = new DeliveryWorker(store, new SplunkHecOutput('hec-dl', settings), delivery, () => {});
    w.start();
    await w.drain();
    await w.stop(Date.now() + 1000);
    expect(store.queueStats('hec-dl').depth).toBe(0);
    const dead = store.listDeadLetters({ output: 'hec-dl' });
    expect(dead.map((d) => d.eventId)).toEqual([events[123]!.id]);
    expect(dead[0]!.reason).toContain('code 6');
    const rest = events.filter((_e, i) => i !== 123);
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, rest.map((e) => e.id));
    expect(new Set(got.map(receivedId))).toEqual(new Set(rest.map((e) => e.id)));
  });

  it('wrong token: the worker halts loudly, no dead letters, the queue is kept', async () => {
    const store = new StateStore(':memory:');
    const events = makeEvents(20, `halt-${randomUUID()}`);
    enqueue(store, 'hec-halt', events);
    process.env.LKRG_IT_SPLUNK_HEC_WRONG2 = randomUUID();
    const settings = resolveSplunkHecSettings({ url: peer.env.SPLUNK_HEC_URL, token_env: 'LKRG_IT_SPLUNK_HEC_WRONG2' }, 'outputs.hec-halt.');
    const logs: string[] = [];
    const w = new DeliveryWorker(store, new SplunkHecOutput('hec-halt', settings), delivery, (_l, m) => logs.push(m), 60_000);
    w.start();
    const t0 = Date.now();
    while (w.status.state !== 'halted' && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(w.status.state).toBe('halted');
    expect(w.status.lastError).toContain('splunk-hec output "hec-halt"');
    expect(w.status.lastError).toContain('HTTP 401');
    expect(logs.join('\n')).not.toContain(process.env.LKRG_IT_SPLUNK_HEC_WRONG2);
    await w.stop(Date.now());
    expect(store.listDeadLetters({ output: 'hec-halt' })).toHaveLength(0);
    expect(store.queueStats('hec-halt').depth).toBe(events.length);
  });
});
