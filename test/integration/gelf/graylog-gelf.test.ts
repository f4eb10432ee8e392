/**
 * graylog_gelf output against real GELF receivers (test/peers/gelf.mjs): Graylog's go-gelf
 * UDP reader, and the Graylog-rules UDP/TCP/HTTP receivers. Every message is read back from
 * the receiver's file and compared field by field.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../src/core/output.js';
import type { DeliveryResult } from '../../../src/core/types.js';
import { createGelfOutput, type GelfOutput } from '../../../outputs/graylog-gelf/graylog-gelf-output.js';
import { toGelf } from '../../../outputs/graylog-gelf/gelf-message.js';
import { peerForSuite, stopPeer, usePeer } from '../../support/peers.js';
import { hostileDoc, newRunId, queued } from './hostile-events.js';

interface Received {
  receiver: string;
  compression?: string;
  chunks?: number;
  message: Record<string, unknown>;
}

const FIELD_NAME = /^[\w.-]+$/;

function readReceived(file: string, runId: string): Map<string, Received> {
  const out = new Map<string, Received>();
  // the receiver may be writing a line right now: only complete (newline-terminated) lines count
  const text = readFileSync(file, 'utf8');
  for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    if (!line.includes(runId)) continue;
    const r = JSON.parse(line) as Received;
    const id = r.message._event_id;
    if (typeof id === 'string' && id.startsWith(runId + '-')) out.set(id, r);
  }
  return out;
}

function readRejected(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

async function waitForCount(file: string, runId: string, n: number, timeoutMs = 20_000): Promise<Map<string, Received>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = readReceived(file, runId);
    if (got.size >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function target(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) };
}

/** Field-by-field comparison of what arrived with what the event says. */
function checkMessage(ev: QueuedEvent, got: Received, sent: Record<string, unknown>): void {
  const m = got.message;
  const doc = ev.doc as Record<string, any>;
  // exactly the sent fields, nothing added (no field injection), nothing lost
  expect(Object.keys(m).sort()).toEqual(Object.keys(sent).sort());
  for (const [k, v] of Object.entries(sent)) expect(m[k], k).toEqual(v);
  expect(m.version).toBe('1.1');
  expect(m.host).toBe(doc.host.name || doc.host.hostname || ev.key);
  expect(m.short_message).toBe(doc.message);
  expect(m.full_message).toBe(doc.event.original);
  expect(m.timestamp).toBe(Date.parse(doc['@timestamp']) / 1000);
  expect(m.level).toBe(doc.log.syslog.severity.code);
  expect(m._process_name).toBe(doc.process.name);
  expect(m._process_executable).toBe(doc.process.executable);
  expect(m._process_pid).toBe(doc.process.pid);
  expect(m._event_reason).toBe(doc.event.reason);
  expect(m._event_category).toBe('intrusion_detection,process');
  expect(m._ecs_timestamp).toBe(doc['@timestamp']);
  expect(m._ecs_id).toBe(doc.id);
  expect(m._lkrg_cred_expected).toBe(1000);
  expect(m._lkrg_flag).toBe(String(doc.lkrg.flag));
  expect(m._labels_weird_key__).toBe(doc.process.name);
  expect(m._labels_a_b).toBe('dotted');
  expect(m._host_ip).toBe(doc.host.ip[0]);
  expect('_id' in m).toBe(false);
  expect('_message' in m).toBe(false);
  expect('_event_original' in m).toBe(false);
  expect('_empty' in m).toBe(false);
  expect('_nothing' in m).toBe(false);
  for (const k of Object.keys(m)) {
    if (!['version', 'host', 'short_message', 'full_message', 'timestamp', 'level'].includes(k)) {
      expect(k.startsWith('_') && FIELD_NAME.test(k), k).toBe(true);
    }
  }
}

async function sendAll(out: GelfOutput, events: readonly QueuedEvent[], batchSize: number, pauseMs = 0): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  for (let i = 0; i < events.length; i += batchSize) {
    const r = await out.send(events.slice(i, i + batchSize), AbortSignal.timeout(30_000));
    results.push(...r);
    if (pauseMs) await new Promise((res) => setTimeout(res, pauseMs));
  }
  return results;
}

describe('graylog_gelf output against the gelf peer', () => {
  const peer = peerForSuite('gelf');
  const outputs: GelfOutput[] = [];
  const make = (cfg: Record<string, unknown>, name = 'gelf-test'): GelfOutput => {
    const o = createGelfOutput(cfg, name);
    outputs.push(o);
    return o;
  };
  afterAll(async () => {
    for (const o of outputs) await o.close();
  });

  for (const compression of ['gzip', 'zlib', 'none'] as const) {
    it(`UDP ${compression}: go-gelf reassembles chunked messages, every field intact`, async () => {
      const runId = newRunId(`u${compression}`);
      const n = compression === 'gzip' ? 300 : 80;
      // every 4th event carries a large incompressible original line -> several 1420-byte chunks
      const events = Array.from({ length: n }, (_, i) => queued(hostileDoc(i, runId, { bigOriginal: i % 4 === 0 ? 6000 + (i % 7) * 1000 : 0 })));
      const out = make({ ...target(peer.env.GELF_URL!), transport: 'udp', compression });
      await out.start(AbortSignal.timeout(5000));
      const before = out.stats.datagrams;
      // Small batches, each awaited at the receiver: go-gelf's reader cannot enlarge its socket
      // buffer, so on a busy machine a burst can overflow it. UDP is fire and forget: a message
      // lost on the loopback is sent again (at most twice) and the resends are counted.
      let resent = 0;
      for (let b = 0; b < n; b += 10) {
        let batch = events.slice(b, b + 10);
        for (let attempt = 0; attempt < 3 && batch.length; attempt++) {
          const results = await out.send(batch, AbortSignal.timeout(10_000));
          expect(results.every((r) => r.status === 'delivered')).toBe(true);
          const seen = await waitForCount(peer.env.GELF_RECEIVED!, runId, b + 10 > n ? n : b + 10, 3000);
          batch = batch.filter((e) => !seen.has(e.id));
          resent += batch.length;
        }
      }
      if (resent) process.stderr.write(`UDP ${compression}: ${resent} messages lost on the loopback and sent again\n`);
      const datagrams = out.stats.datagrams - before;
      expect(datagrams).toBeGreaterThan(n); // chunking happened
      const got = await waitForCount(peer.env.GELF_RECEIVED!, runId, n);
      expect(got.size).toBe(n);
      expect(resent).toBeLessThan(n / 10);
      let chunked = 0;
      for (const ev of events) {
        const r = got.get(ev.id)!;
        expect(r, ev.id).toBeDefined();
        expect(r.receiver).toBe('go-gelf');
        checkMessage(ev, r, toGelf(ev.doc, ev.key, out.cfg.message));
        if (Buffer.byteLength(out.encode(ev)) > 1420) chunked++;
      }
      expect(chunked).toBeGreaterThan(0);
      expect(readRejected(peer.env.GELF_REJECTED!).filter((l) => l.includes(runId))).toEqual([]);
    });
  }

  it('UDP: ~70-chunk messages reassembled by the Graylog-rules receiver; >128 chunks rejected with the reason', async () => {
    const runId = newRunId('big');
    const out = make({ ...target(peer.env.GELF_UDP_RULES_URL!), transport: 'udp', compression: 'none', chunk_size: 600 });
    await out.start(AbortSignal.timeout(5000));
    const ok = [0, 1, 2].map((i) => queued(hostileDoc(i, runId, { bigOriginal: 40_000 }))); // ~42 KB -> ~72 chunks
    const huge = queued(hostileDoc(3, runId, { bigOriginal: 90_000 })); // > 128 * 588 bytes
    const results = await out.send([...ok, huge], AbortSignal.timeout(10_000));
    expect(results.slice(0, 3)).toEqual([{ status: 'delivered' }, { status: 'delivered' }, { status: 'delivered' }]);
    expect(results[3]!.status).toBe('rejected');
    expect((results[3] as { reason: string }).reason).toMatch(/gelf-test: GELF message of \d+ bytes \(none\) needs \d+ UDP chunks of 600 bytes; Graylog accepts at most 128/);
    const got = await waitForCount(peer.env.GELF_RECEIVED!, runId, 3);
    expect(got.size).toBe(3);
    for (const ev of ok) {
      const r = got.get(ev.id)!;
      expect(r.receiver).toBe('udp-rules');
      expect(r.chunks).toBeGreaterThan(60);
      checkMessage(ev, r, toGelf(ev.doc, ev.key, out.cfg.message));
    }
    expect(got.has(huge.id)).toBe(false);
  });

  it('TCP: NUL-framed messages, hostile names cannot split frames', async () => {
    const runId = newRunId('tcp');
    const n = 300;
    const events = Array.from({ length: n }, (_, i) => queued(hostileDoc(i, runId, { bigOriginal: i % 10 === 0 ? 20_000 : 0 })));
    const out = make({ ...target(peer.env.GELF_TCP_URL!), transport: 'tcp' });
    await out.start(AbortSignal.timeout(5000));
    const results = await sendAll(out, events, 50);
    expect(results.filter((r) => r.status !== 'delivered')).toEqual([]);
    const got = await waitForCount(peer.env.GELF_RECEIVED!, runId, n);
    expect(got.size).toBe(n);
    for (const ev of events) {
      expect(got.get(ev.id)!.receiver).toBe('tcp');
      checkMessage(ev, got.get(ev.id)!, toGelf(ev.doc, ev.key, out.cfg.message));
    }
    expect(readRejected(peer.env.GELF_REJECTED!).filter((l) => l.includes(runId))).toEqual([]);
  });

  it('HTTP POST /gelf with gzip: 202 = delivered', async () => {
    const runId = newRunId('http');
    const n = 120;
    const events = Array.from({ length: n }, (_, i) => queued(hostileDoc(i, runId)));
    const u = new URL(peer.env.GELF_HTTP_URL!);
    const out = make({ host: u.hostname, port: Number(u.port), transport: 'http' });
    await out.start(AbortSignal.timeout(5000));
    const results = await sendAll(out, events, 40);
    expect(results.filter((r) => r.status !== 'delivered')).toEqual([]);
    const got = await waitForCount(peer.env.GELF_RECEIVED!, runId, n);
    expect(got.size).toBe(n);
    for (const ev of events) {
      const r = got.get(ev.id)!;
      expect(r.receiver).toBe('http');
      expect(r.compression).toBe('gzip');
      checkMessage(ev, r, toGelf(ev.doc, ev.key, out.cfg.message));
    }
    // a wrong path is a configuration problem: fatal, naming the output
    const bad = make({ host: u.hostname, port: Number(u.port), transport: 'http', http_path: '/nope' }, 'gelf-badpath');
    await expect(bad.send(events.slice(0, 2), AbortSignal.timeout(5000))).rejects.toMatchObject({ fatal: true, message: expect.stringContaining('gelf-badpath') });
  });

  it('IPv6: UDP and TCP to [::1]', async () => {
    const runId = newRunId('v6');
    const events = Array.from({ length: 40 }, (_, i) => queued(hostileDoc(i, runId, { bigOriginal: i % 5 === 0 ? 5000 : 0 })));
    const udp = make({ ...target(peer.env.GELF_UDP6_URL!), transport: 'udp' });
    const tcp = make({ ...target(peer.env.GELF_TCP6_URL!), transport: 'tcp' });
    expect((await udp.send(events.slice(0, 20), AbortSignal.timeout(5000))).every((r) => r.status === 'delivered')).toBe(true);
    expect((await tcp.send(events.slice(20), AbortSignal.timeout(5000))).every((r) => r.status === 'delivered')).toBe(true);
    const got = await waitForCount(peer.env.GELF_RECEIVED!, runId, 40);
    expect(got.size).toBe(40);
    for (const ev of events) {
      const r = got.get(ev.id)!;
      expect(r.receiver).toBe(ev === events[0] || events.indexOf(ev) < 20 ? 'udp-rules' : 'tcp');
      expect((r as unknown as { remote?: string }).remote ?? '').toMatch(/^\[::1\]/);
      checkMessage(ev, r, toGelf(ev.doc, ev.key, udp.cfg.message));
    }
  });
});

describe('graylog_gelf TCP: receiver restart mid-stream', () => {
  const INSTANCE = 'gelf:restart';
  afterAll(async () => {
    await stopPeer(INSTANCE).catch(() => undefined);
  });

  it('reports retry for what was not written and delivers everything after the restart', async () => {
    let env = await usePeer(INSTANCE);
    const runId = newRunId('rst');
    const events = Array.from({ length: 200 }, (_, i) => queued(hostileDoc(i, runId)));
    const out = createGelfOutput({ ...target(env.GELF_TCP_URL!), transport: 'tcp', connect_timeout_ms: 2000 }, 'gelf-restart');
    await out.start(AbortSignal.timeout(5000));
    const delivered = new Set<string>();
    const pending: QueuedEvent[] = [];
    let sawRetry = false;
    const sendOnce = async (batch: QueuedEvent[]): Promise<void> => {
      try {
        const res = await out.send(batch, AbortSignal.timeout(5000));
        res.forEach((r, k) => {
          if (r.status === 'delivered') delivered.add(batch[k]!.id);
          else {
            expect(r.status).toBe('retry');
            sawRetry = true;
            pending.push(batch[k]!);
          }
        });
      } catch (err) {
        expect(err).toBeInstanceOf(OutputError);
        expect((err as OutputError).retriable).toBe(true);
        expect((err as OutputError).fatal).toBe(false);
        sawRetry = true;
        pending.push(...batch);
      }
    };
    for (let b = 0; b < 200; b += 20) {
      if (b === 100) {
        await stopPeer(INSTANCE); // the receiver goes away between two batches
        await new Promise((r) => setTimeout(r, 200));
      }
      if (b === 160) env = await usePeer(INSTANCE); // and comes back (same ports)
      await sendOnce(events.slice(b, b + 20));
    }
    expect(sawRetry).toBe(true);
    // the delivery layer would now resend what was answered retry
    for (let attempt = 0; attempt < 5 && pending.length; attempt++) {
      const again = pending.splice(0);
      await sendOnce(again);
    }
    expect(pending).toEqual([]);
    expect(delivered.size).toBe(200);
    const got = await waitForCount(env.GELF_RECEIVED!, runId, 200);
    const missing = events.filter((e) => !got.has(e.id)).map((e) => e.id);
    expect(missing).toEqual([]);
    await out.close();
  });
});

