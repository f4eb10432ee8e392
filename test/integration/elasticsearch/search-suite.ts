/**
 * Integration checks shared by the Elasticsearch and OpenSearch output suites, run against
 * the real test peers (test/peers/elasticsearch.mjs, opensearch.mjs). Each run writes into
 * its own namespace (data stream names logs-lkrg.*-<ns>) so reruns on a kept peer do not
 * interfere; searches use plain HTTP (fetch), independent of the drivers.
 */
import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { expect } from 'vitest';
import { OutputError, type OutputDriver, type QueuedEvent } from '../../../src/core/output.js';

export const ac = (): AbortSignal => AbortSignal.timeout(60_000);

export function uniqueNamespace(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A hand-built ECS document as the normalizer would produce it. */
export function makeEvent(i: number, ns: string, overrides: Record<string, unknown> = {}): QueuedEvent {
  const alert = i % 3 === 0;
  const dataset = alert ? 'lkrg.alert' : 'lkrg.log';
  const id = `${ns}-${String(i).padStart(5, '0')}`;
  const doc: Record<string, unknown> = {
    '@timestamp': new Date(Date.UTC(2026, 6, 1, 10, 0, 0) + i * 1000).toISOString(),
    message: alert ? `ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid ${4000 + i}, name exploit` : `ALIVE: LKRG ${i} is alive`,
    ecs: { version: '9.4.0' },
    event: {
      id,
      kind: alert ? 'alert' : 'event',
      category: alert ? ['intrusion_detection', 'process'] : ['host'],
      type: ['info'],
      module: 'lkrg',
      dataset,
      provider: 'kernel',
      severity: alert ? 9 : 2,
      sequence: 100_000 + i,
      created: new Date(Date.UTC(2026, 6, 1, 10, 0, 1) + i * 1000).toISOString(),
      original: `<2>Jul  1 10:00:00 web01 kernel: [ ${i}.5] LKRG: line ${i}`,
    },
    host: { name: `web${i % 4}.example.org`, hostname: `web${i % 4}`, ip: [`10.0.0.${(i % 250) + 1}`], boot: { id: '88a1f0ed-0000-4000-8000-000000000001' } },
    agent: { type: 'lkrg-forwarder', version: '0.1.0' },
    process: { pid: 4000 + i, name: 'exploit' },
    log: { level: alert ? 'crit' : 'info', syslog: { facility: { code: 0, name: 'kern' }, severity: { code: alert ? 2 : 6 }, priority: alert ? 2 : 6 } },
    related: { hosts: [`web${i % 4}`], user: ['1000', '0'] },
    rule: alert ? { id: 'DETECT/Task/cred_corruption', ruleset: 'lkrg', category: 'Task' } : undefined,
    lkrg: { class: alert ? 'DETECT' : 'ALIVE', subsystem: 'Task', expected: 1000, actual: '0x0', checksums: { count: i } },
    data_stream: { type: 'logs', dataset, namespace: ns },
    tags: ['lkrg'],
    ...overrides,
  };
  return { id, doc, json: JSON.stringify(doc), key: `web${i % 4}`, dataset };
}

export async function http(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, json };
}

/** All _ids in a target (refreshes first). */
export async function idsIn(base: string, target: string): Promise<string[]> {
  await http(base, 'POST', `/${target}/_refresh`);
  const res = await http(base, 'POST', `/${target}/_search`, { size: 10_000, _source: false, query: { match_all: {} }, track_total_hits: true });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return (res.json.hits.hits as { _id: string }[]).map((h) => h._id).sort();
}

export async function sendAll(driver: OutputDriver, events: readonly QueuedEvent[], batchSize = 100) {
  const results = [];
  for (let i = 0; i < events.length; i += batchSize) {
    results.push(...(await driver.send(events.slice(i, i + batchSize), ac())));
  }
  return results;
}

export async function expectOutputError(p: Promise<unknown>): Promise<OutputError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OutputError);
    return err as OutputError;
  }
  throw new Error('expected an OutputError');
}

/** Field type of `field` in the mapping of `target` (GET _mapping, any backing index). */
export async function fieldType(base: string, target: string, field: string): Promise<string | undefined> {
  const res = await http(base, 'GET', `/${target}/_mapping/field/${field}`);
  expect(res.status).toBe(200);
  for (const idx of Object.values(res.json as Record<string, any>)) {
    const m = idx.mappings?.[field]?.mapping;
    if (m) return (Object.values(m)[0] as { type: string }).type;
  }
  return undefined;
}

import { afterAll, describe, it } from 'vitest';
import { peerForSuite, stopPeer, usePeer } from '../../support/peers.js';

export interface SuiteSpec {
  readonly product: string;
  readonly peer: 'elasticsearch' | 'opensearch';
  readonly urlVar: string;
  readonly create: (cfg: Record<string, unknown>, name: string, log?: (l: 'info' | 'warn' | 'error', m: string) => void) => OutputDriver;
  /** Mapping types the peer gives `message` (match_only_text where the server has it). */
  readonly messageTypes: readonly string[];
}

export function defineSearchOutputSuite(spec: SuiteSpec): void {
  describe(`${spec.product} output against a real ${spec.product} (${spec.peer} peer)`, () => {
    const peer = peerForSuite(spec.peer);
    const ns = uniqueNamespace('it');
    const drivers: OutputDriver[] = [];
    const logs: string[] = [];
    const make = (extra: Record<string, unknown> = {}, url = peer.env[spec.urlVar]!): OutputDriver => {
      const d = spec.create({ urls: [url], install_templates: true, ...extra }, `${spec.peer}-it`, (_l, m) => logs.push(m));
      drivers.push(d);
      return d;
    };
    afterAll(async () => {
      for (const d of drivers) await d.close();
    });

    it('installs templates, delivers 300 events into two data streams, and the mapping follows the templates', async () => {
      const base = peer.env[spec.urlVar]!;
      const driver = make();
      const startSignal = ac();
      await driver.start(startSignal);
      // every request removed its abort listener (start makes about twenty requests on this signal)
      expect(getEventListeners(startSignal, 'abort')).toHaveLength(0);
      expect(logs.join('\n')).toMatch(/installed 16 component templates and index template lkrg-siem for "logs-lkrg\.\*-\*"/);
      const events = Array.from({ length: 300 }, (_, i) => makeEvent(i, ns));
      const results = await sendAll(driver, events);
      expect(results).toHaveLength(300);
      expect(results.filter((r) => r.status !== 'delivered')).toEqual([]);

      const alerts = events.filter((e) => e.dataset === 'lkrg.alert').map((e) => e.id).sort();
      const others = events.filter((e) => e.dataset === 'lkrg.log').map((e) => e.id).sort();
      expect(alerts).toHaveLength(100);
      expect(await idsIn(base, `logs-lkrg.alert-${ns}`)).toEqual(alerts);
      expect(await idsIn(base, `logs-lkrg.log-${ns}`)).toEqual(others);

      // a data stream: the name resolves to a hidden .ds- backing index
      const resolved = await http(base, 'GET', `/_resolve/index/logs-lkrg.alert-${ns}`);
      expect(resolved.status).toBe(200);
      expect(resolved.json.data_streams.map((d: { name: string }) => d.name)).toEqual([`logs-lkrg.alert-${ns}`]);

      const target = `logs-lkrg.alert-${ns}`;
      expect(await fieldType(base, target, '@timestamp')).toBe('date');
      expect(await fieldType(base, target, 'process.pid')).toBe('long');
      expect(await fieldType(base, target, 'host.name')).toBe('keyword');
      expect(await fieldType(base, target, 'host.ip')).toBe('ip');
      expect(await fieldType(base, target, 'event.severity')).toBe('long');
      expect(await fieldType(base, target, 'event.original')).toBe('keyword');
      expect(await fieldType(base, target, 'lkrg.checksums.count')).toBe('long');
      expect(await fieldType(base, target, 'lkrg.expected')).toBe('keyword');
      expect(await fieldType(base, target, 'lkrg.actual')).toBe('keyword');
      expect(await fieldType(base, target, 'lkrg.class')).toBe('keyword');
      expect(spec.messageTypes).toContain(await fieldType(base, target, 'message'));

      // the same batch again: 409 on every create, all delivered, still no duplicates
      const again = await sendAll(driver, events, 300);
      expect(again.every((r) => r.status === 'delivered')).toBe(true);
      expect(await idsIn(base, `logs-lkrg.alert-${ns}`)).toEqual(alerts);
      expect(await idsIn(base, `logs-lkrg.log-${ns}`)).toEqual(others);
      const count = await http(base, 'GET', `/logs-lkrg.*-${ns}/_count`);
      expect(count.json.count).toBe(300);
    });

    it('partial failure: only documents with a mapping conflict are rejected, with the server reason', async () => {
      const base = peer.env[spec.urlVar]!;
      const ns2 = uniqueNamespace('pf');
      const driver = make();
      await driver.start(ac());
      const bad = new Set([2, 5, 8]);
      const events = Array.from({ length: 10 }, (_, i) =>
        makeEvent(i * 3, ns2, bad.has(i) ? { lkrg: { class: 'DETECT', checksums: { count: `not-a-number-${i}` } } } : {}),
      );
      const results = await driver.send(events, ac());
      results.forEach((r, i) => {
        if (bad.has(i)) {
          expect(r.status).toBe('rejected');
          expect((r as { reason: string }).reason).toMatch(/^400 (document_parsing_exception|mapper_parsing_exception): .*failed to parse field \[lkrg\.checksums\.count\] of type \[long\]/);
        } else {
          expect(r).toEqual({ status: 'delivered' });
        }
      });
      const expected = events.filter((_, i) => !bad.has(i)).map((e) => e.id).sort();
      expect(await idsIn(base, `logs-lkrg.alert-${ns2}`)).toEqual(expected);
    });

    it('a target that may not be auto-created (no template, auto-create off) is a fatal configuration error', async () => {
      // Data streams matched by a template are created regardless of action.auto_create_index,
      // so this uses a plain index name that no template matches.
      const base = peer.env[spec.urlVar]!;
      const ns3 = uniqueNamespace('n');
      const set = await http(base, 'PUT', '/_cluster/settings', { persistent: { 'action.auto_create_index': '-lkrgnoauto*,+*' } });
      expect(set.status, JSON.stringify(set.json)).toBe(200);
      try {
        const driver = make({ install_templates: false, index: 'lkrgnoauto-{dataset}-{namespace}' });
        await driver.start(ac());
        const err = await expectOutputError(driver.send([makeEvent(0, ns3)], ac()));
        expect(err).toMatchObject({ fatal: true, retriable: false });
        expect(err.message).toMatch(new RegExp(`^${spec.peer}-it: index_not_found_exception: .*lkrgnoauto-lkrg\\.alert-${ns3}`));
      } finally {
        await http(base, 'PUT', '/_cluster/settings', { persistent: { 'action.auto_create_index': null } });
      }
    });

    it('an aborted request (timeout/shutdown) is a retriable error', async () => {
      const driver = make({ install_templates: false });
      const ctl = new AbortController();
      ctl.abort(new Error('request timeout'));
      const err = await expectOutputError(driver.send([makeEvent(1, ns)], ctl.signal));
      expect(err).toMatchObject({ retriable: true, fatal: false });
    });

    it('nothing listening is retriable at start and at send', async () => {
      const driver = make({ install_templates: false }, 'http://127.0.0.1:9');
      expect(await expectOutputError(driver.start(ac()))).toMatchObject({ retriable: true, fatal: false });
      expect(await expectOutputError(driver.send([makeEvent(1, ns)], ac()))).toMatchObject({ retriable: true, fatal: false });
    });
  });

  describe(`${spec.product} output across a server stop and restart (${spec.peer}:restart peer)`, () => {
    const instance = `${spec.peer}:restart`;
    const peer = peerForSuite(instance);
    let driver: OutputDriver | undefined;
    afterAll(async () => {
      await driver?.close();
      await stopPeer(instance).catch(() => {});
    });

    it('server stopped -> retriable OutputError; restarted -> the same batch is delivered', async () => {
      const ns = uniqueNamespace('rs');
      const url = peer.env[spec.urlVar]!;
      driver = spec.create({ urls: [url], install_templates: true }, `${spec.peer}-restart`);
      await driver.start(ac());
      const first = Array.from({ length: 20 }, (_, i) => makeEvent(i, ns));
      expect((await driver.send(first, ac())).every((r) => r.status === 'delivered')).toBe(true);

      await stopPeer(instance);
      const second = Array.from({ length: 20 }, (_, i) => makeEvent(100 + i, ns));
      const err = await expectOutputError(driver.send(second, ac()));
      expect(err).toMatchObject({ retriable: true, fatal: false });
      expect(err.message).toMatch(new RegExp(`^${spec.peer}-restart: POST /_bulk failed`));

      const env = await usePeer(instance);
      expect(env[spec.urlVar]).toBe(url); // same port kept across restarts
      const retried = await driver.send(second, ac());
      expect(retried.every((r) => r.status === 'delivered')).toBe(true);
      const all = [...first, ...second].map((e) => e.id).sort();
      const ids = [...(await idsIn(url, `logs-lkrg.alert-${ns}`)), ...(await idsIn(url, `logs-lkrg.log-${ns}`))].sort();
      expect(ids).toEqual(all);
    }, 240_000);
  });
}
