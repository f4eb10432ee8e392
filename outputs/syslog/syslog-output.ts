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
import { OutputError, type EcsDocument, type OutputDriver, type QueuedEvent } from '../../src/core/output.js';
import type { DeliveryResult } from '../../src/core/types.js';
import { toCef } from '../../src/normalize/cef-encoder.js';
import { transportFailure } from '../shared/transport-errors.js';
import { openUdpSocket } from '../shared/udp-socket.js';
import { StreamConnection } from '../shared/stream-connection.js';
import { buildSyslogMessage, frameSyslog } from './syslog-message.js';
import { resolveSyslogConfig, type SyslogOutputConfig } from './syslog-spec.js';

export { resolveSyslogConfig, syslogFields, syslogUrlToConfig, type SyslogOutputConfig } from './syslog-spec.js';

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
