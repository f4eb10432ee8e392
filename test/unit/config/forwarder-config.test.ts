import { describe, expect, it } from 'vitest';
import { ConfigErrors, specToMarkdown } from '../../../src/config/config-spec.js';
import { forwarderSpec, redactedConfig, validateConfig } from '../../../src/config/forwarder-config.js';
import { sourcesFromConfig } from '../../../src/app/source-factory.js';
import { ConfigError } from '../../../src/core/types.js';

const minimal = {
  sources: [{ type: 'logger_store', path: '/var/log/lkrg-logger' }],
  outputs: [{ type: 'file', path: './out/x.ndjson' }],
};

function errorsOf(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    throw err;
  }
  return [];
}

describe('forwarder configuration', () => {
  it('fills defaults for a minimal config', () => {
    const cfg = validateConfig(minimal);
    expect(cfg.state_file).toBe('./lkrg-siem-state/state.db');
    expect(cfg.include_non_lkrg).toBe(false);
    expect(cfg.sources[0]).toMatchObject({ type: 'logger_store', mode: 'live', poll_interval_ms: 500 });
    expect(cfg.outputs[0]).toMatchObject({ type: 'file', format: 'ecs', fsync: true });
  });

  it('logger_store rotation keys: defaults, bounds, and what the source receives', () => {
    const cfg = validateConfig(minimal);
    expect(cfg.sources[0]).toMatchObject({ rotated_follow_max: 16, rotated_deleted_follow_s: 3600 });
    const opts = (c: typeof cfg): Record<string, unknown> =>
      (sourcesFromConfig(c.sources, false)[0]!.source as unknown as { opts: Record<string, unknown> }).opts;
    expect(opts(cfg)).toMatchObject({ rotatedFollowMax: 16, rotatedDeletedFollowMs: 3_600_000 });
    const set = validateConfig({ ...minimal, sources: [{ ...minimal.sources[0], rotated_follow_max: 0, rotated_deleted_follow_s: 90 }] });
    expect(opts(set)).toMatchObject({ rotatedFollowMax: 0, rotatedDeletedFollowMs: 90_000 });
    expect(errorsOf({ ...minimal, sources: [{ ...minimal.sources[0], rotated_follow_max: -1 }] })).toEqual([
      expect.stringMatching(/^sources\[0\]\.rotated_follow_max: -1 is not valid/),
    ]);
  });

  it('text and journald_json: replay by default, live on request, with what the source receives', () => {
    const cfg = validateConfig({ ...minimal, sources: [{ type: 'text', paths: ['/var/log/remote/*/kern.log'] }, { type: 'journald_json', paths: ['/x.json'], mode: 'live', poll_interval_ms: 100 }] });
    expect(cfg.sources[0]).toMatchObject({ mode: 'replay', poll_interval_ms: 500, rotated_follow_max: 16, rotated_deleted_follow_s: 3600 });
    const opts = sourcesFromConfig(cfg.sources, false).map((x) => (x.source as unknown as { opts: Record<string, unknown> }).opts);
    expect(opts[0]).toMatchObject({ mode: 'replay', paths: ['/var/log/remote/*/kern.log'] });
    expect(opts[1]).toMatchObject({ mode: 'live', pollIntervalMs: 100, rotatedDeletedFollowMs: 3_600_000, input: 'auto' });
    expect(errorsOf({ ...minimal, sources: [{ type: 'text', paths: ['/x'], mode: 'follow' }] })).toEqual(['sources[0].mode: "follow" is not valid: allowed values: replay, live']);
  });

  it('quiet_after_s: the live file and journal sources take it and get the quiet monitor; replay and kafka refuse it', () => {
    const cfg = validateConfig({
      ...minimal,
      sources: [
        { type: 'journald', quiet_after_s: 900 },
        { type: 'text', paths: ['/x'], mode: 'live', quiet_after_s: 900 },
        { type: 'logger_store', path: '/s', quiet_after_s: 900 },
        { type: 'journald' },
      ],
    });
    const built = sourcesFromConfig(cfg.sources, false).map((x) => x.source.constructor.name);
    expect(built).toEqual(['QuietMonitor', 'QuietMonitor', 'QuietMonitor', 'JournaldSource']);
    expect(errorsOf({ ...minimal, sources: [{ type: 'journald', mode: 'replay', directory: '/j', quiet_after_s: 60 }] })).toEqual([
      'sources[0].quiet_after_s: 60 is not valid: only a live source can notice a quiet LKRG; set mode: live, or remove quiet_after_s',
    ]);
    expect(errorsOf({ ...minimal, sources: [{ type: 'kafka', brokers: ['b:9092'], topics: ['k'], quiet_after_s: 60 }] })[0]).toMatch(/^sources\[0\]\.quiet_after_s: 60 is not valid: unknown key/);
  });

  it('start_at: beginning by default, end passed to the live sources; refused on replay', () => {
    const cfg = validateConfig({
      ...minimal,
      sources: [
        { type: 'journald', start_at: 'end' },
        { type: 'logger_store', path: '/s', start_at: 'end' },
        { type: 'text', paths: ['/x'], mode: 'live', start_at: 'end' },
        { type: 'journald_json', paths: ['/y'], mode: 'live' },
      ],
    });
    const opts = sourcesFromConfig(cfg.sources, false).map((x) => (x.source as unknown as { opts: Record<string, unknown> }).opts);
    expect(opts.map((o) => o.startAt)).toEqual(['end', 'end', 'end', 'beginning']);
    expect(errorsOf({ ...minimal, sources: [{ type: 'text', paths: ['/x'], start_at: 'end' }] })).toEqual([
      'sources[0].start_at: "end" is not valid: a replay reads everything; start_at applies to mode: live',
    ]);
    expect(errorsOf({ ...minimal, sources: [{ type: 'journald', start_at: 'now' }] })).toEqual(['sources[0].start_at: "now" is not valid: allowed values: beginning, end']);
  });

  it('names the key, the bad value and the fix for every error at once', () => {
    const msgs = errorsOf({
      sources: [{ type: 'logger_store', path: '/x', mode: 'tail' }, { type: 'syslogd' }],
      outputs: [{ type: 'file', path: './a', format: 'xml', fsnyc: false }],
      namespace: 'Prod-EU',
    });
    expect(msgs).toContain('sources[0].mode: "tail" is not valid: allowed values: live, replay');
    expect(msgs.some((m) => m.startsWith('sources[1].type: "syslogd" is not valid: allowed types: logger_store, journald, journald_json, kafka, text'))).toBe(true);
    expect(msgs).toContain('outputs[0].format: "xml" is not valid: allowed values: ecs, cef');
    expect(msgs.some((m) => m.startsWith("outputs[0].fsnyc: false is not valid: unknown key; did you mean 'fsync'?"))).toBe(true);
    expect(msgs).toContain('namespace: "Prod-EU" is not valid: lower-case letters, digits and _ only (Elasticsearch data stream rules)');
  });

  it('requires sources and outputs', () => {
    const msgs = errorsOf({});
    expect(msgs.some((m) => m.startsWith('sources: missing value is not valid: required'))).toBe(true);
    expect(msgs.some((m) => m.startsWith('outputs: missing value is not valid: required'))).toBe(true);
  });

  it('rejects duplicate output names', () => {
    const msgs = errorsOf({ ...minimal, outputs: [{ type: 'file', path: 'a' }, { type: 'file', path: 'b' }] });
    expect(msgs).toEqual(['outputs[1].name: "file" is not valid: output names must be unique; give each output its own name']);
  });

  it('redacts secrets in the printed config', () => {
    const cfg = validateConfig(minimal);
    expect(JSON.stringify(redactedConfig(cfg))).not.toContain('<redacted>');
    expect(redactedConfig(cfg)).toMatchObject({ sources: [{ path: '/var/log/lkrg-logger' }] });
  });

  it('generates a reference table row for every key', () => {
    const rows = specToMarkdown(forwarderSpec);
    expect(rows.some((r) => r.startsWith('| `state_file` | string |'))).toBe(true);
    expect(rows.some((r) => r.includes('`outputs[file].fsync`'))).toBe(true);
  });

  it('kafka source: defaults, and each bad setting named by its key (checked when the source is built)', () => {
    const cfg = validateConfig({ ...minimal, sources: [{ type: 'kafka', brokers: ['127.0.0.1:9092'], topics: ['kernel'] }] });
    expect(cfg.sources[0]).toMatchObject({ group_id: 'lkrg-siem', start_from: 'earliest', input: 'auto', session_timeout_ms: 30000 });
    expect(sourcesFromConfig(cfg.sources, false)).toHaveLength(1);
    expect(errorsOf({ ...minimal, sources: [{ type: 'kafka', brokers: ['b:1'], topics: [], start_from: 'middle' }] })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^sources\[0\]\.topics: /), expect.stringMatching(/^sources\[0\]\.start_from: "middle" is not valid/)]),
    );
    const built = (section: Record<string, unknown>): ConfigError => {
      try {
        sourcesFromConfig(validateConfig({ ...minimal, sources: [{ type: 'kafka', topics: ['kernel'], ...section }] }).sources, false);
      } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
      }
      throw new Error('no error');
    };
    expect(built({ brokers: ['not a broker'] }).message).toMatch(/^sources\[0\]\.brokers\[0\]: "not a broker" is not valid: write the broker as "host:port"/);
    expect(built({ brokers: ['b:1'], sasl: { mechanism: 'plain', username: 'u', password_env: 'LKRG_SIEM_TEST_UNSET_PW' } }).key).toBe('sources[0].sasl.password_env');
    expect(built({ brokers: ['b:1'], tls: { enabled: true, ca_file: '/nonexistent/ca.pem' } }).key).toBe('sources[0].tls.ca_file');
  });
});
