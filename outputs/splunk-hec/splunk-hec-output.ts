/**
 * The `splunk-hec` output driver: Splunk HTTP Event Collector over undici.
 *
 * One `send` = one `POST /services/collector/event` with the batch's HEC envelopes concatenated
 * (gzip by default), `Authorization: Splunk <token>` and `X-Splunk-Request-Channel`. The answer
 * is classified by {@link classifyHecResponse}:
 * - success → every event delivered; with `ack.enabled`, only once `/services/collector/ack`
 *   reports the request's ackId (else, after `ack.timeout_ms`, a per-event retry: may duplicate);
 * - busy / transient (503, code 9, 5xx, network) → OutputError{retriable} (Retry-After honoured);
 * - token refused, index not allowed, channel/ack misconfigured → OutputError{fatal} naming the output;
 * - invalid data (code 6 and friends, 413) → the batch is bisected within this call (using
 *   `invalid-event-number` when given) until each bad event stands alone; exactly those are
 *   `rejected`, the rest `delivered` (or `retry` if a sub-request hit a transient failure).
 * Why not the npm `splunk-logging` client: see README.md (no gzip, no ack/channel, no indexed
 * `fields`, no classification of HEC error codes).
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Agent, request } from 'undici';
import { OutputError, type OutputDriver, type QueuedEvent } from '../../src/core/output.js';
import type { DeliveryResult } from '../../src/core/types.js';
import { transportFailure } from '../shared/transport-errors.js';
import { AckPoller } from './ack-poller.js';
import { classifyHecResponse, parseHecReply, type HecVerdict } from './classify-hec-response.js';
import { encodeHecEvent, hecBody, type EncodedHecEvent } from './hec-encoder.js';
import { resolveSplunkHecSettings, type SplunkHecSettings } from './splunk-hec-spec.js';

const gzip = promisify(gzipCb);

/** HEC paths (appended to the base URL). */
export const HEC_PATHS = {
  event: '/services/collector/event',
  ack: '/services/collector/ack',
  health: '/services/collector/health',
} as const;

/** Raw HTTP answer. */
interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly retryAfter?: string;
}

/** A successfully posted range of the batch that still waits for its ack. */
interface PendingAck {
  readonly from: number;
  readonly to: number;
  readonly ackId: number;
}

export class SplunkHecOutput implements OutputDriver {
  readonly type = 'splunk_hec';
  private readonly agent: Agent;
  private readonly acks: AckPoller | undefined;
  /** Requests sent (tests and status: shows how many a bisect took). */
  requestCount = 0;

  constructor(
    readonly name: string,
    private readonly settings: SplunkHecSettings,
  ) {
    this.agent = new Agent({
      connect: { ca: settings.tls.ca, rejectUnauthorized: settings.tls.verify },
      keepAliveTimeout: 30_000,
    });
    this.acks = settings.ack.enabled
      ? new AckPoller((ids, signal) => this.queryAcks(ids, signal), settings.ack.pollIntervalMs, settings.ack.timeoutMs)
      : undefined;
  }

  /** The channel this instance sends on (X-Splunk-Request-Channel). */
  get channel(): string {
    return this.settings.channel;
  }

  /**
   * Checks the endpoint and the token: health, then an empty POST (Splunk answers code 5
   * "No data" for a good token, 401/403 for a bad one), then one ack query when ack is on
   * (code 14 when the token has no ack). Fatal for configuration problems, retriable otherwise.
   */
  async start(signal: AbortSignal): Promise<void> {
    await this.healthcheck(signal);
    const probe = await this.http('POST', HEC_PATHS.event, undefined, false, signal, 'token check');
    const verdict = classifyHecResponse(probe.status, probe.body, probe.retryAfter);
    if (verdict.kind === 'fatal') throw this.fatal(verdict.reason);
    if (verdict.kind === 'retry') throw new OutputError(this.msg(`token check: ${verdict.reason}`), { retriable: true, retryAfterMs: verdict.retryAfterMs });
    if (this.acks) await this.queryAcks([0], signal);
  }

  /** GET /services/collector/health: resolves when healthy; throws OutputError otherwise. */
  async healthcheck(signal: AbortSignal): Promise<void> {
    const res = await this.http('GET', HEC_PATHS.health, undefined, false, signal, 'health check');
    const verdict = classifyHecResponse(res.status, res.body, res.retryAfter);
    if (verdict.kind === 'ok') return;
    if (verdict.kind === 'fatal') throw this.fatal(`health check: ${verdict.reason}`);
    throw new OutputError(this.msg(`health check: ${verdict.reason}`), {
      retriable: true,
      retryAfterMs: verdict.kind === 'retry' ? verdict.retryAfterMs : undefined,
    });
  }

  async send(batch: readonly QueuedEvent[], signal: AbortSignal): Promise<DeliveryResult[]> {
    if (batch.length === 0) return [];
    const opts = this.settings;
    const encoded = batch.map((ev) => encodeHecEvent(ev, opts));
    const results: (DeliveryResult | undefined)[] = new Array(batch.length);
    const pending: PendingAck[] = [];
    await this.sendRange(encoded, 0, batch.length, results, pending, signal, true);
    if (pending.length) await this.awaitAcks(pending, results, signal);
    return results.map((r) => r ?? { status: 'retry', reason: 'internal: no result' });
  }

  async close(): Promise<void> {
    this.acks?.close();
    await this.agent.close();
  }

  // -- internals ------------------------------------------------------------------------

  private msg(text: string): string {
    return this.redact(`splunk-hec output "${this.name}": ${text}`);
  }

  private fatal(reason: string): OutputError {
    return new OutputError(this.msg(reason), { retriable: false, fatal: true });
  }

  /** Never let the token into a message (e.g. a proxy echoing headers). */
  private redact(text: string): string {
    return text.split(this.settings.token).join('<redacted>');
  }

  /**
   * Sends events [from, to) as one request and fills `results` (or `pending` for acks). At the
   * top level a whole-request transient failure is thrown (the delivery layer retries the
   * batch); inside a bisect it becomes per-event retries so already delivered parts stay so.
   */
  private async sendRange(
    encoded: readonly EncodedHecEvent[],
    from: number,
    to: number,
    results: (DeliveryResult | undefined)[],
    pending: PendingAck[],
    signal: AbortSignal,
    top: boolean,
  ): Promise<void> {
    let verdict: HecVerdict;
    try {
      const res = await this.http('POST', HEC_PATHS.event, hecBody(encoded.slice(from, to)), this.settings.compression, signal, 'send');
      verdict = classifyHecResponse(res.status, res.body, res.retryAfter);
    } catch (err) {
      const e = err instanceof OutputError ? err : transportFailure(`splunk-hec output "${this.name}"`, 'send', err, signal);
      if (e.fatal || top) throw e;
      for (let i = from; i < to; i++) results[i] = { status: 'retry', reason: this.redact(e.message), retryAfterMs: e.retryAfterMs };
      return;
    }
    switch (verdict.kind) {
      case 'ok':
        if (this.acks) {
          if (verdict.ackId === undefined) {
            throw this.fatal('ack.enabled is on but the server returned no ackId: enable indexer acknowledgement on the token, or turn ack.enabled off');
          }
          pending.push({ from, to, ackId: verdict.ackId });
        } else {
          for (let i = from; i < to; i++) results[i] = { status: 'delivered' };
        }
        return;
      case 'fatal':
        throw this.fatal(verdict.reason);
      case 'retry':
        if (top) throw new OutputError(this.msg(verdict.reason), { retriable: true, retryAfterMs: verdict.retryAfterMs });
        for (let i = from; i < to; i++) results[i] = { status: 'retry', reason: this.msg(verdict.reason), retryAfterMs: verdict.retryAfterMs };
        return;
      case 'invalid': {
        const n = to - from;
        if (n === 1) {
          results[from] = { status: 'rejected', reason: this.msg(`event refused: ${verdict.reason}`) };
          return;
        }
        for (const [a, b] of splitRange(from, to, verdict.invalidEventNumber)) {
          await this.sendRange(encoded, a, b, results, pending, signal, false);
        }
        return;
      }
    }
  }

  private async awaitAcks(pending: readonly PendingAck[], results: (DeliveryResult | undefined)[], signal: AbortSignal): Promise<void> {
    const acks = this.acks!;
    const outcomes = await Promise.all(pending.map((p) => acks.wait(p.ackId, signal)));
    pending.forEach((p, k) => {
      const acked = outcomes[k] === 'acked';
      for (let i = p.from; i < p.to; i++) {
        results[i] = acked
          ? { status: 'delivered' }
          : {
              status: 'retry',
              reason: this.msg(
                `no indexer acknowledgement for ackId ${p.ackId} within ${this.settings.ack.timeoutMs} ms` +
                  `${acks.lastError ? ` (last ack poll error: ${acks.lastError})` : ''}; resending (may duplicate)`,
              ),
            };
      }
    });
  }

  private async queryAcks(ids: readonly number[], signal: AbortSignal): Promise<Readonly<Record<string, boolean>>> {
    let res: HttpAnswer;
    try {
      res = await this.http('POST', HEC_PATHS.ack, JSON.stringify({ acks: ids }), false, signal, 'ack query');
    } catch (err) {
      throw err instanceof OutputError ? err : transportFailure(`splunk-hec output "${this.name}"`, 'ack query', err, signal);
    }
    const verdict = classifyHecResponse(res.status, res.body, res.retryAfter);
    if (verdict.kind === 'fatal') throw this.fatal(`ack query: ${verdict.reason}`);
    if (verdict.kind !== 'ok') throw new OutputError(this.msg(`ack query: ${verdict.reason}`), { retriable: true });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      throw new OutputError(this.msg(`ack query: unreadable answer ${JSON.stringify(res.body.slice(0, 100))}`), { retriable: true });
    }
    const acks = (parsed as { acks?: unknown } | null)?.acks;
    if (!acks || typeof acks !== 'object' || Array.isArray(acks)) {
      const reply = parseHecReply(res.body);
      throw new OutputError(this.msg(`ack query: answer without "acks"${reply.text ? ` ("${reply.text}")` : ''}`), { retriable: true });
    }
    const out: Record<string, boolean> = {};
    for (const [k, v] of Object.entries(acks as Record<string, unknown>)) out[k] = v === true;
    return out;
  }

  private async http(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    compress: boolean,
    signal: AbortSignal,
    what: string,
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = {
      authorization: `Splunk ${this.settings.token}`,
      'x-splunk-request-channel': this.settings.channel,
      'user-agent': 'lkrg-siem',
    };
    let payload: Buffer | string | undefined = body;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      if (compress) {
        payload = await gzip(Buffer.from(body, 'utf8'));
        headers['content-encoding'] = 'gzip';
      }
    }
    this.requestCount++;
    try {
      const res = await request(this.settings.url + path, {
        method,
        headers,
        body: payload ?? (method === 'POST' ? '' : undefined),
        signal,
        dispatcher: this.agent,
      });
      const text = await res.body.text();
      const ra = res.headers['retry-after'];
      return { status: res.statusCode, body: text, retryAfter: Array.isArray(ra) ? ra[0] : ra };
    } catch (err) {
      throw transportFailure(`splunk-hec output "${this.name}"`, what, err, signal);
    }
  }
}

/**
 * How an invalid range is split: around the reported invalid event when the server named one
 * (`[from, k)`, `[k]`, `(k, to)`), else in halves. Empty parts are left out.
 */
export function splitRange(from: number, to: number, invalidEventNumber?: number): [number, number][] {
  const n = to - from;
  if (invalidEventNumber !== undefined && invalidEventNumber >= 0 && invalidEventNumber < n) {
    const k = from + invalidEventNumber;
    const parts: [number, number][] = [
      [from, k],
      [k, k + 1],
      [k + 1, to],
    ];
    return parts.filter(([a, b]) => b > a);
  }
  const mid = from + Math.ceil(n / 2);
  return [
    [from, mid],
    [mid, to],
  ];
}

/** Builds the driver from a config section (called by the output registry). Throws ConfigError. */
export function createSplunkHecOutput(cfg: Record<string, unknown>, name: string): SplunkHecOutput {
  return new SplunkHecOutput(name, resolveSplunkHecSettings(cfg, `outputs.${name}.`));
}
