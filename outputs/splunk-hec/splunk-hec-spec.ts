/**
 * Config keys of the `splunk-hec` output, their defaults, and their resolution into
 * {@link SplunkHecSettings} (token and CA file read, channel chosen).
 *
 * Called by {@link createSplunkHecOutput} with the output's validated config section. Every
 * problem is a {@link ConfigError} naming the key (`outputs.<name>.<key>`), the bad value and the
 * fix. The HEC token is read from an environment variable or a file only (there is no inline
 * `token` key), and never appears in an error message or log line.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FieldSpec } from '../../src/config/config-spec.js';
import { ConfigError } from '../../src/core/types.js';

/** Default indexed fields (`fields` of the HEC envelope): ECS paths, flattened to strings. */
export const DEFAULT_INDEXED_FIELDS: readonly string[] = [
  'event.dataset',
  'event.action',
  'event.id',
  'lkrg.level',
  'host.name',
  'host.ip',
  'rule.id',
];

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Config fields of the `splunk-hec` output (delivery fields are added by the registry). */
export const splunkHecFields: Record<string, FieldSpec> = {
  url: {
    kind: 'string',
    desc: 'HEC base URL, e.g. https://splunk.example:8088 (the paths /services/collector/... are appended).',
    required: true,
  },
  token_env: { kind: 'string', desc: 'Environment variable holding the HEC token (use this or token_file).' },
  token_file: { kind: 'string', desc: 'File holding the HEC token, trailing newline ignored (use this or token_env).' },
  event_format: {
    kind: 'string',
    desc: 'HEC event body: "cim" = the ECS document plus flat CIM-named keys (action, signature, severity, dest, ...) at its top level; "ecs" = the ECS document unchanged.',
    default: 'cim',
    enum: ['cim', 'ecs'],
  },
  sourcetype: {
    kind: 'string',
    desc: 'Sourcetype; {dataset_kind} = alert or log. Unset: lkrg:cim:{dataset_kind} or lkrg:ecs:{dataset_kind} after event_format.',
  },
  source: { kind: 'string', desc: 'HEC source of every event.', default: 'lkrg-siem' },
  index: { kind: 'string', desc: 'Splunk index (must be allowed for the token); unset = the token default index.' },
  indexed_fields: {
    kind: 'string_list',
    desc: 'ECS paths sent as indexed fields (HEC `fields`, flat strings or string lists; objects are skipped).',
    default: DEFAULT_INDEXED_FIELDS,
  },
  compression: { kind: 'bool', desc: 'gzip request bodies (Content-Encoding: gzip).', default: true },
  channel: {
    kind: 'string',
    desc: 'X-Splunk-Request-Channel (a UUID); unset = a new random UUID per process.',
    pattern: UUID,
    patternHint: 'a UUID like 0f6c8f3e-9a1b-4c55-8f0e-3c2f1d9a7b21',
  },
  ack: {
    kind: 'object',
    desc: 'Indexer acknowledgement (the token must have it enabled; Splunk Enterprise only).',
    fields: {
      enabled: { kind: 'bool', desc: 'Count an event delivered only once /services/collector/ack reports its ackId indexed.', default: false },
      poll_interval_ms: { kind: 'int', desc: 'How often pending ackIds are polled.', default: 1000, min: 50 },
      timeout_ms: {
        kind: 'int',
        desc: 'Give up waiting for an ack after this long and resend the events (may duplicate); keep below request_timeout_ms.',
        default: 20_000,
        min: 100,
      },
    },
  },
  tls: {
    kind: 'object',
    desc: 'TLS for https:// URLs.',
    fields: {
      ca_file: { kind: 'string', desc: 'PEM file of the CA(s) to trust instead of the system store.' },
      verify: { kind: 'bool', desc: 'Verify the server certificate and host name. Turn off only for tests.', default: true },
    },
  },
};

/** Resolved settings of one `splunk-hec` output. The token is held only here and in the driver. */
export interface SplunkHecSettings {
  /** Base URL without trailing slash. */
  readonly url: string;
  readonly token: string;
  readonly eventFormat: 'cim' | 'ecs';
  /** Sourcetype template ({dataset_kind}). */
  readonly sourcetype: string;
  readonly source: string;
  readonly index?: string;
  readonly indexedFields: readonly string[];
  readonly compression: boolean;
  readonly channel: string;
  readonly ack: { readonly enabled: boolean; readonly pollIntervalMs: number; readonly timeoutMs: number };
  readonly tls: { readonly ca?: string; readonly verify: boolean };
}

function str(cfg: Record<string, unknown>, key: string): string | undefined {
  const v = cfg[key];
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function readToken(cfg: Record<string, unknown>, prefix: string): string {
  if ('token' in cfg) {
    throw new ConfigError(`${prefix}token`, '<redacted>', 'an inline token is not accepted: use token_env or token_file');
  }
  const env = str(cfg, 'token_env');
  const file = str(cfg, 'token_file');
  if (env !== undefined && file !== undefined) throw new ConfigError(`${prefix}token_file`, file, 'use only one of token_env and token_file');
  let token: string | undefined;
  if (env !== undefined) {
    token = process.env[env];
    if (!token) throw new ConfigError(`${prefix}token_env`, env, `environment variable ${env} is not set or empty`);
  } else if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${prefix}token_file`, file, `cannot read the token file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!token) throw new ConfigError(`${prefix}token_file`, file, 'the token file is empty');
  } else {
    throw new ConfigError(`${prefix}token_env`, undefined, 'give token_env (an environment variable name) or token_file');
  }
  if (/[\r\n\0]/.test(token) || token.trim() !== token) {
    // value not shown: it is the secret
    throw new ConfigError(`${prefix}${env !== undefined ? 'token_env' : 'token_file'}`, env ?? file, 'the token contains whitespace or control characters');
  }
  return token;
}

/**
 * Validates a config section (missing keys get their defaults here too) and reads the token
 * and CA files. `prefix` is prepended to key names in errors. Throws ConfigError.
 */
export function resolveSplunkHecSettings(cfg: Record<string, unknown>, prefix = ''): SplunkHecSettings {
  const rawUrl = str(cfg, 'url');
  if (rawUrl === undefined) throw new ConfigError(`${prefix}url`, undefined, 'give the HEC base URL, e.g. https://splunk.example:8088');
  let parsed: URL;
  try {
    parsed = new URL(rawUrl);
  } catch {
    throw new ConfigError(`${prefix}url`, rawUrl, 'not a URL; use http(s)://HOST:PORT');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${prefix}url`, rawUrl, 'use http:// or https://');
  if (parsed.username || parsed.password) {
    throw new ConfigError(`${prefix}url`, `${parsed.protocol}//<redacted>@${parsed.host}`, 'credentials are not accepted in the URL; use token_env or token_file');
  }
  if (parsed.search || parsed.hash) throw new ConfigError(`${prefix}url`, rawUrl, 'no query or fragment: give only scheme, host, port (and a path prefix if a proxy needs one)');
  const url = `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;

  const token = readToken(cfg, prefix);
  const eventFormat = (str(cfg, 'event_format') ?? 'cim') as 'cim' | 'ecs';
  if (eventFormat !== 'cim' && eventFormat !== 'ecs') throw new ConfigError(`${prefix}event_format`, eventFormat, 'use cim or ecs');
  const channel = str(cfg, 'channel') ?? randomUUID();
  if (!UUID.test(channel)) throw new ConfigError(`${prefix}channel`, channel, 'a UUID like 0f6c8f3e-9a1b-4c55-8f0e-3c2f1d9a7b21');

  const ackCfg = (cfg.ack ?? {}) as Record<string, unknown>;
  const ack = {
    enabled: ackCfg.enabled === true,
    pollIntervalMs: ackCfg.poll_interval_ms === undefined ? 1000 : Number(ackCfg.poll_interval_ms),
    timeoutMs: ackCfg.timeout_ms === undefined ? 20_000 : Number(ackCfg.timeout_ms),
  };
  const timeout = cfg.request_timeout_ms === undefined ? undefined : Number(cfg.request_timeout_ms);
  if (ack.enabled && timeout !== undefined && ack.timeoutMs >= timeout) {
    throw new ConfigError(`${prefix}ack.timeout_ms`, ack.timeoutMs, `must be below request_timeout_ms (${timeout}), which bounds the whole send including the ack wait`);
  }

  const tlsCfg = (cfg.tls ?? {}) as Record<string, unknown>;
  const caFile = str(tlsCfg, 'ca_file');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`${prefix}tls.ca_file`, caFile, `cannot read the CA file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${prefix}tls.ca_file`, caFile, 'not a PEM certificate file');
  }
  const indexed = Array.isArray(cfg.indexed_fields) ? (cfg.indexed_fields as unknown[]).map(String) : DEFAULT_INDEXED_FIELDS;
  for (const p of indexed) {
    if (!/^[A-Za-z_@][A-Za-z0-9_.@-]*$/.test(p)) throw new ConfigError(`${prefix}indexed_fields`, p, 'an ECS field path like event.dataset');
  }
  return {
    url,
    token,
    eventFormat,
    sourcetype: str(cfg, 'sourcetype') ?? `lkrg:${eventFormat}:{dataset_kind}`,
    source: str(cfg, 'source') ?? 'lkrg-siem',
    index: str(cfg, 'index'),
    indexedFields: indexed,
    compression: cfg.compression === undefined ? true : cfg.compression === true,
    channel,
    ack,
    tls: { ca, verify: tlsCfg.verify === undefined ? true : tlsCfg.verify === true },
  };
}
