/** Helpers for the kafka output integration tests: events built by hand, read-back via kafkajs and kcat. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { expect } from 'vitest';
import type { QueuedEvent } from '../../../src/core/output.js';
import { peersRequired } from '../../support/peers.js';

const execFileAsync = promisify(execFile);

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: Record<string, string>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * `perHost` events for each host, interleaved host by host (h0 #0, h1 #0, h2 #0, h0 #1, ...),
 * alternating datasets, ids `<run>-<host>-<seq>`.
 */
export function makeEvents(run: string, hosts: readonly string[], perHost: number): QueuedEvent[] {
  const out: QueuedEvent[] = [];
  for (let seq = 0; seq < perHost; seq++) {
    for (const host of hosts) {
      const id = `${run}-${host}-${String(seq).padStart(5, '0')}`;
      const dataset = seq % 3 === 0 ? 'lkrg.alert' : 'lkrg.log';
      const doc = {
        '@timestamp': new Date(1_700_000_000_000 + seq * 1000).toISOString(),
        'event.id': id,
        'event.dataset': dataset,
        'host.name': host,
        'lkrg.seq': seq,
        message: `LKRG: ALERT: DETECT: test event ${seq} from ${host}`,
      };
      out.push({ id, doc, json: JSON.stringify(doc), key: host, dataset });
    }
  }
  return out;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Reads `expected` messages from `topics` with a kafkajs consumer (new group, from the beginning). */
export async function consumeWithKafkajs(
  brokers: string[],
  topics: string[],
  expected: number,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> {
  const kafka = new kafkajs.Kafka({ clientId: 'it-reader', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('it-group'), sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const got: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`kafkajs consumer read ${got.length} of ${expected} messages in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            got.push({
              topic,
              partition,
              offset: Number(message.offset),
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              headers,
            });
            if (got.length >= expected) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    // a short grace period so an unexpected surplus (duplicates) is seen too
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** Reads a whole topic with `kcat -C -J` (JSON envelope with key and headers). */
export async function consumeWithKcat(broker: string, topic: string): Promise<ReadMessage[]> {
  const { stdout } = await execFileAsync(
    'kcat',
    ['-C', '-b', broker, '-t', topic, '-o', 'beginning', '-e', '-J', '-q'],
    { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const env = JSON.parse(line) as {
        topic: string;
        partition: number;
        offset: number;
        key: string | null;
        payload: string | null;
        headers?: string[];
      };
      const headers: Record<string, string> = {};
      const h = env.headers ?? [];
      for (let i = 0; i + 1 < h.length; i += 2) headers[h[i]!] = h[i + 1]!;
      return { topic: env.topic, partition: env.partition, offset: env.offset, key: env.key ?? '', value: env.payload ?? '', headers };
    });
}

export async function hasKcat(): Promise<boolean> {
  try {
    await execFileAsync('kcat', ['-V'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** Ids per key in read order (offset order within each partition). */
export function idsPerKey(messages: readonly ReadMessage[]): Map<string, string[]> {
  const sorted = [...messages].sort((a, b) =>
    a.topic === b.topic ? (a.partition === b.partition ? a.offset - b.offset : a.partition - b.partition) : a.topic < b.topic ? -1 : 1,
  );
  const out = new Map<string, string[]>();
  for (const m of sorted) {
    const k = `${m.topic}/${m.key}`;
    const list = out.get(k) ?? [];
    list.push(m.headers.event_id ?? '');
    out.set(k, list);
  }
  return out;
}

/** The same, expected from the events sent (per topic dataset and key, in send order). */
export function expectedIdsPerKey(events: readonly QueuedEvent[], topicOf: (dataset: string) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) {
    const k = `${topicOf(e.dataset)}/${e.key}`;
    const list = out.get(k) ?? [];
    list.push(e.id);
    out.set(k, list);
  }
  return out;
}

/**
 * Reads the topics back with kcat (librdkafka) and checks the count and the per-key order; returns
 * the messages for further checks, or null when kcat is missing outside CI (with CI it throws).
 */
export async function kcatReadBack(broker: string, topics: readonly string[], expected: Map<string, string[]>, count: number): Promise<ReadMessage[] | null> {
  if (!(await hasKcat())) {
    if (peersRequired()) throw new Error('kcat is not installed (apt-get install -y kcat)');
    console.warn('kcat not installed: kcat cross-check skipped');
    return null;
  }
  const viaKcat = (await Promise.all(topics.map((t) => consumeWithKcat(broker, t)))).flat();
  expect(viaKcat).toHaveLength(count);
  expect(idsPerKey(viaKcat)).toEqual(expected);
  return viaKcat;
}
