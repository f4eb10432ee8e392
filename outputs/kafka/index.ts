/**
 * Registers the `kafka` output type and its `--output` URL schemes
 * (`kafka://HOST:PORT/TOPIC`, `kafka+ssl://HOST:PORT/TOPIC`; one seed broker, since WHATWG URL
 * parsing refuses host lists; TOPIC may hold `{dataset}`,
 * default `lkrg-{dataset}`). Imported once by the CLI; kafka-output.ts (kafkajs) is imported
 * when a kafka output is created. The config loader validates the keys
 * with `kafkaFields`; createKafkaOutput then checks what a field spec cannot (broker syntax,
 * topic template, secrets, PEM files).
 */
import type { FieldSpec } from '../../src/config/config-spec.js';
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { registerOutputType } from '../output-registry.js';
import { KAFKA_COMPRESSIONS, KAFKA_OUTPUT_DEFAULTS as D, type KafkaOutputConfig } from './kafka-output-spec.js';

/** Config keys of the kafka output (request_timeout_ms, batch, queue, retry come from the delivery layer). */
export const kafkaFields: Readonly<Record<string, FieldSpec>> = {
  brokers: { kind: 'string_list', desc: 'Seed brokers, "host:port" (or kafka://host:port, kafka+ssl://host:port).', required: true, minItems: 1 },
  topic: { kind: 'string', desc: 'Topic; {dataset} becomes the event dataset (lkrg-{dataset} -> lkrg-lkrg.alert).', default: 'lkrg-{dataset}' },
  client_id: { kind: 'string', desc: 'Kafka client id (quotas, broker logs).', default: D.client_id },
  value_format: { kind: 'string', desc: 'Message value: the ECS JSON document or a CEF line.', default: D.value_format, enum: ['ecs_json', 'cef'] },
  compression: { kind: 'string', desc: 'Record batch compression: gzip (level 1), snappy (snappy-java framing), lz4 (LZ4 frame) or none.', default: D.compression, enum: [...KAFKA_COMPRESSIONS] },
  acks: { kind: 'int', desc: 'Fixed at -1 (all in-sync replicas): required by the idempotent producer.', default: D.acks, min: -1, max: -1 },
  max_in_flight_requests: { kind: 'int', desc: 'Fixed at 1: kafkajs keeps per-partition order with idempotence only with one request in flight.', default: 1, min: 1, max: 1 },
  connection_timeout_ms: { kind: 'int', desc: 'TCP/TLS connect timeout per broker.', default: D.connection_timeout_ms, min: 100, max: 60_000 },
  max_message_bytes: { kind: 'int', desc: 'Largest message sent; larger events are rejected (dead-lettered) unsent. Keep below the topic max.message.bytes.', default: D.max_message_bytes, min: 1024 },
  tls: {
    kind: 'object',
    desc: 'TLS to the brokers (on when ca_file/cert_file/server_name is set or brokers use kafka+ssl://).',
    fields: {
      enabled: { kind: 'bool', desc: 'Use TLS.' },
      ca_file: { kind: 'string', desc: 'PEM CA certificate(s) to trust instead of the system list.' },
      cert_file: { kind: 'string', desc: 'PEM client certificate (mutual TLS).' },
      key_file: { kind: 'string', desc: 'PEM client private key (mutual TLS).' },
      verify: { kind: 'bool', desc: 'Verify the broker certificate and host name.', default: true },
      server_name: { kind: 'string', desc: 'Host name to verify and send as SNI.' },
    },
  },
  sasl: {
    kind: 'object',
    desc: 'SASL authentication; the password only from an environment variable or a file.',
    fields: {
      mechanism: { kind: 'string', desc: 'SASL mechanism.', enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
      username: { kind: 'string', desc: 'SASL user name.' },
      password_env: { kind: 'string', desc: 'Environment variable holding the password.' },
      password_file: { kind: 'string', desc: 'File holding the password.' },
    },
  },
};

registerOutputType('kafka', {
  // one request in flight (per-host order): larger batches keep the round trips few
  batchDefaults: { max_events: 2000 },
  desc: 'Apache Kafka 0.11-4.x (kafkajs): idempotent producer, acks=-1, key = host (per-host order), headers event_id and dataset.',
  kind: 'queued',
  fields: kafkaFields,
  // kafkajs is loaded only when a kafka output is created
  createDriver: async (cfg, name, log) => {
    const [{ createKafkaOutput }, { toCef }] = await Promise.all([import('./kafka-output.js'), import('../../src/normalize/cef-encoder.js')]);
    return createKafkaOutput(cfg as unknown as KafkaOutputConfig, name, { encodeCef: toCef, ...(log ? { log } : {}) });
  },
});

/** `kafka://HOST:PORT/TOPIC` → a kafka output section. */
export function kafkaUrlToConfig(url: URL, format: 'ecs' | 'cef'): Record<string, unknown> {
  const ssl = url.protocol === 'kafka+ssl:';
  const brokers = [ssl ? `kafka+ssl://${url.host}` : url.host];
  const topic = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'lkrg-{dataset}';
  return { type: 'kafka', brokers, topic, value_format: format === 'cef' ? 'cef' : 'ecs_json' };
}

for (const scheme of ['kafka', 'kafka+ssl']) registerOutputScheme(scheme, kafkaUrlToConfig);
