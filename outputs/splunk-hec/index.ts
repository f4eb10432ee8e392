/**
 * Registers the `splunk_hec` output type and its `--output` URL schemes:
 * `splunk+http://[TOKEN@]HOST:PORT[?token_env=VAR|token_file=PATH&index=NAME&ack=true&compression=false&event_format=ecs]`
 * and `splunk+https://...` (also spelled `splunk-hec+http(s)`). A TOKEN in the URL is moved
 * at once into a process-private environment variable and handled like `token_env` (never
 * printed; a warning says that command lines are visible to other local users). Without a
 * token the SPLUNK_HEC_TOKEN environment variable is used. Imported once by the CLI; the driver
 * module (undici) is imported when a splunk_hec output is created.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { ConfigError } from '../../src/core/types.js';
import { registerOutputType } from '../output-registry.js';
import { splunkHecFields } from './splunk-hec-spec.js';

registerOutputType('splunk_hec', {
  desc: 'Splunk HTTP Event Collector: gzip-batched JSON events to /services/collector/event, indexed fields, optional indexer acknowledgement; bad events isolated by bisecting.',
  kind: 'queued',
  fields: { ...splunkHecFields },
  // undici is loaded only when a splunk_hec output is created
  createDriver: async (cfg, name) => (await import('./splunk-hec-output.js')).createSplunkHecOutput(cfg, name),
});

const QUERY_KEYS = ['token_env', 'token_file', 'index', 'source', 'sourcetype', 'ack', 'compression', 'event_format', 'channel'];

/** `--output splunk-hec+http(s)://HOST:PORT?...` → config section. Throws ConfigError. */
export function splunkHecUrlToConfig(url: URL): Record<string, unknown> {
  const scheme = url.protocol.replace(/:$/, '').split('+')[1];
  const cfg: Record<string, unknown> = { type: 'splunk_hec', url: `${scheme}://${url.host}${url.pathname.replace(/\/+$/, '')}` };
  if (url.username || url.password) {
    const token = decodeURIComponent(url.password || url.username);
    if (!/^[\x21-\x7e]+$/.test(token)) throw new ConfigError('--output', `${url.protocol}//<redacted>@${url.host}`, 'the token in the URL contains spaces or control characters');
    const envName = `LKRG_SIEM_URL_TOKEN_${++urlTokens}`;
    process.env[envName] = token;
    cfg.token_env = envName;
    process.stderr.write(`lkrg-siem warn: a HEC token on the command line is visible to other local users (ps); prefer ?token_env=VAR or ?token_file=PATH.\n`);
  }
  for (const [k, v] of url.searchParams) {
    if (!QUERY_KEYS.includes(k)) throw new ConfigError('--output', `${url.protocol}//${url.host}${url.pathname}?${k}=...`, `unknown query key ${k}; known: ${QUERY_KEYS.join(', ')}`);
    if (k === 'ack') cfg.ack = { enabled: v === 'true' || v === '1' };
    else if (k === 'compression') cfg.compression = !(v === 'false' || v === '0');
    else cfg[k] = v;
  }
  if (cfg.token_env === undefined && cfg.token_file === undefined) cfg.token_env = 'SPLUNK_HEC_TOKEN';
  return cfg;
}

let urlTokens = 0;

for (const scheme of ['splunk+http', 'splunk+https', 'splunk-hec+http', 'splunk-hec+https']) {
  registerOutputScheme(scheme, (url) => splunkHecUrlToConfig(url));
}
