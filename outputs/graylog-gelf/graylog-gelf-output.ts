/**
 * The `graylog_gelf` output: each event as one GELF 1.1 message (see gelf-message.ts) to
 * Graylog over UDP (chunked, gzip/zlib/none), TCP (NUL-framed, uncompressed, optional TLS) or
 * HTTP(S) POST /gelf (gzip).
 *
 * Delivery meaning per transport:
 * - udp: fire and forget. An event is delivered once all its datagrams were handed to the
 *   kernel; nothing tells whether Graylog got them (loss is silent by design). Datagrams are
 *   counted in `stats.datagrams`. A message needing more than 128 chunks is rejected (dead
 *   letter) with the reason.
 * - tcp: delivered once its frame was written and flushed to the kernel (socket write
 *   callback) on a persistent connection; frames not written when the connection drops are
 *   answered `retry` and the next send reconnects. What sat in socket buffers when Graylog
 *   crashed can still be lost (GELF TCP has no acknowledgement).
 * - http: delivered on 202 Accepted (any 2xx); 400/413/422 rejected with the answer; 401/403
 *   fatal; 408/429/5xx and network errors retry (Retry-After honoured).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Agent, request } from 'undici';
import { OutputError, type OutputDriver, type QueuedEvent } from '../../src/core/output.js';
import type { DeliveryResult } from '../../src/core/types.js';
import { transportFailure } from '../shared/transport-errors.js';
import { openUdpSocket } from '../shared/udp-socket.js';
import { StreamConnection } from '../shared/stream-connection.js';
import { chunkGelf, MAX_CHUNKS, toGelf } from './gelf-message.js';
import { resolveGelfConfig, type GelfOutputConfig } from './graylog-gelf-spec.js';

export { gelfFields, gelfUrlToConfig, resolveGelfConfig, type GelfOutputConfig } from './graylog-gelf-spec.js';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

/** Counters, for status and tests. UDP loss cannot be seen: these count what was sent. */
export interface GelfOutputStats {
  messages: number;
  datagrams: number;
  bytes: number;
}

const DELIVERED: DeliveryResult = Object.freeze({ status: 'delivered' });

/** Creates the graylog_gelf output driver; validates the config now (ConfigError, exit 2). */
export function createGelfOutput(cfg: Record<string, unknown>, name: string): GelfOutput {
  return new GelfOutput(resolveGelfConfig(cfg, name), name);
}

export class GelfOutput implements OutputDriver {
  readonly type = 'graylog_gelf';
  readonly maxInFlight: number;
  readonly stats: GelfOutputStats = { messages: 0, datagrams: 0, bytes: 0 };
  private readonly conn: StreamConnection | undefined;
  private udp: dgram.Socket | undefined;
  private udpAddress: string | undefined;
  private agent: Agent | undefined;

  constructor(
    readonly cfg: GelfOutputConfig,
    readonly name: string,
  ) {
    // TCP: one connection, one batch at a time keeps the order; UDP/HTTP have no order promise.
    this.maxInFlight = cfg.transport === 'tcp' ? 1 : 4;
    if (cfg.transport === 'tcp') {
      this.conn = new StreamConnection(name, { host: cfg.host, port: cfg.port, tls: cfg.tls, connectTimeoutMs: cfg.connectTimeoutMs });
    }
  }

  private get baseUrl(): string {
    const h = net.isIPv6(this.cfg.host) ? `[${this.cfg.host}]` : this.cfg.host;
    return `${this.cfg.tls ? 'https' : 'http'}://${h}:${this.cfg.port}`;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.conn) await this.conn.connect(signal);
    else if (this.cfg.transport === 'udp') await this.openUdp(signal);
    else this.openAgent();
  }

  private openAgent(): Agent {
    const t = this.cfg.tls;
    this.agent ??= new Agent({
      keepAliveTimeout: 30_000,
      connectTimeout: this.cfg.connectTimeoutMs,
      connect: t ? { ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.verify, servername: t.serverName } : undefined,
    });
    return this.agent;
  }

  private async openUdp(signal: AbortSignal): Promise<dgram.Socket> {
    if (this.udp) return this.udp;
    const { sock, address } = await openUdpSocket(this.name, this.cfg.host, signal);
    this.udp = sock;
    this.udpAddress = address;
    return sock;
  }

  /** The GELF JSON text of one event (no framing, not compressed). */
  encode(ev: QueuedEvent): string {
    return JSON.stringify(toGelf(ev.doc, ev.key, this.cfg.message));
  }

  private async compress(json: string): Promise<Buffer> {
    const raw = Buffer.from(json, 'utf8');
    if (this.cfg.compression === 'gzip') return gzip(raw);
    if (this.cfg.compression === 'zlib') return deflate(raw);
    return raw;
  }

  async send(batch: readonly QueuedEvent[], signal: AbortSignal): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array(batch.length);
    const jsons: (string | undefined)[] = batch.map((ev, i) => {
      try {
        return this.encode(ev);
      } catch (err) {
        results[i] = { status: 'rejected', reason: `${this.name}: cannot encode the event as GELF: ${(err as Error).message}` };
        return undefined;
      }
    });
    if (this.cfg.transport === 'tcp') await this.sendTcp(jsons, results, signal);
    else if (this.cfg.transport === 'udp') await this.sendUdp(jsons, results, signal);
    else await this.sendHttp(jsons, results, signal);
    return results;
  }

  private async sendTcp(jsons: readonly (string | undefined)[], results: DeliveryResult[], signal: AbortSignal): Promise<void> {
    const frames: Buffer[] = [];
    const slots: number[] = [];
    jsons.forEach((j, i) => {
      if (j === undefined) return;
      // JSON.stringify never emits a raw NUL (it writes \u0000), so the frame cannot be split.
      frames.push(Buffer.from(j + '\0', 'utf8'));
      slots.push(i);
    });
    if (!frames.length) return;
    const outcomes = await this.conn!.write(frames, signal);
    outcomes.forEach((why, k) => {
      if (why === undefined) {
        this.stats.messages++;
        this.stats.bytes += frames[k]!.length;
        results[slots[k]!] = DELIVERED;
      } else results[slots[k]!] = { status: 'retry', reason: `${this.name}: ${why}` };
    });
  }

  private async sendUdp(jsons: readonly (string | undefined)[], results: DeliveryResult[], signal: AbortSignal): Promise<void> {
    const sock = await this.openUdp(signal);
    for (let i = 0; i < jsons.length; i++) {
      const j = jsons[i];
      if (j === undefined) continue;
      if (signal.aborted) {
        results[i] = { status: 'retry', reason: `${this.name}: send aborted (timeout or shutdown)` };
        continue;
      }
      const payload = await this.compress(j);
      const chunks = chunkGelf(payload, this.cfg.chunkSize);
      if (!chunks) {
        const need = Math.ceil(payload.length / (this.cfg.chunkSize - 12));
        results[i] = {
          status: 'rejected',
          reason: `${this.name}: GELF message of ${payload.length} bytes (${this.cfg.compression}) needs ${need} UDP chunks of ${this.cfg.chunkSize} bytes; Graylog accepts at most ${MAX_CHUNKS}`,
        };
        continue;
      }
      let failed: string | undefined;
      for (const c of chunks) {
        // one datagram after the other: chunks of one message stay together and in order
        failed = await new Promise<string | undefined>((resolve) =>
          sock.send(c, this.cfg.port, this.udpAddress, (err) => resolve(err ? err.message : undefined)),
        );
        if (failed) break;
        this.stats.datagrams++;
        this.stats.bytes += c.length;
      }
      if (failed) results[i] = { status: 'retry', reason: `${this.name}: datagram not sent to ${this.udpAddress}:${this.cfg.port}: ${failed}` };
      else {
        this.stats.messages++;
        results[i] = DELIVERED;
      }
    }
  }

  private async sendHttp(jsons: readonly (string | undefined)[], results: DeliveryResult[], signal: AbortSignal): Promise<void> {
    const agent = this.openAgent();
    const url = this.baseUrl + this.cfg.httpPath;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.cfg.compression === 'gzip') headers['content-encoding'] = 'gzip';
    if (this.cfg.compression === 'zlib') headers['content-encoding'] = 'deflate';
    let fatal: OutputError | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= jsons.length) return;
        const j = jsons[i];
        if (j === undefined) continue;
        if (fatal || signal.aborted) {
          results[i] = { status: 'retry', reason: `${this.name}: not sent (${fatal ? 'fatal error on this batch' : 'aborted'})` };
          continue;
        }
        const body = await this.compress(j);
        try {
          const res = await request(url, { method: 'POST', body, headers, dispatcher: agent, signal });
          const text = (await res.body.text()).slice(0, 300);
          const code = res.statusCode;
          if (code >= 200 && code < 300) {
            this.stats.messages++;
            this.stats.bytes += body.length;
            results[i] = DELIVERED;
          } else if (code === 401 || code === 403 || code === 404) {
            fatal ??= new OutputError(`${this.name}: ${url} answered ${code} (${text || 'no body'}): check the input's path and authentication`, { retriable: false, fatal: true });
            results[i] = { status: 'retry', reason: `${this.name}: HTTP ${code}` };
          } else if (code === 408 || code === 429 || code >= 500) {
            const ra = Number(res.headers['retry-after']);
            results[i] = { status: 'retry', reason: `${this.name}: HTTP ${code} ${text}`.trim(), ...(Number.isFinite(ra) && ra >= 0 ? { retryAfterMs: ra * 1000 } : {}) };
          } else {
            results[i] = { status: 'rejected', reason: `${this.name}: Graylog refused the message: HTTP ${code} ${text}`.trim() };
          }
        } catch (err) {
          const e = transportFailure(this.name, `POST ${url}`, err, signal);
          if (e.fatal) fatal ??= e;
          results[i] = { status: 'retry', reason: e.message };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.cfg.httpConcurrency, jsons.length) }, worker));
    if (fatal) throw fatal;
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    if (this.conn) await this.conn.connect(signal);
  }

  async close(): Promise<void> {
    await this.conn?.close();
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
    const a = this.agent;
    this.agent = undefined;
    await a?.close();
  }
}
