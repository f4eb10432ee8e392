/**
 * The OutputDriver behind the `elasticsearch` and `opensearch` outputs. The product modules
 * supply a {@link SearchTransport} (their npm client); this class encodes batches as bulk
 * `create` actions, sends them, splits on 413, classifies each item (bulk-protocol.ts) and
 * installs templates at start. It never sleeps or retries: the delivery layer does.
 */
import { OutputError, type OutputDriver, type QueuedEvent } from '../../src/core/output.js';
import type { DeliveryResult } from '../../src/core/types.js';
import { classifyBulkItems, encodeBulk, requestFailure, answerError } from './bulk-protocol.js';
import type { SearchSettings } from './search-config.js';
import { buildTemplates, MappingCompat } from './search-templates.js';

/** A server answer with any status (transports never throw for HTTP statuses). */

/** What classifyBulkItems reads of a bulk answer (servers that ignore filter_path send all of it). */
const BULK_FILTER_PATH = 'items.*.status,items.*.error,items.*._index';
export interface SearchAnswer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: unknown;
}

/**
 * One request as the driver issues it. `bulkBody` is NDJSON (UTF-8 bytes or text), sent as-is:
 * the clients neither serialize nor re-encode it.
 */
export interface SearchRequest {
  readonly method: 'GET' | 'PUT' | 'POST';
  readonly path: string;
  readonly body?: Record<string, unknown>;
  readonly bulkBody?: string | Buffer;
  readonly querystring?: Record<string, string>;
}

/**
 * What a product module implements around its npm client. `request` resolves with the
 * answer for every HTTP status, honours `signal`, and throws OutputError for failures
 * without an answer: retriable for network errors, timeouts and aborts; fatal for TLS trust
 * failures and for a server that is not the expected product. Messages name the output.
 */
export interface SearchTransport {
  request(req: SearchRequest, signal: AbortSignal): Promise<SearchAnswer>;
  close(): Promise<void>;
}

/** Diagnostic log of one output (start-up facts such as template substitutions). */
export type OutputLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export class SearchBulkDriver implements OutputDriver {
  constructor(
    readonly name: string,
    readonly type: string,
    private readonly settings: SearchSettings,
    private readonly transport: SearchTransport,
    private readonly log: OutputLog = () => {},
    private readonly elastic = type === 'elasticsearch',
  ) {}

  async start(signal: AbortSignal): Promise<void> {
    // Reachability and credentials. GET / needs no index privilege; 404/405 mean a server
    // without the root endpoint (a bare node), which is fine; 403 means a key without
    // monitor privileges, which may still write, so only 401 is fatal here.
    const root = await this.transport.request({ method: 'GET', path: '/' }, signal);
    if (root.status === 401 || root.status === 429 || root.status >= 500) {
      throw requestFailure(this.name, 'GET /', root.status, root.headers, root.body);
    }
    if (this.settings.installTemplates) await this.installTemplates(signal);
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    const res = await this.transport.request({ method: 'GET', path: '/_cluster/health' }, signal);
    if (res.status === 403 || res.status === 404 || res.status === 405) {
      const root = await this.transport.request({ method: 'GET', path: '/' }, signal);
      if (root.status === 401 || root.status === 429 || root.status >= 500) throw requestFailure(this.name, 'GET /', root.status, root.headers, root.body);
      return;
    }
    if (res.status !== 200) throw requestFailure(this.name, 'GET /_cluster/health', res.status, res.headers, res.body);
  }

  async send(batch: readonly QueuedEvent[], signal: AbortSignal): Promise<DeliveryResult[]> {
    const results: (DeliveryResult | undefined)[] = new Array(batch.length);
    const all: number[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) all[i] = i;
    await this.sendPart(batch, all, results, signal);
    return results.map((r, i) => r ?? { status: 'retry', reason: `${this.name}: no answer for event ${batch[i]!.id}` });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Sends `indexes` of `batch` in one request; on 413 splits them in halves. */
  private async sendPart(
    batch: readonly QueuedEvent[],
    indexes: readonly number[],
    results: (DeliveryResult | undefined)[],
    signal: AbortSignal,
  ): Promise<void> {
    const part = indexes.length === batch.length ? batch : indexes.map((i) => batch[i]!);
    const encoded = encodeBulk(part, this.settings.index);
    for (const [k, r] of encoded.early) results[indexes[k]!] = r;
    if (encoded.positions.length === 0) return;
    // filter_path: the answer keeps per item only what the classification reads (status, error,
    // _index), about a fifth of the full item (_id, _version, result, _shards, _seq_no, ...),
    // which the server then builds and we parse for every event
    const querystring: Record<string, string> = { filter_path: BULK_FILTER_PATH };
    if (this.settings.pipeline) querystring.pipeline = this.settings.pipeline;
    // UTF-8 bytes: the client takes their length and writes them without another pass
    const bulkBody = encoded.body;
    const res = await this.transport.request({ method: 'POST', path: '/_bulk', bulkBody, querystring }, signal);
    if (res.status === 413) {
      const sent = encoded.positions.map((k) => indexes[k]!);
      if (sent.length === 1) {
        results[sent[0]!] = {
          status: 'rejected',
          reason: `413 event of ${bulkBody.length} bytes is larger than the server's http.max_content_length`,
        };
        return;
      }
      const half = Math.ceil(sent.length / 2);
      await this.sendPart(batch, sent.slice(0, half), results, signal);
      await this.sendPart(batch, sent.slice(half), results, signal);
      return;
    }
    if (res.status < 200 || res.status >= 300) throw requestFailure(this.name, 'bulk request', res.status, res.headers, res.body);
    const classified = classifyBulkItems(this.name, res.body, encoded.positions);
    for (const [k, r] of classified) results[indexes[k]!] = r;
  }

  private async installTemplates(signal: AbortSignal): Promise<void> {
    const set = buildTemplates({
      prefix: this.settings.templateName,
      index: this.settings.index,
      priority: this.settings.templatePriority,
      elastic: this.elastic,
    });
    const compat = new MappingCompat();
    for (const c of set.components) {
      await this.putTemplate(`/_component_template/${encodeURIComponent(c.name)}`, c.body, compat, signal);
    }
    await this.putTemplate(`/_index_template/${encodeURIComponent(set.indexTemplate.name)}`, set.indexTemplate.body, undefined, signal);
    const subst = compat.describe();
    this.log(
      subst.length ? 'warn' : 'info',
      `${this.name}: installed ${set.components.length} component templates and index template ${set.indexTemplate.name} ` +
        `for ${JSON.stringify((set.indexTemplate.body.index_patterns as string[])[0])}` +
        (subst.length ? `; this server lacks some ECS field types, substituted: ${subst.join(', ')}` : ''),
    );
  }

  private async putTemplate(path: string, body: Record<string, unknown>, compat: MappingCompat | undefined, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt < 12; attempt++) {
      const res = await this.transport.request({ method: 'PUT', path, body: compat ? compat.apply(body) : body }, signal);
      if (res.status >= 200 && res.status < 300) return;
      if (res.status === 400 && compat?.learn(answerError(res.body))) continue;
      const err = requestFailure(this.name, `PUT ${path}`, res.status, res.headers, res.body);
      if (res.status === 403) {
        throw new OutputError(`${err.message} (install_templates needs the manage_index_templates cluster privilege)`, {
          retriable: false,
          fatal: true,
        });
      }
      throw err;
    }
    throw new OutputError(`${this.name}: PUT ${path}: too many mapping incompatibilities`, { retriable: false, fatal: true });
  }
}
