/**
 * Registers the `syslog` output type and its `--output` URL schemes (`syslog+udp://HOST:PORT`,
 * `syslog+tcp://HOST:PORT`, `syslog+tls://HOST:PORT?ca_file=PATH`; query keys framing, format,
 * facility, severity, app_name, hostname, verify, server_name). Imported once by the CLI.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { registerOutputType } from '../output-registry.js';
import { syslogFields, syslogUrlToConfig } from './syslog-spec.js';

registerOutputType('syslog', {
  desc: 'Syslog (RFC 5424 or 3164) carrying CEF lines over UDP, TCP (octet counting or LF framing) or TLS (RFC 5425); delivered once written and flushed.',
  kind: 'queued',
  fields: { ...syslogFields },
  // the driver module is loaded only when a syslog output is created
  createDriver: async (cfg, name) => (await import('./syslog-output.js')).createSyslogOutput(cfg, name),
});
for (const scheme of ['syslog+udp', 'syslog+tcp', 'syslog+tls']) {
  registerOutputScheme(scheme, (url) => syslogUrlToConfig(url));
}
