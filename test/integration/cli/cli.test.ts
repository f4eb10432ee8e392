/**
 * The CLI as a user meets it: parse on stdin, replay with --resume, check-config errors and
 * redaction, demo, status and dlq. Runs the built dist/src/cli.js.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, repoRoot, runCli, startCli } from '../../support/cli.js';
import { parseCefStrict } from '../../support/cef-strict-parser.js';
import { ProgressBar } from '../../../src/app/progress-bar.js';

const samples = join(repoRoot, '..', 'shared', 'samples');

/**
 * `check-config` on a copy of `cfg` (written beside it) with `from` replaced by `to`: a
 * configuration error (exit 2) whose message says `message`.
 */
async function expectConfigError(cfg: string, from: string, to: string, message: string): Promise<void> {
  const bad = join(cfg, '..', 'bad.yaml');
  const text = readFileSync(cfg, 'utf8');
  expect(text).toContain(from);
  writeFileSync(bad, text.replace(from, to));
  const c = await runCli(['check-config', bad]);
  expect(c.code).toBe(2);
  expect(c.stderr).toContain(message);
}

describe('lkrg-siem CLI', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-cli-'));
  });

  it('parse: store records on stdin -> one ECS document per LKRG event, in input order', async () => {
    const input = readFileSync(join(samples, 'samples-lkrg-logger-store.txt'));
    const r = await runCli(['parse'], { input });
    expect(r.code, r.stderr).toBe(0);
    const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: { sequence?: number; id: string }; lkrg?: { template_id?: string } });
    expect(docs.length).toBeGreaterThan(50);
    const seqs = docs.map((d) => d.event.sequence).filter((s): s is number => typeof s === 'number');
    // input order: within the first boot sequence numbers only grow
    const firstBoot = seqs.slice(0, seqs.findIndex((s, i) => i > 0 && s < seqs[i - 1]!));
    expect(firstBoot.length).toBeGreaterThan(10);
    expect([...firstBoot].sort((a, b) => a - b)).toEqual(firstBoot);
    expect(docs.some((d) => d.lkrg?.template_id === 'task.cred_corruption.uid')).toBe(true);
    expect(r.stderr).toMatch(/malformed/);
  });

  it('parse --to cef --all: dmesg text in, strict CEF out, non-LKRG lines included', async () => {
    const input = readFileSync(join(samples, 'samples-dmesg.txt'));
    const lkrgOnly = await runCli(['parse', '--to', 'cef'], { input });
    const all = await runCli(['parse', '--to', 'cef', '--all'], { input });
    expect(all.code, all.stderr).toBe(0);
    const a = lkrgOnly.stdout.trim().split('\n');
    const b = all.stdout.trim().split('\n');
    expect(b.length).toBeGreaterThan(a.length);
    for (const line of b) expect(parseCefStrict(line).vendor).toBe('Openwall');
    // every input line becomes (part of) an event, also in store records on stdin
    const lines = input.toString('utf8').split('\n').filter((l) => l.length > 0);
    const store = readFileSync(join(samples, 'samples-lkrg-logger-store.txt'), 'utf8').split('\n').slice(0, 91).join('\n') + '\n';
    for (const [text, count] of [[input.toString('utf8'), lines.length], [store, 91]] as const) {
      const ecs = await runCli(['parse', '--all'], { input: text });
      expect(ecs.code, ecs.stderr).toBe(0);
      const docs = ecs.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: { original: string; action: string } });
      const originals = docs.filter((d) => d.event.original !== undefined).flatMap((d) => d.event.original.split('\n'));
      expect(originals.length).toBe(count);
    }
    // replay --all: the same for a store file
    const dir = mkdtempSync(join(tmpdir(), 'lkrg-cli-all-'));
    writeFileSync(join(dir, '10.1.2.3'), store);
    const out = join(dir, 'all.ndjson');
    const r = await runCli(['replay', join(dir, '10.1.2.3'), '--all', '--output', `file:${out}`, '--state', join(dir, 's.db'), '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const replayed = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: { original?: string } });
    expect(replayed.flatMap((d) => (d.event.original === undefined ? [] : d.event.original.split('\n')))).toHaveLength(91);
    // every text shape can be named, console captures too
    const cons = join(dir, 'serial.log');
    writeFileSync(cons, '[   12.345678][  T812] LKRG: ALIVE: System is clean\n');
    const c = await runCli(['replay', cons, '--input', 'console', '--state', join(dir, 'c.db'), '--no-progress']);
    expect(c.code, c.stderr).toBe(0);
    const doc = JSON.parse(c.stdout.trim()) as { lkrg: { template_id: string }; log: { file?: unknown } };
    expect(doc.lkrg.template_id).toBeTruthy();
    const bad = await runCli(['replay', cons, '--input', 'serial', '--state', join(dir, 'c.db'), '--no-progress']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--input: "serial" is not valid: allowed values: auto, dmesg, syslog, journal-short, logctl, console, bare');
  });

  it('replay --resume continues without duplicates; a new replay starts over', async () => {
    const out = join(dir, 'r.ndjson');
    const state = join(dir, 'r.db');
    const store = join(repoRoot, 'test', 'fixtures', 'demo', 'lkrg-logger');
    const first = await runCli(['replay', store, '--output', `file:${out}`, '--state', state, '--no-progress']);
    expect(first.code, first.stderr).toBe(0);
    const n = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    const resumed = await runCli(['replay', store, '--output', `file:${out}`, '--state', state, '--resume', '--no-progress']);
    expect(resumed.code).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean).length).toBe(n);
    const again = await runCli(['replay', store, '--output', `file:${out}`, '--state', state, '--no-progress']);
    expect(again.code).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean).length).toBe(n);
    expect(first.stderr).toMatch(/host 10\.20\.30\.41: \d+ events/);
    expect(first.stderr).toMatch(/reboots 1, sequence gaps \d+/);
  });

  it('status and dlq show counters and the malformed input kept as dead letters', async () => {
    const state = join(dir, 'r.db');
    const st = await runCli(['status', '--state', state, '--json']);
    expect(st.code, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout) as { pipeline: { events: number; malformed: number; input_dead_letters: number }; sources: Record<string, { streams: number; last_commit_age_s: number }> };
    expect(status.pipeline.events).toBeGreaterThan(0);
    const sources = Object.entries(status.sources);
    expect(sources).toHaveLength(1);
    expect(sources[0]![0]).toMatch(/^replay:[0-9a-f]{16}:logger$/);
    expect(sources[0]![1].streams).toBeGreaterThan(0);
    expect(sources[0]![1].last_commit_age_s).toBeLessThan(600);
    expect(status.pipeline.input_dead_letters).toBeGreaterThanOrEqual(2);
    const list = await runCli(['dlq', 'list', '--state', state]);
    expect(list.stdout).toMatch(/\tinput\t.*10\.20\.30\.41:\d+\tattempts=0\t.*(malformed store record|incomplete last line)/);
    const id = list.stdout.split('\t')[0]!;
    const show = await runCli(['dlq', 'show', id, '--state', state]);
    expect(JSON.parse(show.stdout)).toMatchObject({ kind: 'input' });
    const purge = await runCli(['dlq', 'purge', id, '--state', state]);
    expect(purge.stdout).toMatch(/purged 1 /);
  });

  it('check-config: prints the effective config with secrets redacted; errors name key, value and fix, exit 2', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, ['sources:', '  - { type: logger_store, path: /var/log/lkrg-logger }', 'outputs:', '  - { type: elasticsearch, urls: ["https://es:9200"], username: lkrg, password_env: ES_PW }', ''].join('\n'));
    const ok = await runCli(['check-config', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/mode: live/);
    expect(ok.stdout).toMatch(/password_env: ES_PW/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, ['sources:', '  - { type: logger_store, path: /x, mode: follow }', 'outputs:', '  - { type: file, path: ./o, format: json }', ''].join('\n'));
    const r = await runCli(['check-config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sources[0].mode: "follow" is not valid: allowed values: live, replay');
    expect(r.stderr).toContain('outputs[0].format: "json" is not valid: allowed values: ecs, cef');
    const yaml = join(dir, 'broken.yaml');
    writeFileSync(yaml, 'sources: [\n');
    const y = await runCli(['check-config', yaml]);
    expect(y.code).toBe(2);
    expect(y.stderr).toMatch(/--config: ".*broken.yaml" is not valid: not valid YAML/);
  });

  it('run: each output gets exactly the events its filter passes (sinks and queued outputs); status counts the rest', async () => {
    const demo = join(repoRoot, 'test', 'fixtures', 'demo');
    const udp = createSocket('udp4');
    const datagrams: string[] = [];
    udp.on('message', (m: Buffer) => datagrams.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = (udp.address() as { port: number }).port;
    const d = mkdtempSync(join(tmpdir(), 'lkrg-cli-filter-'));
    const cfg = join(d, 'filter.yaml');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(d, 'state.db')}`,
        'include_non_lkrg: true',
        'sources:',
        `  - { type: logger_store, path: ${join(demo, 'lkrg-logger')}, mode: replay }`,
        `  - { type: journald_json, paths: [${join(demo, 'journal.json')}] }`,
        'outputs:',
        `  - { type: file, name: all, path: ${join(d, 'all.ndjson')} }`,
        `  - { type: file, name: alerts, path: ${join(d, 'alerts.ndjson')}, filter: { datasets: [lkrg.alert] } }`,
        `  - { type: file, name: severe, path: ${join(d, 'severe.ndjson')}, filter: { min_severity: 5, kernel_lines: false } }`,
        `  - { type: file, name: lkrg-cef, format: cef, path: ${join(d, 'lkrg.cef')}, filter: { kernel_lines: false } }`,
        `  - { type: syslog, name: siem, host: 127.0.0.1, port: ${port}, transport: udp, filter: { datasets: [lkrg.alert] } }`,
      ].join('\n') + '\n',
    );
    try {
      const r = await runCli(['run', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
      type Doc = { event: { id: string; dataset: string; severity: number; action: string } };
      const read = (f: string): Doc[] => readFileSync(join(d, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Doc);
      const all = read('all.ndjson');
      const ids = (docs: Doc[]): string[] => docs.map((x) => x.event.id);
      const alerts = all.filter((x) => x.event.dataset === 'lkrg.alert');
      const kernel = all.filter((x) => x.event.action === 'kernel-message');
      expect(alerts.length).toBeGreaterThan(5);
      expect(kernel.length).toBeGreaterThan(5);
      expect(all.length).toBeGreaterThan(alerts.length + kernel.length);
      expect(ids(read('alerts.ndjson'))).toEqual(ids(alerts));
      const severe = all.filter((x) => x.event.severity >= 5 && x.event.action !== 'kernel-message');
      expect(severe.length).toBeGreaterThan(0);
      expect(severe.length).toBeLessThan(all.length - kernel.length);
      expect(ids(read('severe.ndjson'))).toEqual(ids(severe));
      const cef = readFileSync(join(d, 'lkrg.cef'), 'utf8').trim().split('\n');
      expect(cef).toHaveLength(all.length - kernel.length);
      // the queued output: exactly the alerts, delivered before the run ended
      await new Promise((res) => setTimeout(res, 200));
      expect(datagrams).toHaveLength(alerts.length);
      const status = await runCli(['status', '--state', join(d, 'state.db'), '--json']);
      const o = (JSON.parse(status.stdout) as { outputs: Record<string, Record<string, number>> }).outputs;
      expect(o.siem).toMatchObject({ queued: alerts.length, delivered: alerts.length, filtered: all.length - alerts.length, queue_depth: 0 });
      expect(o.severe).toMatchObject({ filtered: all.length - severe.length });
      expect(o.all?.filtered ?? 0).toBe(0);
      expect(r.stderr).toContain(`output siem: queued ${alerts.length}, delivered ${alerts.length}, retried 0, rejected 0, dropped 0, left out by its filter ${all.length - alerts.length}`);
      // check-config: the allowed values are named
      await expectConfigError(cfg, 'datasets: [lkrg.alert] } }', 'datasets: [lkrg.alerts] } }', 'outputs[1].filter.datasets[0]: "lkrg.alerts" is not valid: allowed values: lkrg.alert, lkrg.log');
    } finally {
      udp.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('replay --since/--until: only the events of the window reach the outputs, the rest count as filtered; bad times are named', async () => {
    const store = join(repoRoot, 'test', 'fixtures', 'demo', 'lkrg-logger');
    const d = mkdtempSync(join(tmpdir(), 'lkrg-cli-window-'));
    try {
      type Doc = { '@timestamp': string; event: { id: string } };
      const read = (f: string): Doc[] => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Doc);
      const full = await runCli(['replay', store, '--output', `file:${join(d, 'all.ndjson')}`, '--state', join(d, 'a.db'), '--no-progress']);
      expect(full.code, full.stderr).toBe(0);
      const all = read(join(d, 'all.ndjson'));
      const times = all.map((x) => x['@timestamp']).sort();
      // a window over the middle half of the events, bounds given at whole seconds with a zone
      const since = `${times[Math.floor(times.length / 4)]!.slice(0, 19)}Z`;
      const until = `${times[Math.floor((times.length * 3) / 4)]!.slice(0, 19)}+00:00`;
      const inWindow = all.filter((x) => x['@timestamp'].slice(0, 19) >= since.slice(0, 19) && x['@timestamp'].slice(0, 19) < until.slice(0, 19));
      expect(inWindow.length).toBeGreaterThan(5);
      expect(inWindow.length).toBeLessThan(all.length);
      const win = await runCli(['replay', store, '--since', since, '--until', until, '--output', `file:${join(d, 'win.ndjson')}`, '--output', 'stdout', '--state', join(d, 'w.db'), '--no-progress']);
      expect(win.code, win.stderr).toBe(0);
      expect(read(join(d, 'win.ndjson')).map((x) => x.event.id)).toEqual(inWindow.map((x) => x.event.id));
      expect(win.stdout.trim().split('\n')).toHaveLength(inWindow.length);
      expect(win.stderr).toContain(`left out by its filter ${all.length - inWindow.length}`);
      // a date alone is midnight UTC: a window of whole days around everything passes everything
      const days = await runCli(['replay', store, '--since', times[0]!.slice(0, 10), '--until', '2999-01-01', '--output', `file:${join(d, 'days.ndjson')}`, '--state', join(d, 'd.db'), '--no-progress']);
      expect(read(join(d, 'days.ndjson'))).toHaveLength(all.length);
      const bad = await runCli(['replay', store, '--since', 'yesterday', '--state', join(d, 'b.db')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--since: "yesterday" is not valid: an RFC 3339 time such as 2026-11-01T00:00:00Z, or a date such as 2026-11-01 (UTC unless a zone is given)');
      const backwards = await runCli(['replay', store, '--since', '2026-11-02', '--until', '2026-11-01', '--state', join(d, 'b.db')]);
      expect(backwards.code).toBe(2);
      expect(backwards.stderr).toContain('--since/--until.until: "2026-11-01" is not valid: must be later than since (2026-11-02)');
      expect(days.code).toBe(0);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('run: configured tags and labels, the run\'s and a source\'s own, are on every ECS document (tags also in CEF); a bad label name is named', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lkrg-cli-labels-'));
    try {
      const cfg = join(d, 'cfg.yaml');
      writeFileSync(cfg, [
        `state_file: ${join(d, 'state.db')}`,
        'tags: [site-fra1, soc-tier1]',
        'labels: { env: production, site: fra1 }',
        'sources:',
        `  - { type: logger_store, path: ${join(repoRoot, 'test', 'fixtures', 'demo', 'lkrg-logger')}, mode: replay }`,
        `  - { type: journald_json, paths: [${join(repoRoot, 'test', 'fixtures', 'demo', 'journal.json')}], tags: [journal], labels: { site: local, via: journal } }`,
        'outputs:',
        `  - { type: file, path: ${join(d, 'ecs.ndjson')} }`,
        `  - { type: file, name: cef, format: cef, path: ${join(d, 'lkrg.cef')} }`,
        '',
      ].join('\n'));
      const r = await runCli(['run', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
      const docs = readFileSync(join(d, 'ecs.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tags: string[]; labels: Record<string, string>; host: { ip?: string[] } });
      const fromStore = docs.filter((x) => x.host.ip !== undefined);
      const fromJournal = docs.filter((x) => x.host.ip === undefined);
      expect(fromStore.length).toBeGreaterThan(20);
      expect(fromJournal.length).toBeGreaterThan(3);
      for (const x of fromStore) {
        expect(x.tags.slice(-2)).toEqual(['site-fra1', 'soc-tier1']);
        expect(x.labels).toMatchObject({ env: 'production', site: 'fra1' });
        expect(x.labels.via).toBeUndefined();
      }
      // a source's own tags come after the run's, its labels win on a clash
      for (const x of fromJournal) {
        expect(x.tags.slice(-3)).toEqual(['site-fra1', 'soc-tier1', 'journal']);
        expect(x.labels).toMatchObject({ env: 'production', site: 'local', via: 'journal' });
      }
      // CEF carries the tags (cs6 tags), not the labels
      const cef = readFileSync(join(d, 'lkrg.cef'), 'utf8');
      expect(cef).toContain('cs6Label=tags cs6=lkrg,site-fra1,soc-tier1');
      expect(cef).not.toContain('production');
      const shown = await runCli(['check-config', cfg]);
      expect(shown.stdout).toContain('env: production');
      await expectConfigError(cfg, 'env: production', '"data.center": x', 'labels.data.center: "data.center" is not valid: label names are lower-case letters, digits and _');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('run: SIGHUP (a logrotate postrotate script, a hangup) is logged and ignored; SIGTERM stops it with exit 0', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lkrg-cli-hup-'));
    const store = join(d, 'store');
    mkdirSync(store);
    const lines = readFileSync(join(samples, 'samples-lkrg-logger-store.txt'), 'utf8').split('\n').filter((l) => l.includes(';LKRG: ALERT'));
    writeFileSync(join(store, '10.5.5.5'), lines[0] + '\n');
    const cfg = join(d, 'hup.yaml');
    const out = join(d, 'out.ndjson');
    writeFileSync(cfg, [`state_file: ${join(d, 'state.db')}`, 'sources:', `  - { type: logger_store, path: ${store}, poll_interval_ms: 50 }`, 'outputs:', `  - { type: file, path: ${out} }`].join('\n') + '\n');
    const child = startCli(['run', '--config', cfg]);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const count = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).length : 0);
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(ok(), `${what}; stderr: ${err}`).toBe(true);
    };
    try {
      await until('the first event', () => count() === 1);
      child.kill('SIGHUP');
      await until('the SIGHUP log line', () => /SIGHUP received: nothing to reopen/.test(err));
      writeFileSync(join(store, '10.5.5.5'), lines[0] + '\n' + lines[1] + '\n');
      await until('the event written after SIGHUP', () => count() === 2);
      expect(child.exitCode).toBeNull();
      const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      child.kill('SIGTERM');
      expect(await code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('run: a setting only the output driver checks is a configuration error naming the key, exit 2, and no output is left running', async () => {
    // the kafka output is built first (its driver, in its delivery thread); the elasticsearch
    // driver then refuses the missing CA file: the run stops at once with the key named
    const cfg = join(dir, 'bad-ca.yaml');
    const store = join(repoRoot, 'test', 'fixtures', 'demo', 'lkrg-logger');
    writeFileSync(
      cfg,
      [
        `state_file: ${join(dir, 'bad-ca.db')}`,
        'sources:',
        `  - { type: logger_store, path: ${store}, mode: replay }`,
        'outputs:',
        '  - { type: kafka, name: k, brokers: ["127.0.0.1:9"] }',
        '  - { type: elasticsearch, name: es, urls: ["https://127.0.0.1:9"], tls: { ca_file: /nonexistent/lkrg-ca.pem } }',
        '',
      ].join('\n'),
    );
    const t0 = Date.now();
    const r = await runCli(['run', '--config', cfg], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('configuration error');
    expect(r.stderr).toContain('outputs.es.tls.ca_file: "/nonexistent/lkrg-ca.pem" is not valid');
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('an edited mapping table with a mistake is a configuration error naming file and entry (exit 2, no stack), whatever its build-time JSON form says', async () => {
    // an installation of its own: dist/ (with its dist/mappings-json/ from the build), and a
    // mappings/ in which ecs.yaml names a template the catalog does not have
    const inst = mkdtempSync(join(tmpdir(), 'lkrg-install-'));
    cpSync(join(repoRoot, 'dist'), join(inst, 'dist'), { recursive: true });
    cpSync(join(repoRoot, 'mappings'), join(inst, 'mappings'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(inst, 'package.json'));
    symlinkSync(join(repoRoot, 'node_modules'), join(inst, 'node_modules'));
    expect(existsSync(join(inst, 'dist', 'mappings-json', 'ecs.yaml.json'))).toBe(true);
    const ecs = join(inst, 'mappings', 'ecs.yaml');
    const text = readFileSync(ecs, 'utf8');
    expect(text).toContain('  kernel.ex_table: {rule_name:');
    writeFileSync(ecs, text.replace('  kernel.ex_table: {rule_name:', '  kernel.ex_tablez: {rule_name:'));
    const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, [join(inst, 'dist', 'src', 'cli.js'), 'parse', '--to', 'ecs'], { cwd: inst });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      child.on('close', (code) => done({ code, stderr }));
      child.stdin.end('LKRG: ALERT: DETECT: Task: something\n');
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('lkrg-siem: mapping table error:');
    expect(r.stderr).toContain('mappings/ecs.yaml: templates.kernel.ex_tablez: unknown template id');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    rmSync(inst, { recursive: true, force: true });
  });

  it('demo: processes the bundled samples into ./out and prints a per-host summary', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lkrg-demo-'));
    const r = await runCli(['demo'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lkrg-siem demo: \d+ events from the bundled samples/);
    for (const host of ['10.20.30.41', '10.20.30.42', '192.0.2.10', 'db-prod-07', 'centos7-db']) expect(r.stdout).toContain(`host ${host}:`);
    expect(r.stdout).toMatch(/forged LKRG lines [1-9]/);
    const ecs = readFileSync(join(cwd, 'out', 'lkrg-ecs.ndjson'), 'utf8').trim().split('\n');
    const cef = readFileSync(join(cwd, 'out', 'lkrg-cef.log'), 'utf8').trim().split('\n');
    expect(ecs.length).toBe(cef.length);
    expect(existsSync(join(cwd, 'out', 'demo-state.db'))).toBe(true);
  });

  it('unknown flags and commands are usage errors with exit code 2', async () => {
    expect((await runCli(['replay', '--bogus'])).code).toBe(2);
    expect((await runCli(['frobnicate'])).stderr).toMatch(/command: "frobnicate" is not valid: unknown command/);
  });

  it('the progress bar shows percentage, rate and ETA', () => {
    let out = '';
    const bar = new ProgressBar({ write: (s: string) => ((out += s), true) }, 1000);
    const line = bar.render({ bytes: 250, records: 5000, events: 40, malformed: 1 }, Date.now() + 1000);
    expect(line).toMatch(/^\[######\.+\] 25\.0% 5\.0k records [\d.]+k?\/s, 40 events, ETA 00:0\d, 1 malformed$/);
    void out;
  });
});
