/**
 * The `opensearch` output: bulk `create` into data streams through @opensearch-project/opensearch
 * (the Elastic client refuses OpenSearch: it has no X-Elastic-Product header). Same encoding,
 * classification and templates as the `elasticsearch` output (outputs/search-bulk/).
 * Auth: basic only (OpenSearch has no Elasticsearch API keys).
 */
import { Client, type ClientOptions } from '@opensearch-project/opensearch';
import type { OutputDriver } from '../../src/core/output.js';
import { resolveSearchSettings, type SearchSettings } from '../search-bulk/search-config.js';
import { SearchBulkDriver, type OutputLog, type SearchAnswer, type SearchRequest, type SearchTransport } from '../search-bulk/search-bulk-driver.js';
import { transportFailure } from '../shared/transport-errors.js';

/** Config keys of the `opensearch` output (in opensearch-spec.ts, which does not load the client). */
export { opensearchFields } from './opensearch-spec.js';

const ALL_STATUSES = Array.from({ length: 300 }, (_, i) => 300 + i);

class OpenSearchTransport implements SearchTransport {
  private readonly client: Client;

  constructor(
    private readonly output: string,
    s: SearchSettings,
  ) {
    const opts: ClientOptions = {
      nodes: [...s.urls],
      maxRetries: 0,
      requestTimeout: s.requestTimeoutMs + 5000,
      sniffOnStart: false,
      ssl: { ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key, rejectUnauthorized: s.tls.verify },
    };
    if (s.compression) opts.compression = 'gzip';
    if (s.auth && 'username' in s.auth) opts.auth = { username: s.auth.username, password: s.auth.password };
    this.client = new Client(opts);
  }

  async request(req: SearchRequest, signal: AbortSignal): Promise<SearchAnswer> {
    const what = `${req.method} ${req.path}`;
    if (signal.aborted) throw transportFailure(this.output, what, signal.reason, signal);
    const pending = this.client.transport.request(
      { method: req.method, path: req.path, body: req.body, bulkBody: req.bulkBody, querystring: req.querystring },
      { maxRetries: 0, ignore: ALL_STATUSES },
    );
    let abortRace: (reason: unknown) => void = () => {};
    const aborted = new Promise<never>((_, reject) => (abortRace = reject));
    // one listener per request, removed when it settles: many requests share a signal (the
    // template installs at start, the halves of a split batch)
    const onAbort = (): void => {
      // the client reports an aborted request by throwing from inside abort(); thrown from an
      // AbortSignal listener that would be an uncaught exception and end the process
      try {
        pending.abort();
      } catch {
        /* the request is dropped either way; the caller sees the abort through the signal */
      }
      abortRace(signal.reason ?? new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await Promise.race([pending, aborted]);
      return { status: res.statusCode ?? 0, headers: (res.headers ?? {}) as Record<string, unknown>, body: res.body };
    } catch (err) {
      throw transportFailure(this.output, what, err, signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Builds an `opensearch` output from its config section (defaults filled by the spec).
 * Called by the output registry. Throws ConfigError for invalid settings. `log` receives
 * start-up facts (template install, substituted field types).
 */
export function createOpenSearchOutput(config: Record<string, unknown>, name: string, log?: OutputLog): OutputDriver {
  const settings = resolveSearchSettings(config, `outputs.${name}.`, { apiKey: false });
  return new SearchBulkDriver(name, 'opensearch', settings, new OpenSearchTransport(name, settings), log);
}
