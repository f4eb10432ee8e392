/**
 * The kafka source against the real broker (test peer, Kafka 4.x KRaft): kernel lines
 * produced with kafkajs (lkrg-logger records keyed by client IP, dmesg lines keyed by host,
 * journalctl JSON) are read by `lkrg-siem run` into a file output and compared with what
 * `lkrg-siem parse` makes of the same lines; offsets are committed once the events are in the
 * state file, so a restart reads only what is new; two instances in one consumer group share
 * the partitions, and when one is killed the other takes its partitions over without loss.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import kafkajs from 'kafkajs';
import { ensureBuilt, repoRoot, runCli, startCli } from '../../support/cli.js';
import { peerForSuite } from '../../support/peers.js';
import { promcheck } from '../../support/promcheck.js';
import { createServer } from 'node:net';
import { uniqueName } from './kafka-helpers.js';

const samples = join(repoRoot, '..', 'shared', 'samples');

interface Doc {
  event: { id: string; original?: string };
  host: { ip?: string[] | string; name?: string };
  lkrg?: { template_id?: string };
  message?: string;
}

/** Complete lines of a sample file (a last line without newline is left out). */
function lines(file: string): string[] {
  const text = readFileSync(join(samples, file), 'utf8');
  const all = text.split('\n');
  all.pop(); // after the last newline: empty, or a torn line
  return all.filter((l) => l.trim() !== '');
}

function readDocs(file: string): Doc[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc);
}

/**
 * Waves of unique LKRG alerts, one per message, keyed by host: `perHost` messages for each of
 * `hosts` from wave index `from`; the pid (from `pidBase`) numbers them.
 */
function alertWave(hosts: readonly string[], pidBase: number, from: number, perHost: number): { key: string; value: string }[] {
  return Array.from({ length: perHost }, (_, n) => hosts.map((h, i) => ({
    key: h,
    value: `LKRG: ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid ${pidBase + (from + n) * hosts.length + i}, name exploit`,
  }))).flat();
}

/** The pid an alert of {@link alertWave} carries. */
const pidOf = (d: Doc): number => Number(/for pid (\d+)/.exec(d.message ?? d.event.original ?? '')?.[1]);

/** A loopback port nothing listens on (yet). */
function closedPort(): Promise<number> {
  return new Promise<number>((r) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => r(port));
    });
  });
}

const fingerprint = (d: Doc): string => `${d.event.original}\u0000${d.lkrg?.template_id ?? ''}`;

function multiset(docs: readonly Doc[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const d of docs) m.set(fingerprint(d), (m.get(fingerprint(d)) ?? 0) + 1);
  return m;
}

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stop(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((r) => {
    p.once('exit', (code) => r(code));
    p.kill(signal);
  });
}

describe('kafka source (real broker)', () => {
  const peer = peerForSuite('kafka');
  let dir: string;
  const children: ChildProcess[] = [];
  const store = lines('samples-lkrg-logger-store.txt');
  const dmesg = lines('samples-dmesg.txt');
  const journal = lines('samples-journal-json.txt');
  let reference: Doc[];

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lkrg-kafka-src-'));
    // what lkrg-siem makes of the same lines read from stdin
    const parse = async (input: string, text: string[]): Promise<Doc[]> => {
      const r = await runCli(['parse', '--input', input], { input: text.join('\n') + '\n' });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc);
    };
    reference = [...(await parse('logger', store)), ...(await parse('text', dmesg)), ...(await parse('journal-json', journal))];
    expect(reference.length).toBeGreaterThan(80);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) await stop(c, 'SIGKILL');
  });

  function brokers(): string[] {
    return [peer.env.KAFKA_BROKERS!];
  }

  async function produce(topic: string, messages: { key?: string; value: string }[]): Promise<void> {
    const k = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING });
    const p = k.producer();
    await p.connect();
    for (let i = 0; i < messages.length; i += 500) await p.send({ topic, messages: messages.slice(i, i + 500) });
    await p.disconnect();
  }

  async function createTopic(topic: string, partitions: number): Promise<void> {
    const admin = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
  }

  function config(name: string, topic: string, group: string, extra: string[] = [], sourceExtra = ''): string {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      [
        `state_file: ${join(dir, `${name}.db`)}`,
        'sources:',
        `  - { type: kafka, brokers: [${brokers()[0]}], topics: [${topic}], group_id: ${group}, session_timeout_ms: 6000${sourceExtra} }`,
        'outputs:',
        `  - { type: file, path: ${join(dir, `${name}.ndjson`)} }`,
        ...extra,
      ].join('\n') + '\n',
    );
    return file;
  }

  function start(cfg: string): ChildProcess & { err: () => string } {
    const c = startCli(['run', '--config', cfg]);
    let err = '';
    c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    children.push(c);
    return Object.assign(c, { err: () => err });
  }

  /**
   * A new 4-partition topic and group name for the consumer-group tests, 8 hosts named
   * `<host>-N`, and the waves of unique alerts (pids from `pidBase`) keyed by them.
   */
  async function groupTopic(name: string, host: string, pidBase: number) {
    const topic = uniqueName(name);
    const group = uniqueName(`siem-${name}`);
    await createTopic(topic, 4);
    const hosts = Array.from({ length: 8 }, (_, i) => `${host}-${i}`);
    const wave = (from: number, perHost: number): { key: string; value: string }[] => alertWave(hosts, pidBase, from, perHost);
    return { topic, group, hosts, wave };
  }

  const allMessages = (): { key?: string; value: string }[] => [
    ...store.map((value) => ({ key: '10.9.8.7', value })),
    ...dmesg.map((value) => ({ key: 'web-01', value })),
    // keyed by host, as a shipper must: a host's lines then stay in order in one partition
    // (multi-line alerts need it); journal lines name their host themselves
    ...journal.map((value) => ({ key: 'db-prod-07', value })),
  ];

  it('reads every shape as parse does, commits offsets after the state file, and a restart reads only what is new', async () => {
    const topic = uniqueName('kernel-lines');
    const group = uniqueName('siem');
    await createTopic(topic, 3);
    await produce(topic, allMessages());
    const cfg = config('one', topic, group);
    const out = join(dir, 'one.ndjson');
    const a = start(cfg);
    const docs = await waitFor('every event in the file output', () => {
      const d = readDocs(out);
      return d.length >= reference.length ? d : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    if (readDocs(out).length !== reference.length) {
      const got = multiset(readDocs(out));
      const want = multiset(reference);
      for (const [k, n] of got) if (want.get(k) !== n) process.stderr.write(`DIFF got ${n} want ${want.get(k)}: ${k.slice(0, 200)}\n`);
      for (const [k, n] of want) if (!got.has(k)) process.stderr.write(`MISSING want ${n}: ${k.slice(0, 200)}\n`);
    }
    expect(readDocs(out)).toHaveLength(reference.length);
    expect(multiset(docs)).toEqual(multiset(reference));
    // host identity: the logger record's client IP, the key for lines without a host, the journal's own
    const byOriginal = new Map(docs.map((d) => [d.event.original, d]));
    expect([byOriginal.get(store.find((l) => l.includes('LKRG: ALERT'))!)!.host.ip].flat()).toEqual(['10.9.8.7']);
    expect(byOriginal.get(dmesg.find((l) => l.includes('LKRG: ALERT'))!)!.host.name).toBe('web-01');
    expect(docs.some((d) => d.host.name === 'db-prod-07')).toBe(true);

    // the group's offsets reach the end of every partition once everything is in the state file
    const admin = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const ends = (await admin.fetchTopicOffsets(topic)).map((p) => `${p.partition}:${p.high}`).sort();
      let committed: string[] = [];
      for (let i = 0; i < 50; i++) {
        // an empty partition has nothing to commit (-1)
        committed = (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions.map((p) => `${p.partition}:${p.offset === '-1' ? '0' : p.offset}`).sort();
        if (committed.join() === ends.join()) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(committed).toEqual(ends);
    } finally {
      await admin.disconnect();
    }
    expect(await stop(a)).toBe(0);

    // restart: only the new messages are read (the file output holds every event once)
    const more = ['LKRG: ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid 4242, name exploit', 'LKRG: ALIVE: System is clean'];
    await produce(topic, more.map((value) => ({ key: 'web-02', value })));
    const b = start(cfg);
    await waitFor('the new events', () => (readDocs(out).length >= reference.length + more.length ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    const final = readDocs(out);
    expect(final).toHaveLength(reference.length + more.length);
    expect(final.slice(reference.length).map((d) => [d.host.name, d.message])).toEqual(more.map((m) => ['web-02', expect.stringContaining(m.slice(m.lastIndexOf(': ') + 2))]));
    expect(new Set(final.map((d) => d.event.id)).size).toBe(final.length);
    expect(await stop(b)).toBe(0);

    // the window between the state-file commit and Kafka's: offsets committed to Kafka lag
    // behind (here: set back to 0 while stopped); a restart skips what its state file holds
    // and moves the group's offsets to the end again, writing nothing twice
    const admin2 = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin2.connect();
    try {
      const ends = await admin2.fetchTopicOffsets(topic);
      await admin2.setOffsets({ groupId: group, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: '0' })) });
      const c = start(cfg);
      let committed: string[] = [];
      for (let i = 0; i < 100; i++) {
        committed = (await admin2.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions.map((p) => `${p.partition}:${p.offset === '-1' ? '0' : p.offset}`).sort();
        if (committed.join() === ends.map((p) => `${p.partition}:${p.high}`).sort().join()) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(committed).toEqual(ends.map((p) => `${p.partition}:${p.high}`).sort());
      expect(await stop(c)).toBe(0);
      expect(readDocs(out)).toHaveLength(reference.length + more.length);
    } finally {
      await admin2.disconnect();
    }
  }, 180_000);

  it('lkrg-logger records: boot and sequence tracking survives a restart (a gap across it is reported), and starts afresh after another member read the partition', async () => {
    const topic = uniqueName('logger-records');
    const group = uniqueName('siem');
    await createTopic(topic, 1);
    const record = (client: string, seq: number): { key: string; value: string } => {
      const up = 50_000_000 + seq * 1000;
      const send = 1_762_000_000_000_000 + up;
      return { key: client, value: `${send + 100},${send},${up},6,${seq},${up - 10},-;kafka tracking test ${client} record ${seq}` };
    };
    const range = (client: string, a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => record(client, a + i));
    const [k1, k2] = ['10.7.7.1', '10.7.7.2'];
    type Notice = Doc & { event: { action?: string } };
    const gaps = (file: string) => (readDocs(file) as Notice[]).filter((d) => d.event.action === 'lkrg-sequence-gap').map((d) => d.message);
    const records = (file: string) => readDocs(file).filter((d) => d.message?.startsWith('kafka tracking test')).map((d) => d.message);
    const text = (rs: { value: string }[]) => rs.map((r) => r.value.slice(r.value.indexOf(';') + 1));
    const a = config('track-a', topic, group, ['include_non_lkrg: true']);
    const outA = join(dir, 'track-a.ndjson');
    const runA = async (want: number): Promise<void> => {
      const p = start(a);
      await waitFor(`${want} records at the first member`, () => (records(outA).length >= want ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      expect(await stop(p)).toBe(0);
    };
    await produce(topic, [...range(k1, 1, 10), ...range(k2, 1, 5)]);
    await runA(15);
    // records 11-14 of the first client never reached Kafka: the restart must see the gap
    await produce(topic, range(k1, 15, 20));
    await runA(21);
    expect(gaps(outA)).toEqual([expect.stringMatching(/^4 kernel records missing from 10\.7\.7\.1 \(seq 10 → 15\)/)]);

    // another member of the group (its own state file) reads the next records of both clients;
    // when the first instance gets the partition back, its saved tracking is stale: no false gap,
    // neither now nor, for the client it does not see now, after its next restart
    const b = config('track-b', topic, group, ['include_non_lkrg: true']);
    await produce(topic, [...range(k1, 21, 30), ...range(k2, 6, 10)]);
    const q = start(b);
    await waitFor('15 records at the other member', () => (records(join(dir, 'track-b.ndjson')).length >= 15 ? true : undefined));
    expect(await stop(q)).toBe(0);
    await produce(topic, range(k1, 31, 35));
    await runA(26);
    await produce(topic, range(k2, 11, 12));
    await runA(28);
    expect(records(outA)).toEqual(text([...range(k1, 1, 10), ...range(k2, 1, 5), ...range(k1, 15, 20), ...range(k1, 31, 35), ...range(k2, 11, 12)]));
    expect(gaps(outA)).toHaveLength(1);
  }, 180_000);

  it('/metrics shows the consumer lag per partition: behind while an output that is down holds the source, 0 once caught up', async () => {
    const topic = uniqueName('lagging');
    const group = uniqueName('siem');
    await createTopic(topic, 2);
    const many = Array.from({ length: 400 }, (_, i) => ({ key: `web-${i % 7}`, value: `<6>Nov 26 10:00:00 web-${i % 7} kernel: lag test line ${i}` }));
    await produce(topic, many);
    const closed = await closedPort();
    const metricsOf = async (base: string): Promise<Map<string, number>> => {
      const check = promcheck(await (await fetch(`${base}/metrics`)).text());
      expect(check.problems).toEqual([]);
      const f = check.families.lkrg_siem_kafka_consumer_lag_messages; // absent until a fetch
      if (f) expect(f.type).toBe('GAUGE');
      return new Map((f?.samples ?? []).filter((x) => x.labels.topic === topic && x.labels.group === group).map((x) => [x.labels.partition!, x.value]));
    };
    const lagFromKafka = async (): Promise<Map<string, number>> => {
      const admin = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const ends = await admin.fetchTopicOffsets(topic);
        const committed = (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions;
        return new Map(ends.map((e) => {
          const c = Number(committed.find((x) => x.partition === e.partition)!.offset);
          return [String(e.partition), Number(e.high) - Math.max(0, c)];
        }));
      } finally {
        await admin.disconnect();
      }
    };
    // a syslog output that is down, with a queue of 50 events: the source stops reading
    const held = config('lag-held', topic, group, [
      `  - { type: syslog, name: down, host: 127.0.0.1, port: ${closed}, transport: tcp, request_timeout_ms: 1000, retry: { initial_backoff_ms: 100, max_backoff_ms: 200 }, queue: { max_events: 50 } }`,
      'include_non_lkrg: true',
      'metrics: { listen: "127.0.0.1:0" }',
    ]);
    const p = start(held);
    const base = await waitFor('the metrics URL', () => /Metrics at (http:\/\/[^\s]+)\/metrics/.exec(p.err())?.[1]);
    // held: the lag stops moving (the same over more than one 5 s reading of it), and it is
    // what Kafka's own offsets say
    const seen: string[] = [];
    const lag = await waitFor('a steady lag on both partitions', async () => {
      const m = await metricsOf(base);
      seen.push(m.size === 2 ? JSON.stringify([...m].sort()) : '');
      await new Promise((r) => setTimeout(r, 1000));
      const recent = seen.slice(-7);
      return recent.length === 7 && recent[0] !== '' && recent.every((x) => x === recent[0]) ? m : undefined;
    }, 90_000);
    const total = [...lag.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(400);
    expect(lag).toEqual(await lagFromKafka());
    expect(await stop(p)).toBe(0);
    // the same group without the output that is down: it catches up, the lag goes to 0
    const free = config('lag-free', topic, group, ['include_non_lkrg: true', 'metrics: { listen: "127.0.0.1:0" }']);
    const q = start(free);
    const base2 = await waitFor('the metrics URL', () => /Metrics at (http:\/\/[^\s]+)\/metrics/.exec(q.err())?.[1]);
    const caught = await waitFor('lag 0 on both partitions', async () => {
      const m = await metricsOf(base2);
      return m.size === 2 && [...m.values()].every((v) => v === 0) ? m : undefined;
    });
    expect([...caught.keys()].sort()).toEqual(['0', '1']);
    expect(await stop(q)).toBe(0);
  }, 180_000);

  it('two instances in one consumer group share the partitions; when one is killed the other takes its partitions over, losing nothing', async () => {
    const { topic, group, wave } = await groupTopic('kernel-lines', 'node', 100_000);
    const a = start(config('ga', topic, group));
    const b = start(config('gb', topic, group));
    const admin = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const members = async (): Promise<number> => {
        const g = (await admin.describeGroups([group])).groups[0]!;
        return g.state === 'Stable' ? g.members.length : -1;
      };
      for (let i = 0; i < 150 && (await members()) !== 2; i++) await new Promise((r) => setTimeout(r, 200));
      expect(await members()).toBe(2);

      const first = wave(0, 150);
      await produce(topic, first);
      const union = (): Doc[] => [...readDocs(join(dir, 'ga.ndjson')), ...readDocs(join(dir, 'gb.ndjson'))];
      await waitFor('the first wave in the two outputs', () => (new Set(union().map(pidOf)).size >= first.length ? true : undefined));
      const da = readDocs(join(dir, 'ga.ndjson'));
      const db = readDocs(join(dir, 'gb.ndjson'));
      // both members got partitions, and a host's events all went to one member
      expect(da.length).toBeGreaterThan(0);
      expect(db.length).toBeGreaterThan(0);
      const hostsA = new Set(da.map((d) => d.host.name));
      expect(db.some((d) => hostsA.has(d.host.name))).toBe(false);
      expect(new Set(union().map(pidOf)).size).toBe(first.length);
      expect(union()).toHaveLength(first.length); // a stable group: no message read twice

      // kill A without warning; B takes its partitions over after the session timeout
      a.kill('SIGKILL');
      const second = wave(150, 50);
      await produce(topic, second);
      const want = new Set(second.map((m) => Number(/for pid (\d+)/.exec(m.value)![1])));
      await waitFor('the second wave at B', () => {
        const got = new Set(readDocs(join(dir, 'gb.ndjson')).map(pidOf));
        return [...want].every((p) => got.has(p)) ? true : undefined;
      }, 90_000);
      // every event arrived; an event read twice (A's last batch before its offsets were
      // committed) carries the same event.id both times
      const all = union();
      expect(new Set(all.map(pidOf)).size).toBe(first.length + second.length);
      const idByPid = new Map<number, string>();
      for (const d of all) {
        const seen = idByPid.get(pidOf(d));
        if (seen !== undefined) expect(d.event.id).toBe(seen);
        idByPid.set(pidOf(d), d.event.id);
      }
      expect(b.err()).not.toMatch(/lkrg-siem error/);
    } finally {
      await admin.disconnect();
    }
    expect(await stop(b)).toBe(0);
  }, 240_000);

  it('a member joining while another holds a batch past the rebalance timeout: the held one is dropped, the other reads its partitions again, nothing is lost, ids are kept', async () => {
    const { topic, group, hosts, wave } = await groupTopic('rebalance', 'join', 200_000);
    const REBALANCE = ', rebalance_timeout_ms: 8000';
    // A: a syslog output that is down with a queue of 20 events holds A inside its first batch
    const port = await closedPort();
    const a = start(config('ja', topic, group, [
      `  - { type: syslog, name: down, host: 127.0.0.1, port: ${port}, transport: tcp, request_timeout_ms: 1000, retry: { initial_backoff_ms: 100, max_backoff_ms: 200 }, queue: { max_events: 20 } }`,
    ], REBALANCE));
    const admin = new kafkajs.Kafka({ brokers: brokers(), logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    const sink = createServer((sock) => sock.resume());
    try {
      const state = async (): Promise<{ state: string; members: number }> => {
        const g = (await admin.describeGroups([group])).groups[0]!;
        return { state: g.state, members: g.members.length };
      };
      await waitFor('A in the group', async () => {
        const g = await state();
        return g.state === 'Stable' && g.members === 1 ? true : undefined;
      });
      const first = wave(0, 40);
      await produce(topic, first);
      const docsOf = (n: string): Doc[] => readDocs(join(dir, `${n}.ndjson`));
      await waitFor('A held by its full queue', async () => {
        const n = docsOf('ja').length;
        await new Promise((r) => setTimeout(r, 1500));
        return n > 0 && n < first.length && docsOf('ja').length === n ? true : undefined;
      });
      // B joins; A, held inside its batch, cannot rejoin within the rebalance timeout and is
      // dropped: B gets every partition and reads them from the last committed offsets (A
      // committed its batches before the one it holds)
      const held = docsOf('ja').length;
      const b = start(config('jb', topic, group, [], REBALANCE));
      const pidsOf = (n: string): Set<number> => new Set(docsOf(n).map(pidOf));
      await waitFor('B alone, with every event of the first wave A has not', async () => {
        const g = await state();
        const both = new Set([...pidsOf('ja'), ...pidsOf('jb')]);
        return g.state === 'Stable' && g.members === 1 && both.size === first.length ? true : undefined;
      }, 90_000);
      // A learns at its next heartbeat that it was dropped (it says so once) and is still held
      await waitFor('A to notice it was dropped', () => (/dropped from the group while its outputs hold a batch/.test(a.err()) ? true : undefined), 30_000);
      expect(docsOf('ja')).toHaveLength(held);
      // A is let go: its held batch is committed in its state file, the Kafka offsets are not
      // (it is no longer a member); it rejoins and the group splits the partitions again
      await new Promise<void>((r) => sink.listen(port, '127.0.0.1', () => r()));
      await waitFor('A rejoined: two members, stable', async () => {
        const g = await state();
        return g.state === 'Stable' && g.members === 2 ? true : undefined;
      }, 90_000);
      expect(a.err()).toMatch(/not committed/);
      const second = wave(40, 40);
      await produce(topic, second);
      const union = (): Doc[] => [...docsOf('ja'), ...docsOf('jb')];
      await waitFor('every event of both waves', () => (new Set(union().map(pidOf)).size === first.length + second.length ? true : undefined), 90_000);
      const all = union();
      // the held batch was read by both: the same events with the same ids
      const twice = docsOf('ja').filter((d) => docsOf('jb').some((e) => pidOf(e) === pidOf(d)));
      expect(twice.length).toBeGreaterThan(0);
      const idByPid = new Map<number, string>();
      for (const d of all) {
        const seen = idByPid.get(pidOf(d));
        if (seen !== undefined) expect(d.event.id).toBe(seen);
        idByPid.set(pidOf(d), d.event.id);
      }
      // after the rejoin both members read the second wave
      const secondPids = new Set(second.map((m) => Number(/for pid (\d+)/.exec(m.value)![1])));
      expect(docsOf('ja').some((d) => secondPids.has(pidOf(d)))).toBe(true);
      expect(docsOf('jb').some((d) => secondPids.has(pidOf(d)))).toBe(true);
      // no error, and no line once a second while A was held
      expect(a.err()).not.toMatch(/lkrg-siem error/);
      expect(b.err()).not.toMatch(/lkrg-siem error/);
      expect(a.err().split('\n').filter((l) => l.includes('Response Heartbeat')).length).toBeLessThanOrEqual(2);
      expect(await stop(b)).toBe(0);
      expect(await stop(a)).toBe(0);
    } finally {
      await admin.disconnect();
      sink.close();
    }
  }, 300_000);

  it('reads through the TLS + SASL listener; a wrong password stops the run with an error naming the source', async () => {
    const topic = uniqueName('kernel-tls');
    await createTopic(topic, 1);
    const line = 'LKRG: ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid 4242, name exploit';
    await produce(topic, [{ key: 'tls-host', value: line }]);
    const tlsConfig = (name: string, passwordFile: string): string => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        [
          `state_file: ${join(dir, `${name}.db`)}`,
          'sources:',
          `  - type: kafka`,
          `    brokers: [${peer.env.KAFKA_TLS_BROKERS!}]`,
          `    topics: [${topic}]`,
          `    group_id: ${uniqueName('tls')}`,
          `    tls: { enabled: true, ca_file: ${peer.env.KAFKA_CA_FILE!} }`,
          `    sasl: { mechanism: scram-sha-512, username: ${peer.env.KAFKA_SASL_USERNAME!}, password_file: ${passwordFile} }`,
          'outputs:',
          `  - { type: file, path: ${join(dir, `${name}.ndjson`)} }`,
        ].join('\n') + '\n',
      );
      return file;
    };
    const good = join(dir, 'good.pw');
    writeFileSync(good, peer.env.KAFKA_SASL_PASSWORD! + '\n');
    const c = start(tlsConfig('tls-ok', good));
    const docs = await waitFor('the event over TLS', () => {
      const d = readDocs(join(dir, 'tls-ok.ndjson'));
      return d.length ? d : undefined;
    });
    expect(docs.map((d) => [d.host.name, d.event.original])).toEqual([['tls-host', line]]);
    expect(await stop(c)).toBe(0);
    expect(c.err()).not.toContain(peer.env.KAFKA_SASL_PASSWORD!);

    const bad = join(dir, 'bad.pw');
    writeFileSync(bad, 'not-the-password\n');
    const r = await runCli(['run', '--config', tlsConfig('tls-bad', bad)], { timeoutMs: 90_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(r.stderr).toMatch(/Kafka source \(group tls-[^)]*\): cannot connect to .* or subscribe to .*: .*(SASL|authenticat)/i);
    expect(r.stderr).not.toContain('not-the-password');
  }, 180_000);

  it('second tier: what one lkrg-siem publishes with its kafka output, a consumer group forwards unchanged (same JSON, same ids, same CEF)', async () => {
    const topic = uniqueName('lkrg-ecs');
    await createTopic(topic, 3);
    const storeDir = join(dir, 'tier1-store');
    mkdirSync(storeDir);
    copyFileSync(join(samples, 'samples-lkrg-logger-store.txt'), join(storeDir, '10.9.8.7'));
    copyFileSync(join(samples, 'samples-lkrg-logger-store.txt'), join(storeDir, '10.9.8.8'));
    // tier 1: the store into Kafka (ECS JSON, key = host) and, for reference, into files
    const ref = join(dir, 'tier1.ndjson');
    const t1 = await runCli(['replay', storeDir, '--no-progress', '--state', join(dir, 'tier1.db'), '--output', `file:${ref}`, '--output', `kafka://${brokers()[0]}/${topic}`]);
    expect(t1.code, t1.stderr).toBe(0);
    const refCef = join(dir, 'tier1.cef');
    const t1c = await runCli(['replay', storeDir, '--no-progress', '--to', 'cef', '--state', join(dir, 'tier1c.db'), '--output', `file:${refCef}`]);
    expect(t1c.code, t1c.stderr).toBe(0);
    const want = readFileSync(ref, 'utf8').split('\n').filter(Boolean);
    expect(want.length).toBeGreaterThan(100);

    // tier 2: a consumer group (here one member) with an ECS and a CEF file output
    const cfg = config('tier2', topic, uniqueName('tier2'), [`  - { type: file, name: cef, path: ${join(dir, 'tier2.cef')}, format: cef }`]);
    const c = start(cfg);
    const out = join(dir, 'tier2.ndjson');
    await waitFor('every document at tier 2', () => (readDocs(out).length >= want.length ? true : undefined));
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stop(c)).toBe(0);
    const got = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    // byte for byte the same documents (Kafka keeps order per host, not across hosts)
    expect([...got].sort()).toEqual([...want].sort());
    const cefGot = readFileSync(join(dir, 'tier2.cef'), 'utf8').split('\n').filter(Boolean).sort();
    expect(cefGot).toEqual(readFileSync(refCef, 'utf8').split('\n').filter(Boolean).sort());
    // per host, in the order tier 1 wrote them
    for (const ip of ['10.9.8.7', '10.9.8.8']) {
      const mine = (lines: string[]) => lines.filter((l) => (JSON.parse(l) as Doc).host.ip?.includes(ip));
      expect(mine(got)).toEqual(mine(want));
    }
  }, 180_000);
});
