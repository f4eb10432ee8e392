/**
 * Registers the `splunk-hec` output type and its `--output` URL schemes:
 * `splunk-hec+http://HOST:PORT[?token_env=VAR|token_file=PATH&index=NAME&ack=true&compression=false&event_format=ecs]`
 * and `splunk-hec+https://...`. Without token_env/token_file the token is read from the
 * SPLUNK_HEC_TOKEN environment variable. Tokens are never accepted in the URL. Imported once by the CLI.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { ConfigError } from '../../src/core/types.js';
import { registerOutputType } from '../output-registry.js';
import { createSplunkHecOutput } from './splunk-hec-output.js';
import { splunkHecFields } from './splunk-hec-spec.js';

registerOutputType('splunk-hec', {
  desc: 'Splunk HTTP Event Collector: gzip-batched JSON events to /services/collector/event, indexed fields, optional indexer acknowledgement; bad events isolated by bisecting.',
  kind: 'queued',
  fields: { ...splunkHecFields },
  createDriver: (cfg, name) => createSplunkHecOutput(cfg, name),
});

const QUERY_KEYS = ['token_env', 'token_file', 'index', 'source', 'sourcetype', 'ack', 'compression', 'event_format', 'channel'];

/** `--output splunk-hec+http(s)://HOST:PORT?...` → config section. Throws ConfigError. */
export function splunkHecUrlToConfig(url: URL): Record<string, unknown> {
  const scheme = url.protocol.replace(/:$/, '').split('+')[1];
  if (url.username || url.password) {
    throw new ConfigError('--output', `${url.protocol}//<redacted>@${url.host}`, 'tokens are not accepted in URLs; use ?token_env=VAR or ?token_file=PATH');
  }
  const cfg: Record<string, unknown> = { type: 'splunk-hec', url: `${scheme}://${url.host}${url.pathname.replace(/\/+$/, '')}` };
  for (const [k, v] of url.searchParams) {
    if (!QUERY_KEYS.includes(k)) throw new ConfigError('--output', `${url.protocol}//${url.host}${url.pathname}?${k}=...`, `unknown query key ${k}; known: ${QUERY_KEYS.join(', ')}`);
    if (k === 'ack') cfg.ack = { enabled: v === 'true' || v === '1' };
    else if (k === 'compression') cfg.compression = !(v === 'false' || v === '0');
    else cfg[k] = v;
  }
  if (cfg.token_env === undefined && cfg.token_file === undefined) cfg.token_env = 'SPLUNK_HEC_TOKEN';
  return cfg;
}

for (const scheme of ['splunk-hec+http', 'splunk-hec+https']) {
  registerOutputScheme(scheme, (url) => splunkHecUrlToConfig(url));
}
