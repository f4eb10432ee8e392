/**
 * Config keys of the `graylog_gelf` output, their resolution, and the `--output gelf+...://`
 * URL form. Kept apart from graylog-gelf-output.ts so that registering the type and validating
 * configs does not load the driver and undici.
 */
import os from 'node:os';
import type { FieldSpec } from '../../src/config/config-spec.js';
import { ConfigError } from '../../src/core/types.js';
import { resolveStreamTls, streamTlsFields, type StreamTlsOptions } from '../shared/stream-connection.js';
import type { GelfOptions } from './gelf-message.js';

/** Config keys of the graylog_gelf output. */
export const gelfFields: Record<string, FieldSpec> = {
  host: { kind: 'string', desc: 'Graylog host name or IP (IPv6 without brackets).', required: true },
  port: { kind: 'int', desc: 'GELF input port.', default: 12201, min: 1, max: 65535 },
  transport: { kind: 'string', desc: 'udp (fire and forget, chunked), tcp (NUL-framed) or http (POST, 202 = delivered).', default: 'udp', enum: ['udp', 'tcp', 'http'] },
  compression: {
    kind: 'string',
    desc: 'Payload compression: auto (udp and http: gzip; tcp: none), gzip, zlib (http: Content-Encoding deflate) or none. TCP cannot be compressed (NUL framing).',
    default: 'auto',
    enum: ['auto', 'gzip', 'zlib', 'none'],
  },
  chunk_size: { kind: 'int', desc: 'UDP datagram size including the 12-byte chunk header (1420 for WAN; 8154 on a LAN). At most 128 chunks per message.', default: 1420, min: 512, max: 65_000 },
  http_path: { kind: 'string', desc: 'Path of the HTTP GELF input.', default: '/gelf' },
  level: { kind: 'int', desc: 'GELF level (syslog severity) for events without log.syslog.severity.code.', default: 6, min: 0, max: 7 },
  hostname: { kind: 'string', desc: 'GELF host for events without host.name (default: this machine\'s name).' },
  connect_timeout_ms: { kind: 'int', desc: 'Timeout of one TCP/TLS connect.', default: 10_000, min: 100 },
  http_concurrency: { kind: 'int', desc: 'Concurrent HTTP requests within one batch (one message per request).', default: 8, min: 1, max: 64 },
  tls: { kind: 'object', desc: 'TLS for tcp and http (verification on by default).', fields: streamTlsFields as unknown as Record<string, FieldSpec> },
};

/** Resolved configuration. */
export interface GelfOutputConfig {
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'http';
  readonly compression: 'gzip' | 'zlib' | 'none';
  readonly chunkSize: number;
  readonly httpPath: string;
  readonly message: GelfOptions;
  readonly connectTimeoutMs: number;
  readonly httpConcurrency: number;
  readonly tls?: StreamTlsOptions;
}

/** Resolves a validated config section; throws ConfigError naming the key. */
export function resolveGelfConfig(cfg: Record<string, unknown>, name: string): GelfOutputConfig {
  const p = `outputs.${name}.`;
  const transport = (cfg.transport as GelfOutputConfig['transport']) ?? 'udp';
  const host = String(cfg.host ?? '').replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new ConfigError(`${p}host`, cfg.host, 'name the Graylog host');
  const c = String(cfg.compression ?? 'auto');
  if (transport === 'tcp' && c !== 'auto' && c !== 'none') {
    throw new ConfigError(`${p}compression`, c, 'GELF over TCP is NUL-framed and cannot be compressed: use none (or udp/http)');
  }
  const compression = (c === 'auto' ? (transport === 'tcp' ? 'none' : 'gzip') : c) as GelfOutputConfig['compression'];
  const tlsCfg = cfg.tls as Record<string, unknown> | undefined;
  const useTls = tlsCfg?.enabled === true;
  if (useTls && transport === 'udp') throw new ConfigError(`${p}tls.enabled`, true, 'GELF over UDP has no TLS: use tcp or http');
  const httpPath = String(cfg.http_path ?? '/gelf');
  if (!httpPath.startsWith('/')) throw new ConfigError(`${p}http_path`, httpPath, 'must start with /');
  return {
    host,
    port: (cfg.port as number | undefined) ?? 12201,
    transport,
    compression,
    chunkSize: (cfg.chunk_size as number | undefined) ?? 1420,
    httpPath,
    message: { defaultLevel: (cfg.level as number | undefined) ?? 6, fallbackHost: String(cfg.hostname ?? os.hostname()) },
    connectTimeoutMs: (cfg.connect_timeout_ms as number | undefined) ?? 10_000,
    httpConcurrency: (cfg.http_concurrency as number | undefined) ?? 8,
    tls: useTls ? resolveStreamTls(tlsCfg, p) : undefined,
  };
}

/**
 * `gelf+udp://HOST:PORT`, `gelf+tcp://HOST:PORT`, `gelf+http(s)://HOST:PORT[/PATH]`; query keys
 * compression, chunk_size, level, hostname, ca_file, verify, server_name.
 */
export function gelfUrlToConfig(url: URL): Record<string, unknown> {
  const scheme = url.protocol.replace(/:$/, '');
  const kind = scheme.split('+')[1]!;
  const transport = kind === 'https' ? 'http' : kind === 'tls' ? 'tcp' : kind;
  const cfg: Record<string, unknown> = { type: 'graylog_gelf', transport, host: url.hostname.replace(/^\[(.*)\]$/, '$1') };
  if (url.port) cfg.port = Number(url.port);
  if (transport === 'http' && url.pathname && url.pathname !== '/') cfg.http_path = url.pathname;
  const q = url.searchParams;
  for (const key of ['compression', 'hostname']) if (q.get(key) !== null) cfg[key] = q.get(key);
  for (const key of ['chunk_size', 'level']) if (q.get(key) !== null) cfg[key] = Number(q.get(key));
  const tls: Record<string, unknown> = {};
  if (kind === 'https' || kind === 'tls') tls.enabled = true;
  if (q.get('ca_file')) tls.ca_file = q.get('ca_file');
  if (q.get('verify') === 'false') tls.verify = false;
  if (q.get('server_name')) tls.server_name = q.get('server_name');
  if (Object.keys(tls).length) cfg.tls = tls;
  return cfg;
}
