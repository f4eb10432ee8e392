import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/core/types.js';
import { KAFKA_OUTPUT_DEFAULTS, resolveKafkaOutputConfig, topicFor } from '../../../../outputs/kafka/kafka-output-spec.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kafka-spec-'));
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
const caFile = path.join(dir, 'ca.pem');
const keyFile = path.join(dir, 'client.key');
const pwFile = path.join(dir, 'pw');
writeFileSync(caFile, PEM_CERT);
writeFileSync(keyFile, PEM_KEY);
writeFileSync(pwFile, 's3cret-from-file\n');

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const base = { brokers: ['127.0.0.1:9092'], topic: 'lkrg-{dataset}' };

describe('resolveKafkaOutputConfig', () => {
  it('fills the defaults', () => {
    const c = resolveKafkaOutputConfig(base, 'k');
    expect(c).toEqual({
      brokers: ['127.0.0.1:9092'],
      topic: 'lkrg-{dataset}',
      clientId: KAFKA_OUTPUT_DEFAULTS.client_id,
      valueFormat: 'ecs_json',
      compression: 'gzip',
      requestTimeoutMs: 30_000,
      connectionTimeoutMs: 5_000,
      maxMessageBytes: 1_000_000,
    });
    expect(topicFor(c.topic, 'lkrg.alert')).toBe('lkrg-lkrg.alert');
  });

  it('accepts kafka:// and kafka+ssl:// broker URLs; kafka+ssl turns TLS on', () => {
    expect(resolveKafkaOutputConfig({ ...base, brokers: ['kafka://a.example:9092', 'b:9092'] }, 'k').brokers).toEqual(['a.example:9092', 'b:9092']);
    const c = resolveKafkaOutputConfig({ ...base, brokers: ['kafka+ssl://127.0.0.1:9093'], tls: { ca_file: caFile } }, 'k');
    expect(c.brokers).toEqual(['127.0.0.1:9093']);
    expect(c.tls).toMatchObject({ verify: true, ca: PEM_CERT, caFile });
    expect(configError(() => resolveKafkaOutputConfig({ ...base, brokers: ['kafka+ssl://a:1', 'kafka://b:2'] }, 'k')).key).toBe('outputs.k.brokers');
    expect(configError(() => resolveKafkaOutputConfig({ ...base, brokers: ['kafka+ssl://a:1'], tls: { enabled: false } }, 'k')).key).toBe('outputs.k.tls.enabled');
  });

  it.each([
    [{ ...base, brokers: [] }, 'outputs.k.brokers'],
    [{ ...base, brokers: 'a:1' }, 'outputs.k.brokers'],
    [{ ...base, brokers: ['nohost'] }, 'outputs.k.brokers[0]'],
    [{ ...base, brokers: ['a:70000'] }, 'outputs.k.brokers[0]'],
    [{ ...base, topic: '' }, 'outputs.k.topic'],
    [{ ...base, topic: 'lkrg-{host}' }, 'outputs.k.topic'],
    [{ ...base, topic: 'bad topic' }, 'outputs.k.topic'],
    [{ ...base, value_format: 'xml' }, 'outputs.k.value_format'],
    [{ ...base, compression: 'zstd' }, 'outputs.k.compression'],
    [{ ...base, acks: 1 }, 'outputs.k.acks'],
    [{ ...base, max_in_flight_requests: 5 }, 'outputs.k.max_in_flight_requests'],
    [{ ...base, request_timeout_ms: 10 }, 'outputs.k.request_timeout_ms'],
    [{ ...base, request_timeout_ms: '30s' }, 'outputs.k.request_timeout_ms'],
    [{ ...base, client_id: 'a b' }, 'outputs.k.client_id'],
    [{ ...base, topics: 'x' }, 'outputs.k.topics'],
    [{ ...base, tls: { enabled: true, cert_file: caFile } }, 'outputs.k.tls.key_file'],
    [{ ...base, tls: { enabled: true, ca_file: keyFile } }, 'outputs.k.tls.ca_file'],
    [{ ...base, tls: { enabled: true, ca_file: path.join(dir, 'missing.pem') } }, 'outputs.k.tls.ca_file'],
    [{ ...base, tls: { enabled: false, ca_file: caFile } }, 'outputs.k.tls.enabled'],
    [{ ...base, tls: { enabled: true, verfy: false } }, 'outputs.k.tls.verfy'],
    [{ ...base, sasl: { mechanism: 'gssapi', username: 'u', password_env: 'P' } }, 'outputs.k.sasl.mechanism'],
    [{ ...base, sasl: { mechanism: 'plain', password_env: 'P' } }, 'outputs.k.sasl.username'],
    [{ ...base, sasl: { mechanism: 'plain', username: 'u' } }, 'outputs.k.sasl'],
    [{ ...base, sasl: { mechanism: 'plain', username: 'u', password_env: 'P', password_file: pwFile } }, 'outputs.k.sasl'],
    [{ ...base, sasl: { mechanism: 'plain', username: 'u', password_env: 'UNSET_VAR_FOR_TEST' } }, 'outputs.k.sasl.password_env'],
    [{ ...base, sasl: { mechanism: 'plain', username: 'u', password_file: path.join(dir, 'nope') } }, 'outputs.k.sasl.password_file'],
  ])('rejects %j at %s', (cfg, key) => {
    const err = configError(() => resolveKafkaOutputConfig(cfg, 'k', {}));
    expect(err.key).toBe(key);
    expect(err.fix.length).toBeGreaterThan(10);
  });

  it('refuses an inline password without echoing it', () => {
    const err = configError(() => resolveKafkaOutputConfig({ ...base, sasl: { mechanism: 'plain', username: 'u', password: 'hunter2' } }, 'k'));
    expect(err.key).toBe('outputs.k.sasl.password');
    expect(err.message).not.toContain('hunter2');
    expect(err.fix).toMatch(/password_env|password_file/);
  });

  it('reads the password from the environment or a file', () => {
    const fromEnv = resolveKafkaOutputConfig({ ...base, sasl: { mechanism: 'scram-sha-512', username: 'u', password_env: 'KPW' } }, 'k', { KPW: 'from-env' });
    expect(fromEnv.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'from-env' });
    const fromFile = resolveKafkaOutputConfig({ ...base, sasl: { mechanism: 'scram-sha-256', username: 'u', password_file: pwFile } }, 'k', {});
    expect(fromFile.sasl?.password).toBe('s3cret-from-file');
  });

  it('loads client certificate, key, verify and server_name', () => {
    const c = resolveKafkaOutputConfig(
      { ...base, tls: { enabled: true, cert_file: caFile, key_file: keyFile, verify: false, server_name: 'kafka.internal' } },
      'k',
    );
    expect(c.tls).toEqual({ verify: false, cert: PEM_CERT, key: PEM_KEY, serverName: 'kafka.internal', ca: undefined, caFile: undefined });
  });
});
