/**
 * One persistent TCP or TLS connection for stream outputs (syslog over TCP/TLS, GELF over TCP).
 * Used by the syslog and graylog_gelf drivers; never retries or sleeps on its own.
 *
 * Delivery meaning: a frame counts as written when Node's socket write callback fires without
 * error, i.e. the bytes were handed to the kernel. A frame whose callback reports an error, or
 * that is still pending when the connection breaks, is answered as not written (the driver
 * turns that into a `retry`). A connection the peer closed (FIN, RST) is dropped at once and
 * a new one is opened by the next `write`, so a restarted receiver is picked up without delay.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { OutputError } from '../../src/core/output.js';
import { ConfigError } from '../../src/core/types.js';
import { transportFailure } from './transport-errors.js';

/** TLS settings of a stream output (`tls` config section, resolved). */
export interface StreamTlsOptions {
  /** PEM CA bundle to trust instead of the system store. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** Verify the server certificate and host name (default true). */
  readonly verify: boolean;
  /** SNI / name to verify; default the host when it is a name. */
  readonly serverName?: string;
}

/** Where and how to connect. */
export interface StreamTarget {
  readonly host: string;
  readonly port: number;
  /** Present: TLS; absent: plain TCP. */
  readonly tls?: StreamTlsOptions;
  readonly connectTimeoutMs: number;
}

/** Config fields of the `tls` section shared by the stream outputs (snake_case). */
export const streamTlsFields = {
  enabled: { kind: 'bool', desc: 'Use TLS (for syslog: implied by transport tls).', default: false },
  ca_file: { kind: 'string', desc: 'PEM file of the CA(s) that signed the server certificate (default: system store).' },
  cert_file: { kind: 'string', desc: 'Client certificate (PEM) for mutual TLS.' },
  key_file: { kind: 'string', desc: 'Client key (PEM) for mutual TLS.' },
  verify: { kind: 'bool', desc: 'Verify the server certificate chain and host name. Keep true outside tests.', default: true },
  server_name: { kind: 'string', desc: 'Server name to send (SNI) and verify; default the host.' },
} as const;

function readPem(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(key, file, `cannot read the file: ${(err as Error).message}`);
  }
}

/** Resolves a `tls` config section (reads the PEM files now: ConfigError names the key). */
export function resolveStreamTls(cfg: Record<string, unknown> | undefined, prefix: string): StreamTlsOptions {
  const c = cfg ?? {};
  const caFile = c.ca_file as string | undefined;
  const certFile = c.cert_file as string | undefined;
  const keyFile = c.key_file as string | undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError(`${prefix}tls.${certFile ? 'key_file' : 'cert_file'}`, undefined, 'client certificates need both cert_file and key_file');
  }
  const ca = caFile ? readPem(`${prefix}tls.ca_file`, caFile) : undefined;
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`${prefix}tls.ca_file`, caFile, 'not a PEM certificate file');
  }
  return {
    ca,
    cert: certFile ? readPem(`${prefix}tls.cert_file`, certFile) : undefined,
    key: keyFile ? readPem(`${prefix}tls.key_file`, keyFile) : undefined,
    verify: c.verify !== false,
    serverName: (c.server_name as string | undefined) || undefined,
  };
}

/** Per-frame outcome of {@link StreamConnection.write}: undefined = written, else why not. */
export type FrameOutcome = string | undefined;

/**
 * A lazily opened, persistent connection. `write` opens it when needed; connect failures are
 * thrown as OutputError (TLS trust failures fatal, naming the output); failures after the
 * connection was up are answered per frame.
 */
export class StreamConnection {
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;

  constructor(
    private readonly output: string,
    private readonly target: StreamTarget,
  ) {}

  /** Human-readable address for messages. */
  get address(): string {
    const h = net.isIPv6(this.target.host) ? `[${this.target.host}]` : this.target.host;
    return `${this.target.tls ? 'tls' : 'tcp'}://${h}:${this.target.port}`;
  }

  /** True while a connection is open (tests, status). */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Opens the connection now (start()); throws OutputError. */
  async connect(signal: AbortSignal): Promise<void> {
    await this.open(signal);
  }

  private open(signal: AbortSignal): Promise<net.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= this.dial(signal).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private dial(signal: AbortSignal): Promise<net.Socket> {
    const t = this.target;
    return new Promise<net.Socket>((resolve, reject) => {
      if (signal.aborted) {
        reject(new OutputError(`${this.output}: connect to ${this.address} aborted`, { retriable: true }));
        return;
      }
      let sock: net.Socket;
      if (t.tls) {
        sock = tls.connect({
          host: t.host,
          port: t.port,
          ca: t.tls.ca,
          cert: t.tls.cert,
          key: t.tls.key,
          rejectUnauthorized: t.tls.verify,
          servername: t.tls.serverName ?? (net.isIP(t.host) ? undefined : t.host),
        });
      } else {
        sock = net.connect({ host: t.host, port: t.port });
      }
      const readyEvent = t.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => fail(new Error(`no connection within ${t.connectTimeoutMs} ms`)), t.connectTimeoutMs);
      const onAbort = (): void => fail(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        sock.off('error', fail);
        sock.off(readyEvent, ok);
      };
      function fail(this: void, err: Error): void {
        cleanup();
        sock.destroy();
        reject(err);
      }
      const ok = (): void => {
        cleanup();
        sock.setNoDelay(true);
        sock.setKeepAlive(true, 30_000);
        this.adopt(sock);
        resolve(sock);
      };
      sock.once('error', fail);
      sock.once(readyEvent, ok);
    }).catch((err: unknown) => {
      throw transportFailure(this.output, `connect to ${this.address}`, err, signal);
    });
  }

  /** Watches an open socket: anything the peer does (data, FIN, RST) ends our use of it. */
  private adopt(sock: net.Socket): void {
    this.socket = sock;
    const drop = (): void => {
      if (this.socket === sock) this.socket = undefined;
      sock.destroy();
    };
    sock.on('error', drop);
    sock.on('end', drop);
    sock.on('close', drop);
    // receivers of these protocols never answer; read and ignore whatever comes
    sock.on('data', () => undefined);
  }

  /**
   * Writes each frame in order on the connection (opened when needed) and resolves once every
   * frame's write callback ran: one outcome per frame. Throws OutputError only when no
   * connection could be opened.
   */
  async write(frames: readonly (string | Buffer)[], signal: AbortSignal): Promise<FrameOutcome[]> {
    const sock = await this.open(signal);
    return new Promise<FrameOutcome[]>((resolve) => {
      const out: FrameOutcome[] = new Array(frames.length);
      let pending = frames.length;
      let broken: string | undefined;
      const settle = (i: number, err: Error | null | undefined): void => {
        if (done[i]) return;
        done[i] = true;
        out[i] = err ? `not written to ${this.address}: ${err.message}` : undefined;
        if (--pending === 0) finish();
      };
      const done: boolean[] = new Array(frames.length).fill(false);
      const onAbort = (): void => {
        broken = 'request aborted (timeout or shutdown)';
        sock.destroy();
      };
      const onClose = (): void => {
        // callbacks of writes still queued when the socket closed: not written
        setImmediate(() => {
          for (let i = 0; i < frames.length; i++) if (!done[i]) settle(i, new Error(broken ?? 'connection closed'));
        });
      };
      const finish = (): void => {
        signal.removeEventListener('abort', onAbort);
        sock.off('close', onClose);
        resolve(out);
      };
      if (frames.length === 0) return resolve(out);
      signal.addEventListener('abort', onAbort, { once: true });
      sock.on('close', onClose);
      if (sock.destroyed) onClose();
      for (let i = 0; i < frames.length; i++) {
        if (sock.destroyed) {
          settle(i, new Error(broken ?? 'connection closed'));
          continue;
        }
        sock.write(frames[i]!, (err) => settle(i, err ?? undefined));
      }
    });
  }

  /** Closes the connection (flushes what is queued, then FIN). */
  async close(): Promise<void> {
    const sock = this.socket;
    this.socket = undefined;
    if (!sock || sock.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sock.destroy();
        resolve();
      }, 2000);
      sock.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    sock.destroy();
  }
}
