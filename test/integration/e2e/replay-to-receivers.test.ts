/**
 * End to end through the CLI into the real receivers of issue 4: a replayed multi-host
 * lkrg-logger store whose process names and paths are hostile (pipes, equals signs,
 * backslashes, newlines, ESC, `CEF:0|...`, JSON breakers, `_id`) goes to Splunk HEC (the
 * OpenTelemetry Collector's receiver), GELF (Graylog's go-gelf reader over UDP, the
 * Graylog-rules receiver over TCP) and syslog (rsyslog, TCP and TLS), next to a file output as
 * the reference. Every event is read back from each receiver and compared field by field.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runCli } from '../../support/cli.js';
import { peerForSuite } from '../../support/peers.js';
import { readReceived, receivedId } from '../splunk-hec/hec-fixtures.js';
import { parseCefStrict } from '../../support/cef-strict-parser.js';

const HOSTILE = [
  'a|b=c\\d',
  'CEF:0|x|y|1|2|n|10|',
  'two\nlines',
  '"}{"_id":"1',
  ' act=evil ',
  '\x1b[2Kclear',
  'tab\tname',
  'ünïcode',
];

function kmsgEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b < 0x20 || b >= 0x7f || b === 0x5c ? '\\x' + b.toString(16).padStart(2, '0') : String.fromCharCode(b);
  return out;
}

/** A store with 3 hosts, each one boot, LKRG alerts naming hostile tasks and paths. */
function hostileStore(dir: string, run: string): void {
  mkdirSync(dir, { recursive: true });
  ['10.9.0.1', '10.9.0.2', '10.9.0.3'].forEach((ip, h) => {
    const lines: string[] = [];
    let seq = 500;
    let up = 9_000_000;
    // a boot time of its own per run: event ids derive from host, boot and seq, and the
    // receivers' files keep what earlier runs sent
    const boot = 1_760_000_000_000_000 + (Date.now() % 100_000_000) * 1_000_000 + h * 10_000_000_000;
    const add = (prio: number, msg: string) => {
      seq++;
      up += 1234;
      const send = boot + up + 100;
      lines.push(`${send + 900},${send},${up + 100},${prio},${seq},${up},-;${kmsgEscape(msg)}`);
    };
    add(5, 'LKRG: ALIVE: Loading LKRG');
    HOSTILE.forEach((name, i) => {
      add(2, `LKRG: ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid ${4000 + i}, name ${name}`);
      add(2, `LKRG: ALERT: BLOCK: Task: Killing pid ${4000 + i}, name ${name}`);
      add(2, `LKRG: ALERT: BLOCK: UMH: Executing program name /tmp/${run}/${name}`);
      add(6, `audit: type=1400 apparmor="DENIED" comm="${name}"`);
    });
    writeFileSync(join(dir, ip), lines.join('\n') + '\n');
  });
}

interface Doc {
  '@timestamp': string;
  message: string;
  event: { id: string; original?: string; dataset: string };
  host: { ip?: string[] };
  process?: { name?: string; pid?: number; executable?: string };
  lkrg?: { umh?: { path?: string } };
}

/** Every leaf of an object as path -> value (arrays kept whole). */
function leaves(o: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, o);
  return out;
}

function get(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((a, k) => (a && typeof a === 'object' ? (a as Record<string, unknown>)[k] : undefined), o);
}

async function waitUntil<T>(read: () => T[], n: number, timeoutMs = 30_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = read();
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('replay with hostile names into Splunk HEC, GELF and syslog receivers', () => {
  const hec = peerForSuite('splunk-hec');
  const gelf = peerForSuite('gelf');
  const syslog = peerForSuite('syslog');
  let dir: string;
  let store: string;
  const run = `h${Date.now().toString(36)}`;

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-e2e-recv-'));
    store = join(dir, 'store');
    hostileStore(store, run);
  });

  it('every receiver gets every event, field by field, with no field, header or line injection', async () => {
    const ref = join(dir, 'ref.ndjson');
    const token = hec.env.SPLUNK_HEC_TOKEN!;
    const hecUrl = new URL(hec.env.SPLUNK_HEC_URL!);
    const r = await runCli(
      [
        'replay', store, '--no-progress', '--state', join(dir, 'state.db'),
        '--output', `file:${ref}`,
        '--output', `splunk+http://${token}@${hecUrl.host}?event_format=ecs`,
        '--output', gelf.env.GELF_URL!.replace(/^gelf\+udp:/, 'gelf+udp:'),
        '--output', gelf.env.GELF_TCP_URL!,
        '--output', syslog.env.SYSLOG_URL!,
        '--output', `${syslog.env.SYSLOG_TLS_URL!}?ca_file=${encodeURIComponent(syslog.env.SYSLOG_CA_FILE!)}`,
      ],
      { timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain(token);
    const docs = readFileSync(ref, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc);
    const alerts = docs.filter((d) => d.event.dataset === 'lkrg.alert');
    expect(alerts.length).toBe(3 * HOSTILE.length * 3);
    const byId = new Map(docs.map((d) => [d.event.id, d]));
    // the hostile names really are in the reference events
    expect(new Set(alerts.map((d) => d.process?.name).filter(Boolean))).toEqual(new Set(HOSTILE));

    // Splunk HEC (event_format=ecs): the event body is the ECS document, leaf for leaf.
    let awaitedHec = await readReceived(hec.env.SPLUNK_HEC_RECEIVED!);
    const deadline = Date.now() + 30_000;
    while (awaitedHec.filter((e) => byId.has(receivedId(e) ?? '')).length < docs.length && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      awaitedHec = await readReceived(hec.env.SPLUNK_HEC_RECEIVED!);
    }
    const hecMine = awaitedHec.filter((e) => byId.has(receivedId(e) ?? ''));
    expect(new Set(hecMine.map(receivedId))).toEqual(new Set(byId.keys()));
    for (const e of hecMine) {
      const doc = byId.get(receivedId(e)!)!;
      for (const [path, value] of leaves(doc)) expect(get(e.event, path), `${receivedId(e)} ${path}`).toEqual(value);
    }

    // GELF: one message per event per transport, hostile names inside their own field only.
    const complete = (file: string): string => {
      const t = readFileSync(file, 'utf8'); // a receiver may be mid-line: keep complete lines only
      return t.slice(0, t.lastIndexOf('\n') + 1);
    };
    const gelfLines = () =>
      complete(gelf.env.GELF_RECEIVED!)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { receiver: string; message: Record<string, unknown> })
        .filter((m) => byId.has(m.message._event_id as string));
    const gelfGot = await waitUntil(gelfLines, docs.length * 2);
    for (const receiver of new Set(gelfGot.map((m) => m.receiver))) {
      const mine = gelfGot.filter((m) => m.receiver === receiver);
      expect(new Set(mine.map((m) => m.message._event_id)), receiver).toEqual(new Set(byId.keys()));
    }
    for (const { message: m } of gelfGot) {
      const doc = byId.get(m._event_id as string)!;
      expect(m.short_message).toBe(doc.message);
      expect(m.full_message).toBe(doc.event.original);
      if (doc.process?.name !== undefined) expect(m._process_name).toBe(doc.process.name);
      expect(Object.keys(m).every((k) => ['version', 'host', 'short_message', 'full_message', 'timestamp', 'level'].includes(k) || /^_[\w.-]+$/.test(k))).toBe(true);
      expect(m).not.toHaveProperty('_id');
    }

    // syslog (TCP and TLS): exactly one line per event and transport; strict CEF parses back.
    const sysLines = () => complete(syslog.env.SYSLOG_RECEIVED!).split('\n').filter((l) => [...byId.keys()].some((id) => l.includes(id)));
    const lines = await waitUntil(sysLines, docs.length * 2);
    expect(lines.length).toBe(docs.length * 2);
    for (const line of lines) {
      const m = /^<(\d+)>1 \S+ \S+ \S+ \S+ \S+ \S+ (CEF:.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      const cef = parseCefStrict(m![2]!);
      expect(cef.vendor).toBe('Openwall');
      const id = cef.extension.get('externalId')!;
      const doc = byId.get(id);
      expect(doc, `externalId ${id}`).toBeDefined();
      const name = doc!.process?.name;
      // CR/LF travel as the \n \r escapes; other control bytes (ESC, TAB) are not allowed raw in
      // CEF; leading/trailing spaces are trimmed (CEF cannot carry them, formats.md §3.2)
      if (name !== undefined && !/[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]/.test(name)) expect(cef.extension.get('sproc')).toBe(name.trim());
      if (name !== undefined) expect(cef.extension.get('sproc')).toContain(name.replace(/[\x00-\x1f\x7f]/g, '').trim().slice(-4));
      expect(cef.extension.get('rt')).toBe(String(Date.parse(doc!['@timestamp'])));
    }
  }, 600_000);
});
