/**
 * The `syslog` output: each event as one CEF line (`toCef`) inside an RFC 5424 or RFC 3164
 * syslog message, over UDP, TCP (octet counting or LF framing) or TLS (RFC 5425).
 *
 * Delivery: TCP/TLS — an event is delivered once its frame was written and flushed to the
 * kernel (socket write callback) on a persistent connection; frames not written when the
 * connection breaks are answered `retry`, and the next send reconnects. A receiver crash can
 * still lose what sat in socket buffers (syslog has no acknowledgement). UDP — fire and forget:
 * delivered once the datagram was handed to the kernel; loss is silent by design.
 * Messages larger than `max_message_bytes` are rejected (dead letter) with the reason.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import type { FieldSpec } from '../../src/config/config-spec.js';
import { OutputError, type EcsDocument, type OutputDriver, type QueuedEvent } from '../../src/core/output.js';
import { ConfigError, type DeliveryResult } from '../../src/core/types.js';
import { toCef } from '../../src/normalize/cef-encoder.js';
import { transportFailure } from '../shared/transport-errors.js';
import { openUdpSocket } from '../shared/udp-socket.js';
import { resolveStreamTls, StreamConnection, streamTlsFields, type StreamTlsOptions } from '../shared/stream-connection.js';
import { buildSyslogMessage, FACILITIES, frameSyslog, SEVERITIES, type SyslogHeaderOptions } from './syslog-message.js';

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

/** Optional collaborators (tests). */
export interface SyslogOutputDeps {
  /** CEF encoder; default `toCef`. */
  readonly encodeCef?: (doc: EcsDocument) => string;
}

const DELIVERED: DeliveryResult = Object.freeze({ status: 'delivered' });

/**
 * Creates the syslog output driver. Validates the config now (ConfigError, exit 2); TCP/TLS
 * connect in `start()` (a TLS trust failure is a fatal OutputError naming the output).
 */
export function createSyslogOutput(cfg: Record<string, unknown>, name: string, deps: SyslogOutputDeps = {}): SyslogOutput {
  return new SyslogOutput(resolveSyslogConfig(cfg, name), name, deps.encodeCef ?? toCef);
}

/** Counters, for status and tests. */
export interface SyslogOutputStats {
  messages: number;
  datagrams: number;
  bytes: number;
}

export class SyslogOutput implements OutputDriver {
  readonly type = 'syslog';
  /** One send at a time keeps the events of a batch, and the batches, in order on one connection. */
  readonly maxInFlight = 1;
  readonly stats: SyslogOutputStats = { messages: 0, datagrams: 0, bytes: 0 };
  private readonly conn: StreamConnection | undefined;
  private udp: dgram.Socket | undefined;
  private udpAddress: string | undefined;

  constructor(
    readonly cfg: SyslogOutputConfig,
    readonly name: string,
    private readonly encodeCef: (doc: EcsDocument) => string,
  ) {
    if (cfg.transport !== 'udp') {
      this.conn = new StreamConnection(name, { host: cfg.host, port: cfg.port, tls: cfg.tls, connectTimeoutMs: cfg.connectTimeoutMs });
    }
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.conn) await this.conn.connect(signal);
    else await this.openUdp(signal);
  }

  private async openUdp(signal: AbortSignal): Promise<dgram.Socket> {
    if (this.udp) return this.udp;
    const { sock, address } = await openUdpSocket(this.name, this.cfg.host, signal);
    this.udp = sock;
    this.udpAddress = address;
    return sock;
  }

  /** The syslog message for one event (exported for tests through the driver). */
  encode(ev: QueuedEvent): string {
    return buildSyslogMessage(ev.doc, this.encodeCef(ev.doc), ev.dataset, this.cfg.header);
  }

  async send(batch: readonly QueuedEvent[], signal: AbortSignal): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(batch.length);
    const frames: Buffer[] = [];
    const slots: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      let msg: string;
      try {
        msg = this.encode(batch[i]!);
      } catch (err) {
        results[i] = { status: 'rejected', reason: `${this.name}: cannot encode the event as CEF: ${(err as Error).message}` };
        continue;
      }
      const bytes = Buffer.byteLength(msg);
      if (bytes > this.cfg.maxMessageBytes) {
        results[i] = { status: 'rejected', reason: `${this.name}: syslog message of ${bytes} bytes exceeds max_message_bytes ${this.cfg.maxMessageBytes}` };
        continue;
      }
      frames.push(this.conn ? frameSyslog(msg, this.cfg.framing) : Buffer.from(msg, 'utf8'));
      slots.push(i);
    }
    if (frames.length === 0) return results;
    const outcomes = this.conn ? await this.conn.write(frames, signal) : await this.sendUdp(frames, signal);
    for (let k = 0; k < slots.length; k++) {
      const why = outcomes[k];
      if (why === undefined) {
        this.stats.messages++;
        this.stats.bytes += frames[k]!.length;
        results[slots[k]!] = DELIVERED;
      } else {
        results[slots[k]!] = { status: 'retry', reason: `${this.name}: ${why}` };
      }
    }
    return results;
  }

  private async sendUdp(frames: readonly Buffer[], signal: AbortSignal): Promise<(string | undefined)[]> {
    const sock = await this.openUdp(signal);
    return Promise.all(
      frames.map(
        (f) =>
          new Promise<string | undefined>((resolve) => {
            sock.send(f, this.cfg.port, this.udpAddress, (err) => {
              if (!err) this.stats.datagrams++;
              resolve(err ? `datagram not sent to ${this.udpAddress}:${this.cfg.port}: ${err.message}` : undefined);
            });
          }),
      ),
    );
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    if (this.conn) await this.conn.connect(signal);
  }

  async close(): Promise<void> {
    await this.conn?.close();
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
  }
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
