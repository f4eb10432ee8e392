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
import { describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../src/core/output.js';
import type { DeliveryResult } from '../../../src/core/types.js';
import { hecEnvelope } from '../../../outputs/splunk-hec/hec-encoder.js';
import { SplunkHecOutput } from '../../../outputs/splunk-hec/splunk-hec-output.js';
import { resolveSplunkHecSettings, type SplunkHecSettings } from '../../../outputs/splunk-hec/splunk-hec-spec.js';
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
    expect(r.host).toBe(want.host);
    expect(r.source).toBe(want.source);
    expect(r.sourcetype).toBe(want.sourcetype);
    expect(r.index).toBe(want.index);
    expect(r.timeMs).toBe(Math.round(want.time! * 1000));
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
    const got = await waitForReceived(peer.env.SPLUNK_HEC_RECEIVED!, events.map((e) => e.id), 5000);
    expect(got.map(receivedId).sort()).toEqual(rest.map((e) => e.id).sort());
    expectReceivedMatches(got, rest, settings);
  });
});

describe('splunk-hec output when the receiver goes down and comes back', () => {
  // a private instance, so stopping it does not disturb the suite above
  const peer = peerForSuite('splunk-hec:restart');

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
