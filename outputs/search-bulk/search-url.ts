/**
 * `--output` URL → config section for the search outputs:
 * `<type>+http(s)://HOST:PORT[/INDEX][?install_templates=true&template_name=NAME&pipeline=NAME]`. INDEX may use
 * the {dataset} / {namespace} placeholders (percent-encoded braces are decoded).
 * Credentials are not accepted in URLs (use a config file with password_file).
 */
import { ConfigError } from '../../src/core/types.js';

export function searchUrlToConfig(type: string, url: URL): Record<string, unknown> {
  const scheme = url.protocol.replace(/:$/, '').split('+')[1];
  if (url.username || url.password) {
    throw new ConfigError('--output', `${url.protocol}//<redacted>@${url.host}`, 'credentials are not accepted in URLs; use a config file with username and password_file');
  }
  const cfg: Record<string, unknown> = { type, urls: [`${scheme}://${url.host}`] };
  const index = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (index) cfg.index = index;
  for (const [k, v] of url.searchParams) {
    if (k === 'install_templates') cfg.install_templates = v === 'true' || v === '1';
    else if (k === 'pipeline') cfg.pipeline = v;
    else if (k === 'template_name') cfg.template_name = v;
    else throw new ConfigError('--output', url.href, `unknown query key ${k}; known: install_templates, template_name, pipeline`);
  }
  return cfg;
}
