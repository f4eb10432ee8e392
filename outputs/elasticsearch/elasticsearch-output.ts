/**
 * The `elasticsearch` output: bulk `create` into data streams through @elastic/elasticsearch
 * 8.19 (`client.transport.request`, our own per-item classification; not helpers.bulk, which
 * drops 5xx items and 409 replays — formats.md §6.3). Works with Elasticsearch 8.x and 9.x
 * (the client sends `compatible-with=8`). The client refuses servers that do not answer
 * `X-Elastic-Product: Elasticsearch` (OpenSearch): use the `opensearch` output for those.
 */
// before the client: defers modules it loads only for features lkrg-siem does not use
import './deferred-modules.js';
import { Client, errors, type ClientOptions } from '@elastic/elasticsearch';
import { OutputError, type OutputDriver } from '../../src/core/output.js';
import { resolveSearchSettings, type SearchSettings } from '../search-bulk/search-config.js';
import { SearchBulkDriver, type OutputLog, type SearchAnswer, type SearchRequest, type SearchTransport } from '../search-bulk/search-bulk-driver.js';
import { transportFailure } from '../shared/transport-errors.js';

/** Config keys of the `elasticsearch` output (in elasticsearch-spec.ts, which does not load the client). */
export { elasticsearchFields } from './elasticsearch-spec.js';

/** Every HTTP status the transport must hand back instead of throwing. */
const ALL_STATUSES = Array.from({ length: 300 }, (_, i) => 300 + i);

class ElasticTransport implements SearchTransport {
  private readonly client: Client;

  constructor(
    private readonly output: string,
    s: SearchSettings,
  ) {
    const opts: ClientOptions = {
      nodes: [...s.urls],
      maxRetries: 0,
      requestTimeout: s.requestTimeoutMs + 5000,
      compression: s.compression,
      sniffOnStart: false,
      tls: { ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key, rejectUnauthorized: s.tls.verify },
    };
    if (s.auth) opts.auth = 'apiKey' in s.auth ? { apiKey: s.auth.apiKey } : { username: s.auth.username, password: s.auth.password };
    this.client = new Client(opts);
  }

  async request(req: SearchRequest, signal: AbortSignal): Promise<SearchAnswer> {
    const what = `${req.method} ${req.path}`;
    if (signal.aborted) throw transportFailure(this.output, what, signal.reason, signal);
    try {
      const res = await this.client.transport.request(
        { method: req.method, path: req.path, body: req.body, bulkBody: req.bulkBody, querystring: req.querystring },
        { signal, meta: true, maxRetries: 0, ignore: ALL_STATUSES },
      );
      return { status: res.statusCode ?? 0, headers: (res.headers ?? {}) as Record<string, unknown>, body: res.body };
    } catch (err) {
      if (err instanceof errors.ProductNotSupportedError) {
        throw new OutputError(
          `${this.output}: the server at ${this.client.connectionPool.connections[0]?.url.origin ?? 'urls'} is not Elasticsearch (no X-Elastic-Product header): use an output of type opensearch for OpenSearch`,
          { retriable: false, fatal: true, cause: err },
        );
      }
      throw transportFailure(this.output, what, err, signal);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Builds an `elasticsearch` output from its config section (defaults filled by the spec).
 * Called by the output registry. Throws ConfigError for invalid settings (unreadable secret
 * or CA file, bad index template, ...). `log` receives start-up facts (template install).
 */
export function createElasticsearchOutput(config: Record<string, unknown>, name: string, log?: OutputLog): OutputDriver {
  const settings = resolveSearchSettings(config, `outputs.${name}.`, { apiKey: true });
  return new SearchBulkDriver(name, 'elasticsearch', settings, new ElasticTransport(name, settings), log);
}
