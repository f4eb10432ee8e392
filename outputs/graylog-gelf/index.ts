/**
 * Registers the `graylog_gelf` output type and its `--output` URL schemes
 * (`gelf+udp://HOST:PORT`, `gelf+tcp://HOST:PORT`, `gelf+tls://HOST:PORT`,
 * `gelf+http://HOST:PORT[/gelf]`, `gelf+https://...`). Imported once by the CLI.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { registerOutputType } from '../output-registry.js';
import { gelfFields, gelfUrlToConfig } from './graylog-gelf-spec.js';

registerOutputType('graylog_gelf', {
  desc: 'Graylog GELF 1.1 over UDP (chunked, gzip; fire and forget), TCP (NUL-framed, optional TLS) or HTTP POST /gelf (gzip, 202 = delivered).',
  kind: 'queued',
  fields: { ...gelfFields },
  // the driver (and undici) is loaded only when a graylog_gelf output is created
  createDriver: async (cfg, name) => (await import('./graylog-gelf-output.js')).createGelfOutput(cfg, name),
});
for (const scheme of ['gelf+udp', 'gelf+tcp', 'gelf+tls', 'gelf+http', 'gelf+https']) {
  registerOutputScheme(scheme, (url) => gelfUrlToConfig(url));
}
