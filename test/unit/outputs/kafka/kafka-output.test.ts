import kafkajs from 'kafkajs';
import type { Kafka, KafkaConfig, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../../src/core/output.js';
import { ConfigError } from '../../../../src/core/types.js';
import { createKafkaOutput, type KafkaOutputConfig } from '../../../../outputs/kafka/kafka-output.js';

const { KafkaJSProtocolError, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } = kafkajs;
// the hand-written kafkajs types omit the message parameter
const KafkaJSSASLAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

function ev(i: number, host = `h${i % 3}`, size = 10): QueuedEvent {
  const doc = { 'event.id': `e${i}`, 'host.name': host, message: 'x'.repeat(size) };
  return { id: `e${i}`, doc, json: JSON.stringify(doc), key: host, dataset: i % 2 ? 'lkrg.log' : 'lkrg.alert' };
}

/** A scripted kafkajs client: `onSend` decides what each sendBatch does. */
function fakeClient(onSend: (batch: ProducerBatch, call: number) => Promise<void> | void, onConnect?: (n: number) => Promise<void> | void) {
  const state = { producers: 0, connects: 0, disconnects: 0, sends: [] as ProducerBatch[], ok: [] as ProducerBatch[], config: undefined as KafkaConfig | undefined, producerOpts: [] as unknown[] };
  const createClient = (config: KafkaConfig) => {
    state.config = config;
    return {
      producer: (opts: unknown) => {
        state.producers++;
        state.producerOpts.push(opts);
        return {
          connect: async () => {
            state.connects++;
            await onConnect?.(state.connects);
          },
          disconnect: async () => {
            state.disconnects++;
          },
          sendBatch: async (b: ProducerBatch) => {
            state.sends.push(b);
            await onSend(b, state.sends.length);
            state.ok.push(b);
            return [];
          },
        };
      },
      admin: () => ({ connect: async () => {}, disconnect: async () => {}, describeCluster: async () => ({ brokers: [], controller: 1, clusterId: 'c' }) }),
    } as unknown as Pick<Kafka, 'producer' | 'admin'>;
  };
  return { state, createClient };
}

const cfg: KafkaOutputConfig = { brokers: ['127.0.0.1:9092'], topic: 'lkrg-{dataset}' };
const signal = () => new AbortController().signal;
const tooLarge = () => new KafkaJSProtocolError({ type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'too large' } as never);

describe('kafka output (fake kafkajs client)', () => {
  it('sends one sendBatch with key, value, headers, templated topics, acks -1 and gzip', async () => {
    const { state, createClient } = fakeClient(() => {});
    const out = createKafkaOutput(cfg, 'k1', { createClient });
    await out.start(signal());
    const batch = [ev(0), ev(1), ev(2)];
    const results = await out.send(batch, signal());
    expect(results).toEqual([{ status: 'delivered' }, { status: 'delivered' }, { status: 'delivered' }]);
    expect(state.sends).toHaveLength(1);
    const sent = state.sends[0]!;
    expect(sent.acks).toBe(-1);
    expect(sent.compression).toBe(kafkajs.CompressionTypes.GZIP);
    expect(sent.topicMessages!.map((t) => t.topic)).toEqual(['lkrg-lkrg.alert', 'lkrg-lkrg.log']);
    expect(sent.topicMessages![0]!.messages).toEqual([
      { key: 'h0', value: batch[0]!.json, headers: { event_id: 'e0', dataset: 'lkrg.alert' } },
      { key: 'h2', value: batch[2]!.json, headers: { event_id: 'e2', dataset: 'lkrg.alert' } },
    ]);
    expect(state.producerOpts[0]).toMatchObject({ idempotent: true, maxInFlightRequests: 1 });
    expect(out.maxInFlight).toBe(1);
    expect(out.type).toBe('kafka');
    expect(state.config?.retry?.retries).toBeLessThanOrEqual(3);
    await out.close();
    expect(state.disconnects).toBe(1);
  });

  it('narrows MESSAGE_TOO_LARGE down to the offending event and delivers the rest in order', async () => {
    const { state, createClient } = fakeClient((b) => {
      const ids = b.topicMessages!.flatMap((t) => t.messages.map((m) => String((m.headers as Record<string, string>).event_id)));
      if (ids.includes('e5')) throw tooLarge();
    });
    const out = createKafkaOutput({ ...cfg, topic: 'one' }, 'k2', { createClient });
    await out.start(signal());
    const batch = Array.from({ length: 8 }, (_, i) => ev(i));
    const results = await out.send(batch, signal());
    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'rejected', 'delivered', 'delivered']);
    expect(results[5]).toMatchObject({ reason: expect.stringContaining('MESSAGE_TOO_LARGE') });
    // delivered order is the batch order minus the rejected event
    const deliveredOrder = state.ok.flatMap((b) => b.topicMessages!.flatMap((t) => t.messages.map((m) => (m.headers as Record<string, string>).event_id)));
    expect(deliveredOrder).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e6', 'e7']);
    // every failed send retired its producer
    expect(state.producers).toBeGreaterThan(1);
  });

  it('rejects events larger than max_message_bytes without sending them', async () => {
    const { state, createClient } = fakeClient(() => {});
    const out = createKafkaOutput({ ...cfg, max_message_bytes: 2_000 }, 'k3', { createClient });
    await out.start(signal());
    const results = await out.send([ev(0), ev(1, 'h1', 5_000), ev(2)], signal());
    expect(results.map((r) => r.status)).toEqual(['delivered', 'rejected', 'delivered']);
    expect(results[1]).toMatchObject({ reason: expect.stringContaining('max_message_bytes') });
    expect(state.sends[0]!.topicMessages!.flatMap((t) => t.messages)).toHaveLength(2);
  });

  it('throws a retriable OutputError for transient failures and uses a new producer next time', async () => {
    let fail = true;
    const { state, createClient } = fakeClient(() => {
      if (fail) throw new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: ECONNREFUSED', { code: 'ECONNREFUSED' } as never), { retryCount: 3, retryTime: 10 } as never);
    });
    const out = createKafkaOutput(cfg, 'k4', { createClient });
    await out.start(signal());
    const err = await out.send([ev(0), ev(1)], signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect(err).toMatchObject({ retriable: true, fatal: false });
    expect((err as Error).message).toContain('"k4"');
    fail = false;
    expect((await out.send([ev(0), ev(1)], signal())).every((r) => r.status === 'delivered')).toBe(true);
    expect(state.producers).toBe(2);
  });

  it('answers per event "retry" for the rest when a transient failure follows a partial success', async () => {
    const { createClient } = fakeClient((b, call) => {
      if (call === 1) throw tooLarge();
      if (call === 3) throw new KafkaJSConnectionError('Connection closed', {} as never);
    });
    const out = createKafkaOutput({ ...cfg, topic: 'one' }, 'k5', { createClient });
    await out.start(signal());
    const results = await out.send([ev(0), ev(1), ev(2), ev(3)], signal());
    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'retry', 'retry']);
  });

  it('throws a fatal OutputError naming the output for authorization failures', async () => {
    const { createClient } = fakeClient(() => {
      throw new KafkaJSProtocolError({ type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false, message: 'Not authorized' } as never);
    });
    const out = createKafkaOutput(cfg, 'siem-kafka', { createClient });
    await out.start(signal());
    const err = (await out.send([ev(0)], signal()).catch((e: unknown) => e)) as OutputError;
    expect(err).toBeInstanceOf(OutputError);
    expect(err.fatal).toBe(true);
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/siem-kafka.*TOPIC_AUTHORIZATION_FAILED.*Fix: grant/);
  });

  it('start() turns a SASL failure into a fatal OutputError', async () => {
    const { createClient } = fakeClient(() => {}, () => {
      throw new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed');
    });
    const out = createKafkaOutput(cfg, 'k7', { createClient });
    await expect(out.start(signal())).rejects.toMatchObject({ fatal: true, retriable: false, message: expect.stringContaining('"k7"') });
  });

  it('gives up on a hung send after request_timeout_ms and on abort, retriably', async () => {
    const { state, createClient } = fakeClient(() => new Promise<void>(() => {}));
    const out = createKafkaOutput({ ...cfg, request_timeout_ms: 1_000 }, 'k8', { createClient });
    await out.start(signal());
    const t0 = Date.now();
    await expect(out.send([ev(0)], signal())).rejects.toMatchObject({ retriable: true, message: expect.stringContaining('timed out after 1000 ms') });
    expect(Date.now() - t0).toBeLessThan(2_000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutdown')), 50);
    await expect(out.send([ev(1)], ac.signal)).rejects.toMatchObject({ retriable: true, message: expect.stringContaining('aborted') });
    expect(state.disconnects).toBeGreaterThanOrEqual(2);
  });

  it('encodes CEF with the injected encoder, and refuses cef without one', async () => {
    const { state, createClient } = fakeClient(() => {});
    const out = createKafkaOutput({ ...cfg, value_format: 'cef' }, 'k9', { createClient, encodeCef: (d) => `CEF:0|Openwall|LKRG|1|x|${String(d['event.id'])}|5|` });
    await out.start(signal());
    await out.send([ev(4)], signal());
    expect(state.sends[0]!.topicMessages![0]!.messages[0]!.value).toBe('CEF:0|Openwall|LKRG|1|x|e4|5|');
    expect(() => createKafkaOutput({ ...cfg, value_format: 'cef' }, 'k9')).toThrow(ConfigError);
  });

  it('returns [] for an empty batch and is safe to close without start', async () => {
    const { state, createClient } = fakeClient(() => {});
    const out = createKafkaOutput(cfg, 'k10', { createClient });
    expect(await out.send([], signal())).toEqual([]);
    await out.close();
    expect(state.sends).toHaveLength(0);
  });

  it('passes TLS and SASL settings to kafkajs', async () => {
    const { state, createClient } = fakeClient(() => {});
    const out = createKafkaOutput(
      { ...cfg, tls: { enabled: true, verify: false, server_name: 'kafka.local' }, sasl: { mechanism: 'scram-sha-256', username: 'u', password_env: 'PW' } },
      'k11',
      { createClient, env: { PW: 'pw' } },
    );
    await out.start(signal());
    expect(state.config?.ssl).toEqual({ rejectUnauthorized: false, servername: 'kafka.local' });
    expect(state.config?.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'u', password: 'pw' });
    await out.healthcheck!(signal());
  });
});
