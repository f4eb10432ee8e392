/**
 * Config keys of the `kafka` output, their defaults and validation.
 *
 * Called by the output registry (through {@link createKafkaOutput}) with the output's config
 * section as read from YAML. Every problem is reported as a {@link ConfigError} naming the key
 * (`outputs.<name>.<key>`), the bad value and the fix. Secrets (SASL password) are read here,
 * from an environment variable or a file only, and never appear in an error message.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../src/core/types.js';

/** The values of the `compression` key (codecs: kafka-codecs.ts). */
export const KAFKA_COMPRESSIONS = ['gzip', 'snappy', 'lz4', 'none'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** TLS settings of the `kafka` output (all optional; `enabled` defaults to false). */
export interface KafkaTlsConfig {
  enabled?: boolean;
  /** PEM file with the CA certificate(s) to trust instead of Node's default CA list. */
  ca_file?: string;
  /** PEM client certificate and key for mutual TLS (both or neither). */
  cert_file?: string;
  key_file?: string;
  /** Verify the broker certificate and host name (default true). */
  verify?: boolean;
  /** Host name to verify and send as SNI instead of the broker host. */
  server_name?: string;
}

/** SASL settings: the password comes from an environment variable or a file, never inline. */
export interface KafkaSaslConfig {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  /** Name of the environment variable holding the password. */
  password_env?: string;
  /** File holding the password (trailing newline ignored). */
  password_file?: string;
}

/** The `kafka` output's config section (snake_case, as in the YAML file). */
export interface KafkaOutputConfig {
  /** Seed brokers: `host:port`, also accepted as `kafka://host:port` or `kafka+ssl://host:port`. */
  brokers: string[];
  /** Topic name; `{dataset}` is replaced by the event's dataset (`lkrg-{dataset}` → `lkrg-lkrg.alert`). */
  topic: string;
  client_id?: string;
  /** Message value: the ECS JSON document (default) or a CEF line. */
  value_format?: 'ecs_json' | 'cef';
  /** Record batch compression (see kafka-codecs.ts). */
  compression?: KafkaCompression;
  /** Only -1 (all in-sync replicas) is supported: the idempotent producer requires it. */
  acks?: -1 | 'all';
  /** Only 1 is supported: kafkajs's idempotent producer keeps order only with one request in flight. */
  max_in_flight_requests?: 1;
  /** Deadline of one `send` (all kafkajs retries included) and of each broker request. */
  request_timeout_ms?: number;
  /** TCP/TLS connect timeout per broker connection. */
  connection_timeout_ms?: number;
  /** Largest encoded message (key + value + headers) sent; larger events are rejected unsent. */
  max_message_bytes?: number;
  tls?: KafkaTlsConfig;
  sasl?: KafkaSaslConfig;
}

/** Defaults of the optional keys. */
export const KAFKA_OUTPUT_DEFAULTS = {
  client_id: 'lkrg-siem',
  value_format: 'ecs_json',
  compression: 'gzip',
  acks: -1,
  max_in_flight_requests: 1,
  request_timeout_ms: 30_000,
  connection_timeout_ms: 5_000,
  // broker default message.max.bytes is 1048588 for a whole record batch; keep headroom
  max_message_bytes: 1_000_000,
  tls: { enabled: false, verify: true },
} as const;

/** The validated config with secrets and certificate files loaded (camelCase, internal). */
export interface ResolvedKafkaOutputConfig extends ResolvedKafkaConnection {
  topic: string;
  valueFormat: 'ecs_json' | 'cef';
  compression: KafkaCompression;
  maxMessageBytes: number;
}

/**
 * How to reach and log in to the brokers: shared by the kafka output and the kafka source
 * (validated by {@link resolveKafkaConnection}).
 */
export interface ResolvedKafkaConnection {
  brokers: string[];
  clientId: string;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  tls?: {
    ca?: string;
    cert?: string;
    key?: string;
    verify: boolean;
    serverName?: string;
    caFile?: string;
  };
  sasl?: { mechanism: KafkaSaslConfig['mechanism']; username: string; password: string };
}

/** Keys the output registry, the pipeline (filter) and the shared delivery layer own; accepted and ignored here. */
const SHARED_KEYS = new Set(['type', 'name', 'queue', 'batch', 'retry', 'filter']);
const TOP_KEYS = new Set([
  ...SHARED_KEYS, 'brokers', 'topic', 'client_id', 'value_format', 'compression', 'acks',
  'max_in_flight_requests', 'request_timeout_ms', 'connection_timeout_ms', 'max_message_bytes',
  'tls', 'sasl',
]);
const TLS_KEYS = new Set(['enabled', 'ca_file', 'cert_file', 'key_file', 'verify', 'server_name']);
const SASL_KEYS = new Set(['mechanism', 'username', 'password_env', 'password_file']);
const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
const TOPIC_CHARS = /^[A-Za-z0-9._-]{1,249}$/;
/** Datasets the normalizer emits; the topic template must give a legal name for each. */
export const KAFKA_DATASETS = ['lkrg.alert', 'lkrg.log'] as const;

/** Expands the topic template for one dataset. */
export function topicFor(template: string, dataset: string): string {
  return template.replaceAll('{dataset}', dataset);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates an output config section and loads its secrets and PEM files.
 * @param raw the section as parsed from YAML (untrusted shape)
 * @param name the output's name, used in key paths (`outputs.<name>.topic`)
 * @param env environment to read `sasl.password_env` from (default process.env)
 * @throws ConfigError for the first problem found
 */
export function resolveKafkaOutputConfig(
  raw: unknown,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedKafkaOutputConfig {
  const k = (key: string): string => `outputs.${name}.${key}`;
  if (!isRecord(raw)) throw new ConfigError(`outputs.${name}`, raw, 'give the kafka output a mapping of settings');
  unknownKeys(raw, TOP_KEYS, k(''), 'kafka output');
  const conn = resolveKafkaConnection(raw, k, env, KAFKA_OUTPUT_DEFAULTS.request_timeout_ms);

  // topic
  const topic = raw.topic;
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new ConfigError(k('topic'), topic, 'name the topic, e.g. "lkrg" or "lkrg-{dataset}"');
  }
  const placeholders = topic.match(/\{[^}]*\}/g) ?? [];
  for (const p of placeholders) {
    if (p !== '{dataset}') throw new ConfigError(k('topic'), topic, `${p} is not a known placeholder: only {dataset} can be used`);
  }
  for (const ds of KAFKA_DATASETS) {
    if (!TOPIC_CHARS.test(topicFor(topic, ds))) {
      throw new ConfigError(k('topic'), topic, 'a Kafka topic name has 1-249 characters from [A-Za-z0-9._-]');
    }
  }

  const valueFormat = optEnum(raw.value_format, k('value_format'), ['ecs_json', 'cef'] as const, KAFKA_OUTPUT_DEFAULTS.value_format);
  const compression = optEnum(raw.compression, k('compression'), KAFKA_COMPRESSIONS, KAFKA_OUTPUT_DEFAULTS.compression);

  if (raw.acks !== undefined && raw.acks !== -1 && raw.acks !== 'all') {
    throw new ConfigError(k('acks'), raw.acks, 'only -1 ("all") is supported: the idempotent producer needs every in-sync replica to acknowledge');
  }
  if (raw.max_in_flight_requests !== undefined && raw.max_in_flight_requests !== 1) {
    throw new ConfigError(
      k('max_in_flight_requests'), raw.max_in_flight_requests,
      'only 1 is supported: kafkajs keeps per-partition order with its idempotent producer only with one request in flight',
    );
  }
  const maxMessageBytes = optInt(raw.max_message_bytes, k('max_message_bytes'), 1_024, 100_000_000, KAFKA_OUTPUT_DEFAULTS.max_message_bytes);

  return { ...conn, topic, valueFormat, compression, maxMessageBytes };
}

/**
 * Validates the connection keys (brokers, client_id, timeouts, tls, sasl) of a kafka output or
 * source section and loads its secrets and PEM files. `k` turns a key into its path for
 * errors (`outputs.<name>.brokers`, `sources[0].brokers`).
 * @throws ConfigError for the first problem found
 */
export function resolveKafkaConnection(
  raw: Record<string, unknown>,
  k: (key: string) => string,
  env: NodeJS.ProcessEnv,
  defaultRequestTimeoutMs: number,
): ResolvedKafkaConnection {
  // brokers
  const brokersRaw = raw.brokers;
  if (!Array.isArray(brokersRaw) || brokersRaw.length === 0) {
    throw new ConfigError(k('brokers'), brokersRaw, 'list at least one broker as "host:port"');
  }
  let sslFromScheme: boolean | undefined;
  const brokers = brokersRaw.map((b, i) => {
    if (typeof b !== 'string') throw new ConfigError(k(`brokers[${i}]`), b, 'write the broker as "host:port"');
    const m = /^(?:(kafka|kafka\+ssl):\/\/)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(b.trim());
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(k(`brokers[${i}]`), b, 'write the broker as "host:port", e.g. "127.0.0.1:9092"');
    }
    if (m[1]) {
      const ssl = m[1] === 'kafka+ssl';
      if (sslFromScheme !== undefined && sslFromScheme !== ssl) {
        throw new ConfigError(k('brokers'), brokersRaw, 'use the same scheme (kafka:// or kafka+ssl://) for every broker');
      }
      sslFromScheme = ssl;
    }
    return `${m[2]}:${port}`;
  });

  const clientId = optString(raw.client_id, k('client_id'), KAFKA_OUTPUT_DEFAULTS.client_id);
  if (!/^[A-Za-z0-9._-]+$/.test(clientId)) throw new ConfigError(k('client_id'), clientId, 'use characters from [A-Za-z0-9._-]');

  const requestTimeoutMs = optInt(raw.request_timeout_ms, k('request_timeout_ms'), 100, 600_000, defaultRequestTimeoutMs);
  const connectionTimeoutMs = optInt(raw.connection_timeout_ms, k('connection_timeout_ms'), 100, 60_000, KAFKA_OUTPUT_DEFAULTS.connection_timeout_ms);

  const resolved: ResolvedKafkaConnection = { brokers, clientId, requestTimeoutMs, connectionTimeoutMs };

  // tls
  const tlsRaw = raw.tls;
  if (tlsRaw !== undefined && !isRecord(tlsRaw)) throw new ConfigError(k('tls'), tlsRaw, 'give tls as a mapping, e.g. { enabled: true, ca_file: /etc/ssl/kafka-ca.pem }');
  const tls = tlsRaw ?? {};
  unknownKeys(tls, TLS_KEYS, k('tls.'), 'tls');
  const tlsFiles = ['ca_file', 'cert_file', 'key_file', 'server_name'].some((x) => tls[x] !== undefined);
  const tlsEnabled = optBool(tls.enabled, k('tls.enabled'), sslFromScheme ?? tlsFiles);
  if (sslFromScheme === true && tls.enabled === false) {
    throw new ConfigError(k('tls.enabled'), false, 'the brokers use kafka+ssl://: set tls.enabled to true or use kafka://');
  }
  if (sslFromScheme === false && tls.enabled === true) {
    throw new ConfigError(k('tls.enabled'), true, 'the brokers use kafka:// (plaintext): use kafka+ssl:// or plain "host:port" with tls.enabled');
  }
  if (tlsEnabled) {
    const verify = optBool(tls.verify, k('tls.verify'), true);
    const caFile = optPath(tls.ca_file, k('tls.ca_file'));
    const certFile = optPath(tls.cert_file, k('tls.cert_file'));
    const keyFile = optPath(tls.key_file, k('tls.key_file'));
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new ConfigError(k(certFile ? 'tls.key_file' : 'tls.cert_file'), undefined, 'give both tls.cert_file and tls.key_file for a client certificate, or neither');
    }
    const serverName = tls.server_name === undefined ? undefined : optString(tls.server_name, k('tls.server_name'), '');
    if (serverName === '') throw new ConfigError(k('tls.server_name'), tls.server_name, 'give the host name in the broker certificate, or remove the key');
    resolved.tls = {
      verify,
      ca: caFile ? readPem(caFile, k('tls.ca_file'), 'CERTIFICATE') : undefined,
      cert: certFile ? readPem(certFile, k('tls.cert_file'), 'CERTIFICATE') : undefined,
      key: keyFile ? readPem(keyFile, k('tls.key_file'), 'PRIVATE KEY') : undefined,
      serverName,
      caFile,
    };
  } else if (tlsFiles) {
    throw new ConfigError(k('tls.enabled'), tls.enabled, 'tls files are set but tls.enabled is false: set it to true or remove the files');
  }

  // sasl
  // the config loader fills absent objects with {}: a sasl section without values means no SASL
  const saslRaw = isRecord(raw.sasl) && Object.values(raw.sasl).every((v) => v === undefined) ? undefined : raw.sasl;
  if (saslRaw !== undefined && saslRaw !== null) {
    if (!isRecord(saslRaw)) throw new ConfigError(k('sasl'), saslRaw, 'give sasl as a mapping { mechanism, username, password_env | password_file }');
    if ('password' in saslRaw) {
      throw new ConfigError(k('sasl.password'), '<redacted>', 'do not write the password in the config: use sasl.password_env (a variable name) or sasl.password_file');
    }
    unknownKeys(saslRaw, SASL_KEYS, k('sasl.'), 'sasl');
    const mechanism = optEnum(saslRaw.mechanism, k('sasl.mechanism'), MECHANISMS, undefined);
    if (mechanism === undefined) throw new ConfigError(k('sasl.mechanism'), undefined, `choose one of ${MECHANISMS.join(', ')}`);
    const username = saslRaw.username;
    if (typeof username !== 'string' || username.length === 0) throw new ConfigError(k('sasl.username'), username, 'give the SASL user name');
    const hasEnv = saslRaw.password_env !== undefined;
    const hasFile = saslRaw.password_file !== undefined;
    if (hasEnv === hasFile) {
      throw new ConfigError(k('sasl'), { password_env: saslRaw.password_env, password_file: saslRaw.password_file }, 'give exactly one of sasl.password_env and sasl.password_file');
    }
    let password: string;
    if (hasEnv) {
      const varName = saslRaw.password_env;
      if (typeof varName !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(varName)) {
        throw new ConfigError(k('sasl.password_env'), varName, 'give the name of an environment variable, e.g. KAFKA_PASSWORD');
      }
      const value = env[varName];
      if (value === undefined || value === '') {
        throw new ConfigError(k('sasl.password_env'), varName, `environment variable ${varName} is not set or empty: export it before starting`);
      }
      password = value;
    } else {
      const file = optPath(saslRaw.password_file, k('sasl.password_file'))!;
      try {
        password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new ConfigError(k('sasl.password_file'), file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path and permissions`);
      }
      if (password === '') throw new ConfigError(k('sasl.password_file'), file, 'the file is empty: write the password into it');
    }
    resolved.sasl = { mechanism, username, password };
  }
  return resolved;
}

function unknownKeys(obj: Record<string, unknown>, known: Set<string>, prefix: string, what: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.has(key)) {
      const list = [...known].filter((x) => !SHARED_KEYS.has(x)).join(', ');
      throw new ConfigError(`${prefix}${key}`, obj[key], `not a ${what} setting; known: ${list}`);
    }
  }
}

function optString(v: unknown, key: string, dflt: string): string {
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw new ConfigError(key, v, 'give a string');
  return v;
}

function optPath(v: unknown, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(key, v, 'give a file path');
  return v;
}

function optBool(v: unknown, key: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(key, v, 'give true or false');
  return v;
}

function optInt(v: unknown, key: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(key, v, `give a whole number from ${min} to ${max}`);
  }
  return v;
}

function optEnum<T extends string, D extends T | undefined>(v: unknown, key: string, allowed: readonly T[], dflt: D): T | D {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(key, v, `choose one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function readPem(file: string, key: string, label: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(key, file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path and permissions`);
  }
  if (!text.includes('-----BEGIN ') || !text.includes(label)) {
    throw new ConfigError(key, file, `not a PEM file with a ${label}: convert it with openssl (e.g. openssl x509 -inform der -out file.pem)`);
  }
  return text;
}
