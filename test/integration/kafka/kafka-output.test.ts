/**
 * The kafka output against a real Kafka 4.x broker (test peer `kafka`, see test/peers/README.md).
 * Without CI the suite is skipped when the peer cannot start; with CI=true it fails.
 */
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { OutputError, type OutputDriver } from '../../../src/core/output.js';
import { createKafkaOutput, type KafkaOutputConfig } from '../../../outputs/kafka/kafka-output.js';
import { topicFor } from '../../../outputs/kafka/kafka-output-spec.js';
import { peerForSuite, stopPeer, usePeer } from '../../support/peers.js';
import {
  chunk,
  consumeWithKafkajs,
  expectedIdsPerKey,
  kcatReadBack,
  idsPerKey,
  makeEvents,
  type ReadMessage,
  uniqueName,
} from './kafka-helpers.js';

const HOSTS = ['10.0.0.1', '10.0.0.2', 'web-3.example'] as const;
const never = () => new AbortController().signal;

async function started(config: KafkaOutputConfig, name: string, env?: NodeJS.ProcessEnv): Promise<OutputDriver> {
  const out = createKafkaOutput(config, name, { env });
  await out.start(never());
  return out;
}

describe('kafka output against a real broker', () => {
  const peer = peerForSuite('kafka');

  it('delivers 300 events from 3 hosts with key, headers and per-host order, read back by kafkajs and kcat', async () => {
    const run = uniqueName('plain');
    const template = `it-${run}-{dataset}`;
    const out = await started({ brokers: [peer.env.KAFKA_BROKERS!], topic: template }, 'kafka-it');
    expect(out.maxInFlight).toBe(1);
    const events = makeEvents(run, HOSTS, 100);
    try {
      for (const batch of chunk(events, 64)) {
        const results = await out.send(batch, never());
        expect(results).toHaveLength(batch.length);
        expect(results.every((r) => r.status === 'delivered')).toBe(true);
      }
    } finally {
      await out.close();
    }
    const topics = ['lkrg.alert', 'lkrg.log'].map((d) => topicFor(template, d));
    const expected = expectedIdsPerKey(events, (d) => topicFor(template, d));

    const viaKafkajs = await consumeWithKafkajs([peer.env.KAFKA_BROKERS!], topics, events.length);
    expect(viaKafkajs).toHaveLength(events.length);
    expect(new Set(viaKafkajs.map((m) => m.headers.event_id))).toEqual(new Set(events.map((e) => e.id)));
    expect(idsPerKey(viaKafkajs)).toEqual(expected);
    // one host = one partition per topic; value is the ECS JSON as queued
    const byId = new Map(events.map((e) => [e.id, e]));
    for (const m of viaKafkajs) {
      const ev = byId.get(m.headers.event_id!)!;
      expect(m.key).toBe(ev.key);
      expect(m.value).toBe(ev.json);
      expect(m.headers.dataset).toBe(ev.dataset);
      expect(m.topic).toBe(topicFor(template, ev.dataset));
    }
    const partitionsPerKey = new Map<string, Set<number>>();
    for (const m of viaKafkajs) {
      const k = `${m.topic}/${m.key}`;
      partitionsPerKey.set(k, (partitionsPerKey.get(k) ?? new Set()).add(m.partition));
    }
    for (const set of partitionsPerKey.values()) expect(set.size).toBe(1);

    const viaKcat = await kcatReadBack(peer.env.KAFKA_BROKERS!, topics, expected, events.length);
    for (const m of viaKcat ?? []) {
      const ev = byId.get(m.headers.event_id!)!;
      expect(m.key).toBe(ev.key);
      expect(m.headers.dataset).toBe(ev.dataset);
      expect(JSON.parse(m.value)).toEqual(ev.doc);
    }
  });

  for (const compression of ['snappy', 'lz4'] as const) {
    it(`delivers ${compression}-compressed batches the broker accepts, read back by kafkajs and kcat`, async () => {
      const run = uniqueName(compression);
      const template = `it-${run}-{dataset}`;
      const out = await started({ brokers: [peer.env.KAFKA_BROKERS!], topic: template, compression }, `kafka-${compression}`);
      const events = makeEvents(run, HOSTS, 40);
      try {
        for (const batch of chunk(events, 60)) {
          const results = await out.send(batch, never());
          expect(results.every((r) => r.status === 'delivered')).toBe(true);
        }
      } finally {
        await out.close();
      }
      const topics = ['lkrg.alert', 'lkrg.log'].map((d) => topicFor(template, d));
      const expected = expectedIdsPerKey(events, (d) => topicFor(template, d));
      const byId = new Map(events.map((e) => [e.id, e]));

      // kafkajs decodes through our codec: count the batches it hands to it
      const type = compression === 'snappy' ? kafkajs.CompressionTypes.Snappy : kafkajs.CompressionTypes.LZ4;
      const codecs = kafkajs.CompressionCodecs as Record<number, () => { compress: unknown; decompress: (b: Buffer) => Promise<Buffer> }>;
      const installed = codecs[type]!;
      let decoded = 0;
      codecs[type] = () => {
        const c = installed();
        return { ...c, decompress: (b: Buffer) => (decoded++, c.decompress(b)) };
      };
      let viaKafkajs: ReadMessage[];
      try {
        viaKafkajs = await consumeWithKafkajs([peer.env.KAFKA_BROKERS!], topics, events.length);
      } finally {
        codecs[type] = installed;
      }
      expect(decoded).toBeGreaterThan(0);
      expect(viaKafkajs).toHaveLength(events.length);
      expect(idsPerKey(viaKafkajs)).toEqual(expected);
      for (const m of viaKafkajs) expect(m.value).toBe(byId.get(m.headers.event_id!)!.json);

      // librdkafka reads the same batches
      const viaKcat = await kcatReadBack(peer.env.KAFKA_BROKERS!, topics, expected, events.length);
      for (const m of viaKcat ?? []) expect(m.value).toBe(byId.get(m.headers.event_id!)!.json);
    });
  }

  for (const mechanism of ['scram-sha-256', 'scram-sha-512', 'plain'] as const) {
    it(`delivers over TLS with SASL ${mechanism} and the generated CA`, async () => {
      const run = uniqueName(mechanism);
      const topic = `it-${run}`;
      const out = await started(
        {
          brokers: [peer.env.KAFKA_TLS_BROKERS!],
          topic,
          compression: 'none',
          tls: { enabled: true, ca_file: peer.env.KAFKA_CA_FILE! },
          sasl: { mechanism, username: peer.env.KAFKA_SASL_USERNAME!, password_env: 'IT_KAFKA_PASSWORD' },
        },
        'kafka-tls',
        { IT_KAFKA_PASSWORD: peer.env.KAFKA_SASL_PASSWORD! },
      );
      const events = makeEvents(run, HOSTS, 10);
      try {
        const results = await out.send(events, never());
        expect(results.map((r) => r.status)).toEqual(events.map(() => 'delivered'));
        await out.healthcheck!(never());
      } finally {
        await out.close();
      }
      const read = await consumeWithKafkajs([peer.env.KAFKA_BROKERS!], [topic], events.length);
      expect(idsPerKey(read)).toEqual(expectedIdsPerKey(events, () => topic));
    });
  }

  it('fails fast and fatally, naming the output, when the CA does not match', async () => {
    const out = createKafkaOutput(
      {
        brokers: [peer.env.KAFKA_TLS_BROKERS!],
        topic: 'never-written',
        tls: { enabled: true, ca_file: peer.env.KAFKA_UNTRUSTED_CA_FILE! },
        sasl: { mechanism: 'scram-sha-512', username: peer.env.KAFKA_SASL_USERNAME!, password_env: 'P' },
      },
      'kafka-wrong-ca',
      { env: { P: peer.env.KAFKA_SASL_PASSWORD! } },
    );
    const t0 = Date.now();
    const err = await out.start(never()).then(() => undefined, (e: unknown) => e);
    const elapsed = Date.now() - t0;
    await out.close();
    expect(err).toBeInstanceOf(OutputError);
    const e = err as OutputError;
    expect(e.fatal).toBe(true);
    expect(e.retriable).toBe(false);
    expect(e.message).toContain('kafka-wrong-ca');
    expect(e.message).toMatch(/TLS/);
    expect(e.message).toMatch(/tls\.ca_file/);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('fails fast and fatally when the password is wrong, without printing it', async () => {
    const wrong = 'definitely-not-the-password';
    const out = createKafkaOutput(
      {
        brokers: [peer.env.KAFKA_TLS_BROKERS!],
        topic: 'never-written',
        tls: { enabled: true, ca_file: peer.env.KAFKA_CA_FILE! },
        sasl: { mechanism: 'scram-sha-256', username: peer.env.KAFKA_SASL_USERNAME!, password_env: 'P' },
      },
      'kafka-wrong-password',
      { env: { P: wrong } },
    );
    const t0 = Date.now();
    const err = await out.start(never()).then(() => undefined, (e: unknown) => e);
    const elapsed = Date.now() - t0;
    await out.close();
    expect(err).toBeInstanceOf(OutputError);
    const e = err as OutputError;
    expect(e.fatal).toBe(true);
    expect(e.message).toContain('kafka-wrong-password');
    expect(e.message).toMatch(/sasl/i);
    expect(e.message).not.toContain(wrong);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('errors quickly, naming the output, when TLS is enabled against the plaintext listener', async () => {
    // a TLS ClientHello to a PLAINTEXT Kafka port gets no TLS answer: kafkajs reports a closed
    // connection or a timeout, never success
    const out = createKafkaOutput(
      { brokers: [peer.env.KAFKA_BROKERS!], topic: 'never-written', tls: { enabled: true }, request_timeout_ms: 3_000, connection_timeout_ms: 1_000 },
      'kafka-tls-mismatch',
    );
    const t0 = Date.now();
    const err = await out.start(never()).then(() => undefined, (e: unknown) => e);
    await out.close();
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).message).toContain('kafka-tls-mismatch');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('kafka output when the broker goes away', () => {
  // a private broker instance, so stopping it does not disturb other suites using `kafka`
  const INSTANCE = 'kafka:restart';
  const peer = peerForSuite(INSTANCE);

  it('answers retriably while the broker is stopped mid-run, then delivers everything after it is back', async () => {
    const brokers = [peer.env.KAFKA_BROKERS!];
    const run = uniqueName('restart');
    const topic = `it-${run}`;
    const requestTimeoutMs = 5_000;
    const out = await started({ brokers, topic, request_timeout_ms: requestTimeoutMs }, 'kafka-restart');
    const events = makeEvents(run, HOSTS, 60); // 180 events, 9 batches of 20
    const failed: typeof events = [];
    let stopping: Promise<void> | undefined;
    try {
      for (const [i, batch] of chunk(events, 20).entries()) {
        // batch 3 races the shutdown (SIGTERM); batches 4.. go to a stopped broker
        if (i === 3) stopping = stopPeer(INSTANCE);
        if (i === 4) await stopping;
        const t0 = Date.now();
        try {
          const results = await out.send(batch, never());
          expect(results).toHaveLength(batch.length);
          results.forEach((r, j) => {
            expect(r.status).not.toBe('rejected');
            if (r.status !== 'delivered') failed.push(batch[j]!);
          });
        } catch (err) {
          expect(err).toBeInstanceOf(OutputError);
          expect((err as OutputError).retriable).toBe(true);
          expect((err as OutputError).fatal).toBe(false);
          expect((err as OutputError).message).toContain('kafka-restart');
          failed.push(...batch);
        }
        expect(Date.now() - t0).toBeLessThan(requestTimeoutMs + 2_000);
      }
      await stopping;
      expect(failed.length).toBeGreaterThan(0);

      const env2 = await usePeer(INSTANCE);
      expect(env2.KAFKA_BROKERS).toBe(peer.env.KAFKA_BROKERS); // same port after restart
      // what the delivery layer does: re-send the failed events, in order, until delivered
      let remaining = failed;
      for (let attempt = 0; remaining.length > 0 && attempt < 10; attempt++) {
        const next: typeof events = [];
        for (const batch of chunk(remaining, 20)) {
          try {
            const results = await out.send(batch, never());
            results.forEach((r, j) => r.status !== 'delivered' && next.push(batch[j]!));
          } catch (err) {
            expect((err as OutputError).fatal).toBe(false);
            next.push(...batch);
          }
        }
        remaining = next;
        if (remaining.length > 0) await new Promise((r) => setTimeout(r, 1_000));
      }
      expect(remaining).toHaveLength(0);
    } finally {
      await out.close();
    }

    // at least once: every id arrived; duplicates allowed; per-host order of first arrivals kept
    const read: ReadMessage[] = await consumeWithKafkajs(brokers, [topic], events.length);
    const ids = new Set(read.map((m) => m.headers.event_id));
    for (const e of events) expect(ids.has(e.id)).toBe(true);
    const firstSeen = new Map<string, string[]>();
    for (const [k, list] of idsPerKey(read)) firstSeen.set(k, [...new Set(list)]);
    expect(firstSeen).toEqual(expectedIdsPerKey(events, () => topic));
  });
});
