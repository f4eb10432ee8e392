/**
 * Hand-built ECS documents for the GELF and syslog integration tests: several hosts and
 * attacker-controlled process names / paths full of separators and control characters.
 * Used by test/integration/gelf/ and test/integration/syslog/.
 */
import { randomBytes } from 'node:crypto';
import type { EcsDocument, QueuedEvent } from '../../../src/core/output.js';

/** Process names an attacker can choose (comm is 16 bytes in Linux, but paths are free). */
export const HOSTILE_NAMES: readonly string[] = [
  'exploit',
  'a|b|c',
  'key=value x=y',
  'back\\slash\\',
  'new\nline',
  'car\rriage',
  'crlf\r\n<13>1 2026-01-01T00:00:00Z forged app - - - CEF:0|x',
  'nul\0byte',
  'CEF:0|Openwall|LKRG|1|sig|name|10|act=owned',
  '"}',
  '","_id":"x',
  '_id',
  'tab\there',
  ' spaced ',
  '\\|\\=\\n',
  'ünïcödé ✓ 进程',
];

export const HOSTS: readonly string[] = ['web01.example.org', 'db-02', 'edge 03\n<13>injected', 'host|pipe=eq', ''];

/** One ECS document like the normalizer writes (nested objects). */
export function hostileDoc(i: number, runId: string, opts: { bigOriginal?: number } = {}): EcsDocument {
  const name = HOSTILE_NAMES[i % HOSTILE_NAMES.length]!;
  const host = HOSTS[i % HOSTS.length]!;
  const ts = new Date(Date.UTC(2026, 6, 1, 10, 0, 0) + i * 1234).toISOString();
  const alert = i % 3 !== 2;
  const original =
    `<2>Jul  1 10:00:00 ${host} kernel: LKRG: ALERT: DETECT: Task: euid corruption for pid ${4000 + i}, name ${name}` +
    (opts.bigOriginal ? ' ' + randomBytes(opts.bigOriginal / 2).toString('hex') : '');
  const doc: Record<string, unknown> = {
    '@timestamp': ts,
    message: `ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid ${4000 + i}, name ${name}`,
    ecs: { version: '9.4.0' },
    event: {
      kind: alert ? 'alert' : 'event',
      category: ['intrusion_detection', 'process'],
      type: ['info'],
      action: 'lkrg-task-integrity-violation',
      code: 'DETECT/Task/cred_corruption',
      reason: `euid corruption; path=/tmp/${name}`,
      module: 'lkrg',
      dataset: alert ? 'lkrg.alert' : 'lkrg.log',
      provider: 'kernel',
      severity: alert ? 9 : 3,
      sequence: 100000 + i,
      id: `${runId}-${i}`,
      original,
    },
    host: { name: host, hostname: host.split('.')[0], id: `machine-${i % 5}`, boot: { id: `boot-${i % 7}` }, ip: [`10.0.0.${(i % 250) + 1}`] },
    process: { pid: 4000 + i, name, executable: `/tmp/${name}`, user: { id: '0' } },
    user: { id: '1000', effective: { id: '0' } },
    rule: { id: 'DETECT/Task/cred_corruption', name: 'Task credential corruption', category: 'Task', ruleset: 'lkrg' },
    threat: { framework: 'MITRE ATT&CK', technique: { id: ['T1068'], name: ['Exploitation for Privilege Escalation'] } },
    log: {
      level: alert ? 'crit' : 'info',
      syslog: { facility: { code: i % 4 === 0 ? 4 : 0, name: i % 4 === 0 ? 'auth' : 'kern' }, severity: { code: alert ? 2 : 6, name: alert ? 'Critical' : 'Informational' }, priority: alert ? 2 : 6 },
    },
    related: { user: ['1000', '0'], hosts: [host] },
    lkrg: { class: 'DETECT', subsystem: 'Task', cred: { name: 'euid', expected: 1000, actual: 0 }, flag: i % 2 === 0 },
    data_stream: { type: 'logs', dataset: alert ? 'lkrg.alert' : 'lkrg.log', namespace: 'default' },
    tags: ['lkrg', `run-${runId}`],
    labels: { 'weird key|=': name, 'a.b': 'dotted' },
    id: 'top-level id must not become _id',
    empty: [],
    nothing: null,
  };
  return doc;
}

/** Wraps a document as the delivery layer would hand it to a driver. */
export function queued(doc: EcsDocument): QueuedEvent {
  const ev = doc.event as Record<string, unknown>;
  const host = doc.host as Record<string, unknown>;
  return {
    id: String(ev.id),
    doc,
    json: JSON.stringify(doc),
    key: String(host.name || (host.ip as string[])[0]),
    dataset: String(ev.dataset),
  };
}

/** A fresh run id, so each test finds its own messages in a shared receiver file. */
export function newRunId(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}
