/**
 * Config keys of the `syslog` output, their resolution, and the `--output syslog+...://` URL
 * form. Kept apart from syslog-output.ts so that registering the type and validating configs
 * does not load the driver.
 */
import os from 'node:os';
import type { FieldSpec } from '../../src/config/config-spec.js';
import { ConfigError } from '../../src/core/types.js';
import { resolveStreamTls, streamTlsFields, type StreamTlsOptions } from '../shared/stream-connection.js';
import { FACILITIES, SEVERITIES, type SyslogHeaderOptions } from './syslog-message.js';

/** Config keys of the syslog output (validated by the registry; defaults filled). */
export const syslogFields: Record<string, FieldSpec> = {
  host: { kind: 'string', desc: 'Receiver host name or IP (IPv6 without brackets).', required: true },
  port: { kind: 'int', desc: 'Receiver port; default 514 (udp, tcp) or 6514 (tls).', min: 1, max: 65535 },
  transport: { kind: 'string', desc: 'udp (fire and forget), tcp or tls (RFC 5425).', default: 'tcp', enum: ['udp', 'tcp', 'tls'] },
  framing: {
    kind: 'string',
    desc: 'TCP/TLS framing: octet_counting (RFC 6587/5425 `LEN SP MSG`) or lf (newline-terminated; safe because CEF lines never contain raw newlines).',
    default: 'octet_counting',
    enum: ['octet_counting', 'lf'],
  },
  format: { kind: 'string', desc: 'Syslog header: rfc5424 (`<PRI>1 TIMESTAMP HOST APP - MSGID - CEF:...`) or rfc3164 (`<PRI>Mmm dd hh:mm:ss HOST APP: CEF:...`, UTC).', default: 'rfc5424', enum: ['rfc5424', 'rfc3164'] },
  facility: {
    kind: 'string',
    desc: 'Facility (name or 0-23) used when the event carries no log.syslog.facility.code.',
    default: 'user',
    pattern: /^(?:[a-z_0-9]+)$/,
  },
  severity: { kind: 'string', desc: 'Severity (name or 0-7) used when the event carries no log.syslog.severity.code.', default: 'notice' },
  app_name: { kind: 'string', desc: 'APP-NAME (RFC 5424) / TAG (RFC 3164).', default: 'lkrg' },
  hostname: { kind: 'string', desc: 'HOSTNAME for events without host.name (default: this machine\'s name).' },
  max_message_bytes: { kind: 'int', desc: 'Largest syslog message (bytes, without framing); larger events are dead-lettered. Match the receiver (rsyslog maxMessageSize, default 8k).', default: 8192, min: 480, max: 65000 },
  connect_timeout_ms: { kind: 'int', desc: 'Timeout of one TCP/TLS connect.', default: 10_000, min: 100 },
  tls: { kind: 'object', desc: 'TLS for transport tls (verification on by default).', fields: streamTlsFields as unknown as Record<string, FieldSpec> },
};

/** Resolved configuration. */
export interface SyslogOutputConfig {
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly framing: 'octet_counting' | 'lf';
  readonly header: SyslogHeaderOptions;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly tls?: StreamTlsOptions;
}

function code(table: Readonly<Record<string, number>>, v: string, max: number, key: string): number {
  if (/^\d+$/.test(v) && Number(v) <= max) return Number(v);
  const c = table[v.toLowerCase()];
  if (c === undefined) throw new ConfigError(key, v, `use a name (${Object.keys(table).join(', ')}) or 0-${max}`);
  return c;
}

/** Resolves a validated config section; throws ConfigError naming the key. */
export function resolveSyslogConfig(cfg: Record<string, unknown>, name: string): SyslogOutputConfig {
  const p = `outputs.${name}.`;
  const transport = (cfg.transport as SyslogOutputConfig['transport']) ?? 'tcp';
  const host = String(cfg.host ?? '').replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new ConfigError(`${p}host`, cfg.host, 'name the receiver host');
  const tlsCfg = cfg.tls as Record<string, unknown> | undefined;
  if (tlsCfg?.enabled === true && transport !== 'tls') throw new ConfigError(`${p}tls.enabled`, true, 'use transport: tls');
  return {
    host,
    port: (cfg.port as number | undefined) ?? (transport === 'tls' ? 6514 : 514),
    transport,
    framing: (cfg.framing as 'octet_counting' | 'lf') ?? 'octet_counting',
    header: {
      format: (cfg.format as 'rfc5424' | 'rfc3164') ?? 'rfc5424',
      defaultFacility: code(FACILITIES, String(cfg.facility ?? 'user'), 23, `${p}facility`),
      defaultSeverity: code(SEVERITIES, String(cfg.severity ?? 'notice'), 7, `${p}severity`),
      appName: String(cfg.app_name ?? 'lkrg'),
      fallbackHost: String(cfg.hostname ?? os.hostname()),
    },
    maxMessageBytes: (cfg.max_message_bytes as number | undefined) ?? 8192,
    connectTimeoutMs: (cfg.connect_timeout_ms as number | undefined) ?? 10_000,
    tls: transport === 'tls' ? resolveStreamTls(tlsCfg, p) : undefined,
  };
}

/** `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT?framing=lf&format=rfc3164`, `syslog+tls://HOST:PORT?ca_file=PATH`. */
export function syslogUrlToConfig(url: URL): Record<string, unknown> {
  const transport = url.protocol.replace(/:$/, '').split('+')[1]!;
  const cfg: Record<string, unknown> = { type: 'syslog', transport, host: url.hostname.replace(/^\[(.*)\]$/, '$1') };
  if (url.port) cfg.port = Number(url.port);
  const q = url.searchParams;
  for (const key of ['framing', 'format', 'facility', 'severity', 'app_name', 'hostname']) {
    const v = q.get(key);
    if (v !== null) cfg[key] = v;
  }
  const tls: Record<string, unknown> = {};
  if (q.get('ca_file')) tls.ca_file = q.get('ca_file');
  if (q.get('verify') === 'false') tls.verify = false;
  if (q.get('server_name')) tls.server_name = q.get('server_name');
  if (Object.keys(tls).length) cfg.tls = tls;
  return cfg;
}
