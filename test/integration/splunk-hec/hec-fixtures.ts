/**
 * Test fixtures for the splunk-hec output: hand-built ECS documents from several hosts with
 * hostile text (quotes, newlines, NUL, `"}{"`, JSON fragments), wrapped as QueuedEvents; and a
 * reader for what the splunk-hec peer (OpenTelemetry Collector splunkhecreceiver + file
 * exporter) received: one OTLP-JSON ExportLogsServiceRequest per line, turned back into plain
 * HEC events (host/source/sourcetype/index from resource attributes, `fields` from record
 * attributes, `event` from the record body).
 */
import { readFile } from 'node:fs/promises';
import type { EcsDocument, QueuedEvent } from '../../../src/core/output.js';

/** Process names and messages an attacker on a watched host can choose. */
export const HOSTILE_TEXTS: readonly string[] = [
  'evil"}{"event":"forged","sourcetype":"lkrg:fake"}',
  '"}{"',
  'line1\nline2\r\nline3',
  'nul\u0000byte',
  'back\\slash\\"quote',
  '{"event":{"id":"x"}}',
  'tab\tand\u0007bell\u001bESC',
  'ünïcødé 漢字 😀',
  '\u2028\u2029 separators',
  '</script><script>alert(1)</script>',
  '\\u0000 literal escape',
  ']}]}',
];

export interface HostDef {
  readonly name?: string;
  readonly ip?: string;
}

export const HOSTS: readonly HostDef[] = [
  { name: 'web-01', ip: '10.0.0.11' },
  { name: 'db-02' },
  { ip: '192.0.2.33' },
  { name: 'build"host', ip: '198.51.100.4' },
  { name: 'k8s-node-5', ip: '10.0.0.15' },
];

/** Fixed-width timestamp with microseconds, as the normalizer writes it. */
function isoMicros(epochMs: number, micros: number): string {
  return new Date(epochMs).toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}${String(micros).padStart(3, '0')}Z`);
}

/**
 * `n` QueuedEvents for run `runId` (ids `<runId>-<i>`), spread over {@link HOSTS}, every third
 * an alert, each with a hostile process name and message.
 */
export function makeEvents(n: number, runId: string, opts: { baseMs?: number } = {}): QueuedEvent[] {
  const base = opts.baseMs ?? Date.UTC(2025, 4, 17, 8, 30, 0, 0);
  const out: QueuedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const host = HOSTS[i % HOSTS.length]!;
    const hostile = HOSTILE_TEXTS[i % HOSTILE_TEXTS.length]!;
    const alert = i % 3 === 0;
    const id = `${runId}-${i}`;
    const hostObj: Record<string, unknown> = { os: { type: 'linux', kernel: '6.1.0-lkrg' } };
    if (host.name) {
      hostObj.name = host.name;
      hostObj.hostname = host.name;
    }
    if (host.ip) hostObj.ip = [host.ip];
    hostObj.boot = { id: `boot-${i % HOSTS.length}` };
    const doc: Record<string, unknown> = {
      '@timestamp': isoMicros(base + i * 7, (i * 37) % 1000),
      message: `LKRG: ${alert ? 'ALERT' : 'ISSUE'}: process ${hostile} [${1000 + i}] did something`,
      ecs: { version: '9.4.0' },
      event: {
        kind: alert ? 'alert' : 'event',
        category: alert ? ['intrusion_detection', 'process'] : ['driver'],
        type: alert ? ['info', 'denied'] : ['info'],
        action: alert ? 'lkrg-pcfi-violation' : 'lkrg-issue',
        code: alert ? 'alert.pcfi.validate' : 'issue.generic',
        severity: alert ? 8 : 3,
        sequence: 5000 + i,
        id,
        module: 'lkrg',
        dataset: alert ? 'lkrg.alert' : 'lkrg.log',
        provider: 'kernel',
      },
      host: hostObj,
      agent: { type: 'lkrg-siem', version: '0.1.0' },
      rule: { id: alert ? 'lkrg-0012' : 'lkrg-0300', name: alert ? 'LKRG pCFI violation' : 'LKRG issue', ruleset: 'lkrg' },
      process: { name: hostile, pid: 1000 + i, thread: { id: 2000 + i } },
      user: { id: String(i % 7), name: i % 2 ? 'root' : `user"${i}` },
      log: { level: alert ? 'crit' : 'err', syslog: { priority: alert ? 2 : 3 } },
      data_stream: { type: 'logs', dataset: alert ? 'lkrg.alert' : 'lkrg.log', namespace: 'default' },
      tags: ['lkrg', alert ? 'alert' : 'log'],
      labels: { run: runId },
      lkrg: {
        level: alert ? 'ALERT' : 'ISSUE',
        action: alert ? (i % 2 ? 'BLOCK' : 'DETECT') : null,
        category: alert ? 'pCFI' : 'generic',
        template_id: alert ? 'alert.pcfi.validate' : 'issue.generic',
        legacy: false,
        forged: false,
        fields: { comm: hostile, ratio: (i % 10) / 4 },
      },
      related: { user: ['root'], hosts: host.name ? [host.name] : [] },
    };
    if (alert) {
      doc.threat = {
        framework: 'MITRE ATT&CK',
        technique: { id: ['T1014'], name: ['Rootkit'], subtechnique: { id: [] as string[] } },
      };
    }
    // remove the null lkrg.action of non-alerts: ECS documents carry no nulls
    if ((doc.lkrg as Record<string, unknown>).action === null) delete (doc.lkrg as Record<string, unknown>).action;
    const json = JSON.stringify(doc);
    out.push({
      id,
      doc: JSON.parse(json) as EcsDocument,
      json,
      key: host.ip ?? host.name!,
      dataset: alert ? 'lkrg.alert' : 'lkrg.log',
    });
  }
  return out;
}

/** One HEC event as the peer received it. */
export interface ReceivedHecEvent {
  /** From `timeUnixNano` (ms precision is what HEC carries). */
  readonly timeMs: number;
  readonly host?: string;
  readonly source?: string;
  readonly sourcetype?: string;
  readonly index?: string;
  readonly fields: Record<string, unknown>;
  readonly event: unknown;
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: { key: string; value?: AnyValue }[] };
  bytesValue?: string;
};

/** OTLP JSON AnyValue → plain JS (empty AnyValue = null, as the receiver maps JSON null). */
export function fromAnyValue(v: AnyValue | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(fromAnyValue);
  if (v.kvlistValue !== undefined) {
    const o: Record<string, unknown> = {};
    for (const kv of v.kvlistValue.values ?? []) o[kv.key] = fromAnyValue(kv.value);
    return o;
  }
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue, 'base64');
  return null;
}

function attrs(list: { key: string; value?: AnyValue }[] | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const kv of list ?? []) o[kv.key] = fromAnyValue(kv.value);
  return o;
}

/** Every HEC event in the peer's received file (all runs; filter by id). */
export async function readReceived(file: string): Promise<ReceivedHecEvent[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ReceivedHecEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let req: { resourceLogs?: { resource?: { attributes?: { key: string; value?: AnyValue }[] }; scopeLogs?: { logRecords?: { timeUnixNano?: string; body?: AnyValue; attributes?: { key: string; value?: AnyValue }[] }[] }[] }[] };
    try {
      req = JSON.parse(line);
    } catch {
      continue; // a line still being written
    }
    for (const rl of req.resourceLogs ?? []) {
      const res = attrs(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const rec of sl.logRecords ?? []) {
          out.push({
            timeMs: rec.timeUnixNano ? Math.round(Number(BigInt(rec.timeUnixNano) / 1000n) / 1000) : 0,
            host: res['host.name'] as string | undefined,
            source: res['com.splunk.source'] as string | undefined,
            sourcetype: res['com.splunk.sourcetype'] as string | undefined,
            index: res['com.splunk.index'] as string | undefined,
            fields: attrs(rec.attributes),
            event: fromAnyValue(rec.body),
          });
        }
      }
    }
  }
  return out;
}

/** The event id of a received event (event.id inside the ECS body). */
export function receivedId(r: ReceivedHecEvent): string | undefined {
  const ev = r.event as { event?: { id?: unknown } } | null;
  return typeof ev?.event?.id === 'string' ? ev.event.id : undefined;
}

/**
 * Polls the received file until `ids` all arrived (or timeoutMs passed); returns the received
 * events of those ids, in file order (duplicates kept).
 */
export async function waitForReceived(file: string, ids: readonly string[], timeoutMs = 15_000): Promise<ReceivedHecEvent[]> {
  const want = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await readReceived(file)).filter((r) => want.has(receivedId(r) ?? ''));
    const seen = new Set(got.map(receivedId));
    if ([...want].every((id) => seen.has(id)) || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}
