/**
 * The forwarder's configuration file (YAML): its spec, loading and validation.
 * `lkrg-siem run --config FILE` and `lkrg-siem check-config FILE` call {@link loadConfig}.
 */
import { readFileSync } from 'node:fs';
import { yamlModule } from '../core/lazy-yaml.js';
import { ConfigError } from '../core/types.js';
import { applySpec, ConfigErrors, redact, type ConfigObject, type FieldSpec } from './config-spec.js';
import { outputVariants } from '../../outputs/output-registry.js';
import { kafkaFields } from '../../outputs/kafka/index.js';
import { EventFilter } from '../pipeline/event-filter.js';
export { deliveryFields } from './delivery-fields.js';

/** `tags`: the top level's and every source's. */
const tagsField = {
  kind: 'string_list',
  desc: 'Added to the tags of the events of this source, after the top-level tags.',
  pattern: /^[^\u0000-\u001f]{1,128}$/,
  patternHint: '1-128 characters, no control characters',
} as const satisfies FieldSpec;

/** `labels`: the top level's and every source's. */
const labelsField = {
  kind: 'string_map',
  desc: 'Added to the labels of the events of this source, over the top-level labels (this source wins on a clash), e.g. { log_server: lsrv1 }.',
  keyPattern: /^[a-z0-9_]{1,64}$/,
  keyHint: 'label names are lower-case letters, digits and _ (no dots: Elasticsearch would read them as objects)',
  maxValueLength: 1024,
} as const satisfies FieldSpec;

/** `start_at` of every live source but kafka (which has start_from). */
const startAtField = {
  kind: 'string',
  desc: 'Live mode, the very first start only (no saved position yet): beginning reads what the input already holds (the whole journal, the files as they are); end only what arrives from then on. Files that appear later are read from their start either way; restarts resume where they stopped.',
  default: 'beginning',
  enum: ['beginning', 'end'],
} as const satisfies FieldSpec;

/** `quiet_after_s` of every source that can run live. */
const quietAfterField = {
  kind: 'int',
  desc: 'Live mode: report a host whose LKRG said nothing (no heartbeat, no alert) for this long, once per silence, as a `quiet` event; 0 = off. Above twice the LKRG heartbeat interval when heartbeats are on.',
  default: 0,
  min: 0,
} as const satisfies FieldSpec;

/** Fields of the file sources that can follow files (`text`, `journald_json`). */
const liveFileFields = {
  mode: { kind: 'string', desc: 'replay reads every file once, rotated archives oldest first; live follows the files as they grow, across truncation and logrotate, and keeps reading a rotated file its writer still appends to (see Sources, following kernel-log files).', default: 'replay', enum: ['replay', 'live'] },
  poll_interval_ms: { kind: 'int', desc: 'Live mode: how often the paths are expanded again and the files checked for new data.', default: 500, min: 10 },
  rotated_follow_max: { kind: 'int', desc: 'Live mode: rotated files per followed file still read after rename-and-create rotations (rsyslog keeps writing to the renamed file until it reopens it); past this many the oldest is closed with a warning. 0 = read a rotated file to its end at the rotation, then close it.', default: 16, min: 0, max: 1000 },
  rotated_deleted_follow_s: { kind: 'int', desc: 'Live mode: a followed rotated file that logrotate compressed or removed is still read through the open descriptor until it has not grown for this long; closing it frees the deleted inode.', default: 3600, min: 0 },
  quiet_after_s: quietAfterField,
  start_at: startAtField,
  tags: tagsField,
  labels: labelsField,
} as const satisfies Record<string, FieldSpec>;

const sourceVariants = {
  logger_store: {
    desc: 'An lkrg-logger store directory (one file per client IPv4), followed live, or replayed with rotated and gzip archives.',
    fields: {
      path: { kind: 'string', desc: 'Store directory, e.g. /var/log/lkrg-logger.', required: true },
      mode: { kind: 'string', desc: 'live follows every file (also new ones); replay reads everything once, rotated archives included.', default: 'live', enum: ['live', 'replay'] },
      poll_interval_ms: { kind: 'int', desc: 'How often live mode looks for new data and new files.', default: 500, min: 10 },
      quiet_after_s: quietAfterField,
      start_at: startAtField,
      tags: tagsField,
      labels: labelsField,
      rotated_follow_max: { kind: 'int', desc: 'Live mode: rotated files per client still read after rename-and-create rotations (lkrg-logger sessions keep appending to the file they opened); past this many the oldest is closed with a warning. 0 = read a rotated file to its end at the rotation, then close it.', default: 16, min: 0, max: 1000 },
      rotated_deleted_follow_s: { kind: 'int', desc: 'Live mode: a followed rotated file that logrotate compressed or removed is still read through the open descriptor until it has not grown for this long; closing it frees the deleted inode.', default: 3600, min: 0 },
    },
  },
  journald: {
    desc: 'The systemd journal through journalctl (kernel messages), live from a cursor, or archived journal files.',
    fields: {
      mode: { kind: 'string', desc: 'live follows the journal; replay reads the files or directory once.', default: 'live', enum: ['live', 'replay'] },
      directory: { kind: 'string', desc: 'Journal directory (journalctl --directory).' },
      files: { kind: 'string_list', desc: 'Journal files (journalctl --file).' },
      journalctl_path: { kind: 'string', desc: 'journalctl binary.', default: 'journalctl' },
      quiet_after_s: quietAfterField,
      start_at: startAtField,
      tags: tagsField,
      labels: labelsField,
    },
  },
  journald_json: {
    desc: 'Files of `journalctl --output=json` lines (exports from other machines, or `journalctl -o json -f` written to a file), read once or followed.',
    fields: {
      paths: { kind: 'string_list', desc: 'Files, directories or patterns with * and ? (e.g. /srv/exports/*/kernel.json).', required: true, minItems: 1 },
      ...liveFileFields,
    },
  },
  kafka: {
    desc: 'Kernel log lines from Kafka topics, read by a consumer group: several lkrg-siem instances with the same group_id share the partitions. A message holds text lines of any shape `text` reads (syslog as rsyslog omkafka sends it, journalctl JSON, dmesg, ...), lkrg-logger store records (message key = client IPv4), or the ECS documents the kafka output of an upstream lkrg-siem wrote (forwarded unchanged). Offsets are committed to Kafka only after the events are in the state file.',
    fields: {
      brokers: { kind: 'string_list', desc: 'Seed brokers, "host:port" (or kafka://host:port, kafka+ssl://host:port).', required: true, minItems: 1 },
      topics: { kind: 'string_list', desc: 'Topics to consume.', required: true, minItems: 1 },
      group_id: { kind: 'string', desc: 'Consumer group: instances with the same group share the partitions; each group gets every message.', default: 'lkrg-siem', pattern: /^[A-Za-z0-9._-]{1,249}$/, patternHint: 'characters from [A-Za-z0-9._-]' },
      client_id: { kind: 'string', desc: 'Kafka client id (quotas, broker logs).', default: 'lkrg-siem' },
      start_from: { kind: 'string', desc: 'Where a group without committed offsets starts: earliest (everything the topic still holds) or latest (new messages only).', default: 'earliest', enum: ['earliest', 'latest'] },
      input: { kind: 'string', desc: 'Shape of text lines; auto detects it per line (lkrg-logger records and journalctl JSON are always recognized).', default: 'auto', enum: ['auto', 'dmesg', 'syslog', 'journal-short', 'logctl', 'console', 'bare'] },
      session_timeout_ms: { kind: 'int', desc: 'Consumer group session timeout: a member silent this long loses its partitions to the others.', default: 30_000, min: 6_000, max: 300_000 },
      rebalance_timeout_ms: { kind: 'int', desc: 'How long the group waits for its members to rejoin when one joins or leaves. A member held longer (its outputs down, back-pressure) is dropped from the group: the others read its partitions from the last committed offsets (events read twice keep their ids) and it rejoins once it is free.', default: 60_000, min: 1_000, max: 3_600_000 },
      request_timeout_ms: { kind: 'int', desc: 'Deadline of one broker request.', default: 30_000, min: 100, max: 600_000 },
      connection_timeout_ms: { kind: 'int', desc: 'TCP/TLS connect timeout per broker.', default: 5_000, min: 100, max: 60_000 },
      tls: kafkaFields.tls!,
      sasl: kafkaFields.sasl!,
      tags: tagsField,
      labels: labelsField,
    },
  },
  text: {
    desc: 'Kernel-log files: dmesg, syslog, journalctl short, lkrg-logctl output, console captures, bare messages. replay reads archives once (gzip read transparently); live follows files as they grow, e.g. the kern.log files a central rsyslog server writes, surviving logrotate.',
    fields: {
      paths: { kind: 'string_list', desc: 'Files, directories (their regular files) or patterns with * and ? in any path segment (e.g. /var/log/remote/*/kern.log); live mode expands them again at every poll, so new hosts are picked up.', required: true, minItems: 1 },
      ...liveFileFields,
      input: { kind: 'string', desc: 'Line shape; auto detects it per line (also `journalctl -o json` lines).', default: 'auto', enum: ['auto', 'dmesg', 'syslog', 'journal-short', 'logctl', 'console', 'bare'] },
      year: { kind: 'int', desc: 'Year of RFC 3164 / journalctl short timestamps, which have none (default: from each file\'s modification time).', min: 1970, max: 9999 },
    },
  },
} as const satisfies Record<string, { desc: string; fields: Record<string, FieldSpec> }>;

/** `metrics.listen`: `HOST:PORT`, `[v6]:PORT` or `:PORT` (every interface); port 0 picks a free one. */
const METRICS_LISTEN_PATTERN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/;

/** The whole configuration file. */
export const forwarderSpec: Readonly<Record<string, FieldSpec>> = {
  state_file: { kind: 'string', desc: 'The SQLite state file: positions, queues, dead letters. A file an older lkrg-siem wrote is upgraded in place when opened; one from a newer lkrg-siem is refused.', default: './lkrg-siem-state/state.db' },
  include_non_lkrg: { kind: 'bool', desc: 'Forward non-LKRG kernel lines as plain kernel events too.', default: false },
  namespace: { kind: 'string', desc: 'data_stream.namespace of every event.', default: 'default', pattern: /^[a-z0-9_]{1,100}$/, patternHint: 'lower-case letters, digits and _ only (Elasticsearch data stream rules)' },
  keep_original: { kind: 'bool', desc: 'Keep the exact input line in event.original.', default: true },
  tags: { ...tagsField, desc: 'Added to the tags of every event (after the mapping own), e.g. [site-fra1]; CEF carries them in cs6 (tags) too.' },
  labels: { ...labelsField, desc: 'Added to the labels of every ECS document, e.g. { env: production, site: fra1 }: where the events come from. A label the record carries itself (a caller id) wins on a clash. ECS outputs only (CEF has no place for them).' },
  sources: { kind: 'list', desc: 'Where kernel messages come from.', of: { discriminator: 'type', variants: sourceVariants }, required: true, minItems: 1 },
  outputs: { kind: 'list', desc: 'Where events go; each output delivers independently.', of: { discriminator: 'type', variants: outputVariants() }, required: true, minItems: 1 },
  shutdown_timeout_ms: { kind: 'int', desc: 'On SIGTERM/SIGINT: how long outputs may flush before the rest stays queued for the next start.', default: 10_000, min: 0 },
  metrics: {
    kind: 'object',
    desc: 'The monitoring endpoint of `run`: Prometheus metrics at /metrics, a JSON health check at /health (see Monitoring).',
    fields: {
      listen: { kind: 'string', desc: 'Address to serve on, `HOST:PORT` (`[::1]:PORT` for IPv6; port 0 picks a free one, logged at start). Unset: no endpoint. No TLS or authentication: bind to loopback or a management network.', pattern: METRICS_LISTEN_PATTERN, patternHint: 'HOST:PORT, e.g. 127.0.0.1:9464' },
    },
  },
};

/** A validated configuration (defaults filled). */
export interface ForwarderConfig {
  readonly state_file: string;
  readonly include_non_lkrg: boolean;
  readonly namespace: string;
  readonly keep_original: boolean;
  readonly tags?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly sources: readonly ConfigObject[];
  readonly outputs: readonly ConfigObject[];
  readonly shutdown_timeout_ms: number;
  readonly metrics: { readonly listen?: string };
}

/**
 * Reads and validates a config file. Throws ConfigErrors listing every bad key with its value
 * and the fix, or ConfigError for an unreadable file or bad YAML.
 */
export function loadConfig(path: string): ForwarderConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', path, `cannot read the file (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = yamlModule().parse(text);
  } catch (err) {
    throw new ConfigError('--config', path, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateConfig(raw);
}

/**
 * The name an output section goes by (its `name`, else its `type`): the key of its queue,
 * counters and dead letters in the state file. Used by the forwarder and the state commands.
 */
export function outputName(o: ConfigObject): string {
  return (o.name as string | undefined) ?? `${o.type as string}`;
}

/** Validates an already-parsed config object (also used for the embedded demo config). */
export function validateConfig(raw: unknown): ForwarderConfig {
  const cfg = applySpec(forwarderSpec, raw) as unknown as ForwarderConfig;
  const names = new Set<string>();
  const errors: ConfigError[] = [];
  cfg.outputs.forEach((o, i) => {
    const name = outputName(o);
    if (names.has(name)) errors.push(new ConfigError(`outputs[${i}].name`, name, 'output names must be unique; give each output its own name'));
    names.add(name);
    try {
      EventFilter.fromConfig(o.filter, `outputs[${i}].filter`); // since/until: real times, in order
    } catch (e) {
      if (e instanceof ConfigError) errors.push(e);
      else throw e;
    }
  });
  cfg.sources.forEach((src, i) => {
    if ((src.quiet_after_s as number | undefined ?? 0) > 0 && src.mode === 'replay') {
      errors.push(new ConfigError(`sources[${i}].quiet_after_s`, src.quiet_after_s, 'only a live source can notice a quiet LKRG; set mode: live, or remove quiet_after_s'));
    }
    if (src.start_at === 'end' && src.mode === 'replay') {
      errors.push(new ConfigError(`sources[${i}].start_at`, src.start_at, 'a replay reads everything; start_at applies to mode: live'));
    }
  });
  const listen = cfg.metrics?.listen;
  if (listen !== undefined && Number(listen.slice(listen.lastIndexOf(':') + 1)) > 65535) {
    errors.push(new ConfigError('metrics.listen', listen, 'the port must be 0-65535 (0 picks a free one), e.g. 127.0.0.1:9464'));
  }
  if (errors.length) throw new ConfigErrors(errors);
  return cfg;
}

/** The effective config as printed by check-config: secrets redacted. */
export function redactedConfig(cfg: ForwarderConfig): ConfigObject {
  return redact(forwarderSpec, cfg as unknown as ConfigObject);
}
