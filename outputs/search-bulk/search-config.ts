/**
 * Config keys shared by the `elasticsearch` and `opensearch` outputs, and their resolution
 * into client options (secrets read from files or environment variables, TLS files read).
 * Called by the output factories; throws ConfigError (key, value, fix) for bad settings.
 * Secrets never appear in errors or logs.
 */
import { readFileSync } from 'node:fs';
import type { FieldSpec } from '../../src/config/config-spec.js';
import { ConfigError } from '../../src/core/types.js';
import { indexTemplateProblem } from './bulk-protocol.js';

/** Defaults of the shared keys. */
export const SEARCH_DEFAULTS = {
  index: 'logs-{dataset}-{namespace}',
  install_templates: false,
  template_name: 'lkrg-siem',
  template_priority: 200,
  compression: false,
  request_timeout_ms: 30_000,
} as const;

/**
 * Delivery defaults of both search outputs (`batch.*`; the shared defaults are 500 events and 2
 * requests in flight). test/bench/bench-outputs.ts gives its raw `_bulk` ceiling the same.
 */
export const SEARCH_BATCH_DEFAULTS = { max_events: 1000, max_in_flight: 3 } as const;

/** Config fields of both search outputs (`api_key*` only where the server supports it). */
export function searchFields(opts: { product: string; apiKey: boolean; defaultPort: number }): Record<string, FieldSpec> {
  const fields: Record<string, FieldSpec> = {
    urls: {
      kind: 'string_list',
      desc: `${opts.product} node URLs (http:// or https://), e.g. https://127.0.0.1:${opts.defaultPort}; requests are spread over them.`,
      required: true,
      minItems: 1,
    },
    index: {
      kind: 'string',
      desc: 'Target data stream (or index) per event; {dataset} = event.dataset (lkrg.alert, lkrg.log), {namespace} = data_stream.namespace of the event.',
      default: SEARCH_DEFAULTS.index,
    },
    pipeline: { kind: 'string', desc: 'Ingest pipeline to run on every document (bulk `pipeline` parameter); unset = the index default.' },
    username: { kind: 'string', desc: 'Basic-auth user name.' },
    password: { kind: 'string', desc: 'Refused (secrets never live in the config file): use password_file or password_env.', secret: true },
    password_file: { kind: 'string', desc: 'File holding the basic-auth password (trailing newline ignored).' },
    password_env: { kind: 'string', desc: 'Environment variable holding the basic-auth password.' },
    tls: {
      kind: 'object',
      desc: 'TLS for https:// URLs.',
      fields: {
        ca_file: { kind: 'string', desc: 'PEM file of the CA(s) to trust instead of the system store.' },
        cert_file: { kind: 'string', desc: 'PEM client certificate (mutual TLS).' },
        key_file: { kind: 'string', desc: 'PEM private key of cert_file.' },
        verify: { kind: 'bool', desc: 'Verify the server certificate and host name. Turn off only for tests.', default: true },
      },
    },
    compression: { kind: 'bool', desc: 'gzip request bodies.', default: SEARCH_DEFAULTS.compression },
    install_templates: {
      kind: 'bool',
      desc: 'At start, install ECS 9.4.0 component templates, an lkrg.* component and a data-stream index template for the targets (needs manage_index_templates).',
      default: SEARCH_DEFAULTS.install_templates,
    },
    template_name: {
      kind: 'string',
      desc: 'Name of the installed index template; components are named <template_name>@ecs-<fieldset> and <template_name>@lkrg.',
      default: SEARCH_DEFAULTS.template_name,
      pattern: /^[a-z0-9][a-z0-9._-]{0,99}$/,
      patternHint: 'lower-case letters, digits, . _ - (at most 100)',
    },
    template_priority: {
      kind: 'int',
      desc: 'Priority of the installed index template; above 100 so it wins over the built-in logs-*-* template.',
      default: SEARCH_DEFAULTS.template_priority,
      min: 0,
    },
  };
  if (opts.apiKey) {
    fields.api_key = { kind: 'string', desc: 'Refused (secrets never live in the config file): use api_key_file or api_key_env (the base64 "id:key" credential).', secret: true };
    fields.api_key_file = { kind: 'string', desc: 'File holding the API key.' };
    fields.api_key_env = { kind: 'string', desc: 'Environment variable holding the API key.' };
  }
  return fields;
}

/** Resolved, validated settings of one search output. */
export interface SearchSettings {
  readonly urls: readonly string[];
  readonly index: string;
  readonly pipeline?: string;
  readonly auth?: { readonly username: string; readonly password: string } | { readonly apiKey: string };
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly verify: boolean };
  readonly compression: boolean;
  readonly installTemplates: boolean;
  readonly templateName: string;
  readonly templatePriority: number;
  readonly requestTimeoutMs: number;
}

function str(cfg: Record<string, unknown>, key: string): string | undefined {
  const v = cfg[key];
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function readTextFile(key: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(key, file, `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** One secret from exactly one of `<key>`, `<key>_file`, `<key>_env`. */
function secret(cfg: Record<string, unknown>, key: string, prefix: string): string | undefined {
  const inline = str(cfg, key);
  const file = str(cfg, `${key}_file`);
  const env = str(cfg, `${key}_env`);
  const set = [inline !== undefined && key, file !== undefined && `${key}_file`, env !== undefined && `${key}_env`].filter(Boolean);
  if (set.length > 1) throw new ConfigError(`${prefix}${set[1]}`, '<set>', `use only one of ${key}, ${key}_file, ${key}_env`);
  if (inline !== undefined) {
    // secrets come from env or files only, never from the config file itself
    throw new ConfigError(`${prefix}${key}`, '<redacted>', `secrets are not accepted inline: use ${key}_file or ${key}_env`);
  }
  if (file !== undefined) {
    const text = readTextFile(`${prefix}${key}_file`, file, 'the secret file').replace(/\r?\n$/, '');
    if (!text) throw new ConfigError(`${prefix}${key}_file`, file, 'the file is empty');
    return text;
  }
  if (env !== undefined) {
    const value = process.env[env];
    if (!value) throw new ConfigError(`${prefix}${key}_env`, env, `environment variable ${env} is not set or empty`);
    return value;
  }
  return undefined;
}

/**
 * Validates a config section (defaults already filled by the spec, or not: missing keys get
 * the defaults here too) and reads secret and TLS files. `prefix` is prepended to key names
 * in errors (e.g. "outputs[1]."). Throws ConfigError.
 */
export function resolveSearchSettings(cfg: Record<string, unknown>, prefix = '', opts: { apiKey: boolean }): SearchSettings {
  const rawUrls = cfg.urls ?? cfg.url;
  const urls = (Array.isArray(rawUrls) ? rawUrls : rawUrls === undefined ? [] : [rawUrls]).map(String);
  if (urls.length === 0) throw new ConfigError(`${prefix}urls`, rawUrls, 'give at least one node URL, e.g. https://127.0.0.1:9200');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new ConfigError(`${prefix}urls`, u, 'not a URL; use http(s)://HOST:PORT');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${prefix}urls`, u, 'use http:// or https://');
    if (parsed.username || parsed.password) {
      throw new ConfigError(`${prefix}urls`, `${parsed.protocol}//<redacted>@${parsed.host}`, 'put credentials in username/password_file, not in the URL');
    }
  }
  const index = str(cfg, 'index') ?? SEARCH_DEFAULTS.index;
  const problem = indexTemplateProblem(index);
  if (problem) throw new ConfigError(`${prefix}index`, index, problem);

  const username = str(cfg, 'username');
  const password = secret(cfg, 'password', prefix);
  const apiKey = opts.apiKey ? secret(cfg, 'api_key', prefix) : undefined;
  if (password !== undefined && username === undefined) throw new ConfigError(`${prefix}username`, undefined, 'a password needs a username');
  if (username !== undefined && password === undefined) {
    throw new ConfigError(`${prefix}password`, undefined, 'username is set: give password, password_file or password_env');
  }
  if (apiKey !== undefined && username !== undefined) throw new ConfigError(`${prefix}api_key`, '<set>', 'use either api_key or username/password, not both');
  const auth = apiKey !== undefined ? { apiKey } : username !== undefined ? { username, password: password! } : undefined;

  const tlsCfg = (cfg.tls ?? {}) as Record<string, unknown>;
  const caFile = str(tlsCfg, 'ca_file');
  const certFile = str(tlsCfg, 'cert_file');
  const keyFile = str(tlsCfg, 'key_file');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(`${prefix}tls.${certFile ? 'key_file' : 'cert_file'}`, undefined, 'client certificates need both cert_file and key_file');
  }
  const verify = tlsCfg.verify === undefined ? true : tlsCfg.verify === true;
  const tls = {
    ca: caFile ? readTextFile(`${prefix}tls.ca_file`, caFile, 'the CA file') : undefined,
    cert: certFile ? readTextFile(`${prefix}tls.cert_file`, certFile, 'the certificate file') : undefined,
    key: keyFile ? readTextFile(`${prefix}tls.key_file`, keyFile, 'the key file') : undefined,
    verify,
  };
  if (tls.ca !== undefined && !tls.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`${prefix}tls.ca_file`, caFile, 'not a PEM certificate file');
  }
  const templateName = str(cfg, 'template_name') ?? SEARCH_DEFAULTS.template_name;
  const priority = cfg.template_priority === undefined ? SEARCH_DEFAULTS.template_priority : Number(cfg.template_priority);
  if (!Number.isInteger(priority) || priority < 0) throw new ConfigError(`${prefix}template_priority`, cfg.template_priority, 'a whole number >= 0 (above 100 to win over logs-*-*)');
  const timeout = cfg.request_timeout_ms === undefined ? SEARCH_DEFAULTS.request_timeout_ms : Number(cfg.request_timeout_ms);
  return {
    urls,
    index,
    pipeline: str(cfg, 'pipeline'),
    auth,
    tls,
    compression: cfg.compression === true,
    installTemplates: cfg.install_templates === true,
    templateName,
    templatePriority: priority,
    requestTimeoutMs: timeout,
  };
}
