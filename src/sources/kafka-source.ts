/**
 * Kafka source: kernel log lines from Kafka topics, read by a consumer group, so several
 * lkrg-siem instances share the partitions (each partition is read by one member at a time;
 * members that join or leave get their share rebalanced by Kafka).
 *
 * A message value holds one or more lines (newline separated). Each line is read as
 * - an lkrg-logger store record (`recv,send,...,flag;message`; the message key is the client
 *   IPv4, as the store's file name would be; boot and sequence tracking per key, saved with
 *   the partition's position: {@link KafkaClientPosition}),
 * - an ECS document that an upstream lkrg-siem's kafka output wrote: forwarded unchanged, with
 *   its own event.id (a second tier: lkrg-siem on the log servers publishes, a consumer group
 *   of lkrg-siem instances fans out to the SIEMs),
 * - a `journalctl --output=json` object (a line starting with `{`),
 * - or a text line of any shape the text source knows (`input`, default `auto`: syslog
 *   RFC 3164/5424 as rsyslog's omkafka sends it, dmesg, journalctl short, ...). A line without
 *   a host of its own takes the message key as host.name.
 *
 * Delivery: the offsets of a batch are committed to Kafka (the group's offsets) only after the
 * pipeline committed the batch's events in the state file, so a crash or a rebalance at any
 * instant loses nothing; another member may read the last uncommitted messages again
 * (at-least-once; the events keep the same event.id, topic/partition/offset based, so
 * Elasticsearch and OpenSearch drop the repeat). The state file also keeps the last offset
 * per partition: after a crash the same instance skips what it had already queued.
 *
 * Stream id `kafka:<topic>/<partition>`; record offset = message offset × 1000 + line index.
 */
import type { Consumer, EachBatchPayload, KafkaMessage, LogEntry } from 'kafkajs';
import { ConfigError, SourceError, type RecordBatch, type Source, type SourceContext, type SourcePosition } from '../core/types.js';
import { newLoggerFields, scanLoggerFields } from '../parse/containers/logger-record.js';
import type { TextShape } from '../parse/containers/text-line.js';
import { resolveKafkaConnection, type ResolvedKafkaConnection } from '../../outputs/kafka/kafka-output-spec.js';
import { BatchBuilder, type BatchLimits } from './batch-builder.js';
import { LoggerLineHandler, type LoggerLineOptions } from './logger-line-handler.js';
import type { BootTrackerState } from './logger-boot-tracker.js';
import { handleTextLine } from './text-source.js';
import { forwardedDocument } from '../parse/forwarded-document.js';

/** Options of {@link KafkaSource} (the `kafka` source section, validated by the config spec). */
export interface KafkaSourceOptions extends BatchLimits, LoggerLineOptions {
  /** The raw section: brokers, client_id, tls, sasl, timeouts (resolved with the kafka output's rules). */
  readonly section: Record<string, unknown>;
  /** Key path of the section for errors, e.g. `sources[0]`. */
  readonly keyPath: string;
  readonly topics: readonly string[];
  readonly groupId: string;
  /** Where a group without committed offsets starts. */
  readonly startFrom: 'earliest' | 'latest';
  readonly input: TextShape;
  readonly sessionTimeoutMs: number;
  /** How long a rebalance waits for the members to rejoin (kafkajs default 60 s). */
  readonly rebalanceTimeoutMs?: number;
  readonly maxLineBytes?: number;
  readonly id?: string;
  /** Environment for `sasl.password_env` (tests). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Saved position of one partition (stream id `kafka:<topic>/<partition>`). */
export interface KafkaPartitionPosition {
  readonly v: 1;
  /** Offset of the last message whose events were committed. */
  readonly offset: string;
  /**
   * First offset of this instance's current unbroken run of the partition (it started afresh
   * there, another member having read what came before): client tracking saved before it is
   * stale. Absent: every saved client state counts.
   */
  readonly trackedSince?: string;
}

/**
 * Saved boot and sequence tracking of one lkrg-logger client (message key) of a partition,
 * stream id `kafka:<topic>/<partition>#<key>`: written with every batch that read the client's
 * records, so a restart reports a gap or a reboot across it. Used only when the partition
 * continues right after the offset this instance committed last (no other member read it in
 * between); otherwise tracking starts afresh.
 */
export interface KafkaClientPosition {
  readonly v: 1;
  /** Offset of the partition's last committed message when this state was saved. */
  readonly offset: string;
  readonly tracker: BootTrackerState;
}

/** A batch handed from the consumer to the pipeline, and the signal that it was committed. */
interface Handoff {
  readonly batch: RecordBatch;
  readonly committed: () => void;
}

const LINES_PER_MESSAGE = 1000;
/** How often the consumer lag is read for /metrics (two small admin requests per topic). */
const LAG_POLL_MS = 5_000;

/** True for kafkajs's answer that the coordinator does not know this member (dropped from the group). */
function unknownMember(err: unknown): boolean {
  return (err as { type?: string } | null)?.type === 'UNKNOWN_MEMBER_ID';
}

/** How long the same kafkajs log line is kept from repeating (see the source's log). */
const REPEAT_LOG_MS = 60_000;

/** Reads kernel lines from Kafka through a consumer group; see module doc. */
export class KafkaSource implements Source {
  readonly id: string;
  private readonly conn: ResolvedKafkaConnection;

  /** Validates the connection settings and loads secrets (throws ConfigError naming the key). */
  constructor(private readonly opts: KafkaSourceOptions) {
    this.id = opts.id ?? `kafka:${opts.groupId}`;
    this.conn = resolveKafkaConnection(opts.section, (k) => `${opts.keyPath}.${k}`, opts.env ?? process.env, 30_000);
    if (opts.topics.length === 0) throw new ConfigError(`${opts.keyPath}.topics`, opts.topics, 'name at least one topic');
  }

  async *read(ctx: SourceContext): AsyncGenerator<RecordBatch> {
    const o = this.opts;
    const [{ default: kafkajs }, { kafkaClientConfig }] = await Promise.all([import('kafkajs'), import('../../outputs/kafka/kafka-output.js')]);
    const where = `Kafka source (group ${o.groupId})`;
    // the same kafkajs line (a heartbeat answered "rebalancing" every second while a batch is
    // held, a broker that stays down) is logged once per minute, with how often it came meanwhile
    const repeats = new Map<string, { at: number; more: number }>();
    const log = (entry: LogEntry): void => {
      const detail = entry.log as { message: string; error?: string; type?: string };
      // a group rebalancing (a member joined or left) is routine: kafkajs reports the answers
      // of the requests it interrupts as errors
      const routine = detail.type === 'REBALANCE_IN_PROGRESS' || /rebalanc/i.test(`${detail.error ?? ''} ${detail.message}`);
      // dropped from the group (held past the rebalance timeout, a session that expired): it
      // rejoins by itself; worth a warning, not an error
      const dropped = unknownMember(detail) || /not aware of this member/i.test(`${detail.error ?? ''} ${detail.message}`);
      const level = routine ? 'info' : dropped ? 'warn' : entry.level === kafkajs.logLevel.ERROR ? 'error' : entry.level === kafkajs.logLevel.WARN ? 'warn' : 'info';
      const text = `${where}: ${detail.message}${detail.error ? ` (${detail.error})` : ''}`;
      const now = Date.now();
      const seen = repeats.get(text);
      if (seen !== undefined && now - seen.at < REPEAT_LOG_MS) {
        seen.more++;
        return;
      }
      if (repeats.size >= 1000) repeats.clear();
      repeats.set(text, { at: now, more: 0 });
      ctx.log(level, seen !== undefined && seen.more > 0 ? `${text} (also ${seen.more} more time${seen.more === 1 ? '' : 's'} in the ${Math.round((now - seen.at) / 1000)} s before)` : text);
    };
    const kafka = new kafkajs.Kafka({ ...kafkaClientConfig(this.conn, log), retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 } });
    const consumer: Consumer = kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      ...(o.rebalanceTimeoutMs !== undefined ? { rebalanceTimeout: o.rebalanceTimeoutMs } : {}),
      heartbeatInterval: Math.max(500, Math.floor(o.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 1 << 20,
    });

    // one batch at a time from the consumer to the pipeline
    let waiting: ((h: Handoff | Error | null) => void) | undefined;
    const pending: (Handoff | Error | null)[] = [];
    const deliver = (h: Handoff | Error | null): void => {
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w(h);
      } else pending.push(h);
    };
    const next = (): Promise<Handoff | Error | null> =>
      pending.length ? Promise.resolve(pending.shift()!) : new Promise((r) => (waiting = r));
    const onAbort = (): void => deliver(null);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) deliver(new SourceError(`${where}: the consumer stopped: ${e.payload.error.message}`));
      else {
        ctx.log('warn', `${where}: ${e.payload.error.message}; the consumer restarts`);
        ctx.health?.(`${where}: ${e.payload.error.message}; the consumer restarts`);
      }
    });

    // per partition: the last offset whose events the pipeline committed (the saved positions,
    // then every batch of this run), so a partition read again after a rebalance or a failed
    // offset commit skips what is already queued
    const queuedUpTo = new Map<string, bigint>();
    // per partition, then client key: lkrg-logger boot tracking as of the last committed batch,
    // and where the partition's unbroken run began (older client states are stale)
    const trackers = new Map<string, Map<string, BootTrackerState>>();
    const trackedSince = new Map<string, bigint>();
    const committedPositions = (positions: readonly [string, unknown][]): void => {
      const ours = positions.filter(([id, pos]) => id.startsWith('kafka:') && (pos as { v?: unknown } | null)?.v === 1);
      for (const [streamId, pos] of ours) {
        if (streamId.includes('#')) continue;
        const p = pos as KafkaPartitionPosition;
        queuedUpTo.set(streamId, BigInt(p.offset));
        if (p.trackedSince !== undefined) trackedSince.set(streamId, BigInt(p.trackedSince));
      }
      for (const [streamId, pos] of ours) {
        const hash = streamId.indexOf('#'); // topic names cannot hold '#'
        if (hash < 0) continue;
        const partition = streamId.slice(0, hash);
        const c = pos as KafkaClientPosition;
        if (BigInt(c.offset) < (trackedSince.get(partition) ?? 0n)) continue;
        let t = trackers.get(partition);
        if (!t) trackers.set(partition, (t = new Map()));
        t.set(streamId.slice(hash + 1), c.tracker);
      }
    };
    committedPositions([...ctx.positions]);
    // consumer lag per assigned partition for /metrics, as Kafka's own tools compute it: the end
    // of the partition minus the group's committed offset (committed right after the state file)
    const assigned = new Map<string, number[]>();
    const lagShown = new Map<string, Readonly<Record<string, string>>>();
    // dropped from the group (held past the rebalance timeout, or its session expired): the
    // batches kafkajs still hands over from the last fetch belong to other members now and are
    // skipped until the next join (they would only be read twice)
    let dropped = false;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      dropped = false;
      ctx.health?.(null); // in the group again, with partitions to read
      assigned.clear();
      for (const [t, ps] of Object.entries(e.payload.memberAssignment)) assigned.set(t, [...ps]);
      void pollLag();
    });
    const admin = ctx.gauge ? kafka.admin() : undefined;
    let lagWarned = false;
    let polling = false;
    const pollLag = async (): Promise<void> => {
      if (!admin || polling || ctx.signal.aborted) return;
      polling = true;
      try {
        const now = new Map<string, Readonly<Record<string, string>>>();
        for (const [topic, partitions] of assigned) {
          if (partitions.length === 0) continue;
          const ends = await admin.fetchTopicOffsets(topic);
          const committed = (await admin.fetchOffsets({ groupId: o.groupId, topics: [topic] }))[0]?.partitions ?? [];
          for (const partition of partitions) {
            const end = ends.find((x) => x.partition === partition);
            if (!end) continue;
            const c = committed.find((x) => x.partition === partition)?.offset ?? '-1';
            // nothing committed yet: the group starts at start_from
            const next = c !== '-1' ? BigInt(c) : o.startFrom === 'earliest' ? BigInt(end.low) : BigInt(end.high);
            const labels = { group: o.groupId, topic, partition: String(partition) };
            ctx.gauge!('kafka_consumer_lag', labels, Math.max(0, Number(BigInt(end.high) - next)));
            now.set(`${topic}/${partition}`, labels);
          }
        }
        // partitions this member no longer reads: their lag is another member's to report
        for (const [k, labels] of lagShown) if (!now.has(k)) ctx.gauge!('kafka_consumer_lag', labels, null);
        lagShown.clear();
        for (const [k, labels] of now) lagShown.set(k, labels);
      } catch (err) {
        if (!lagWarned) ctx.log('warn', `${where}: cannot read the consumer lag (${(err as Error).message}); retrying every ${LAG_POLL_MS / 1000} s`);
        lagWarned = true;
      } finally {
        polling = false;
      }
    };
    const lagTimer = admin ? setInterval(() => void pollLag(), LAG_POLL_MS) : undefined;
    lagTimer?.unref();
    const probe = newLoggerFields();
    const prefilter = o.includeNonLkrg ? undefined : o.prefilter;

    const eachBatch = async (p: EachBatchPayload): Promise<void> => {
      if (dropped) {
        // still out of the group? (one heartbeat tells; in the group again, read on)
        const out = await p.heartbeat().then(() => false, unknownMember);
        if (out) return;
        dropped = false;
      }
      const { topic, partition } = p.batch;
      const streamId = `kafka:${topic}/${partition}`;
      const origin = `kafka ${topic}/${partition}`;
      const queued = queuedUpTo.get(streamId);
      // lkrg-logger handlers per client key, from the tracking state of the last committed batch
      // (what earlier calls tracked past it was not committed), and only when this batch
      // continues right after it: otherwise another member read the messages in between, and a
      // stale state would report false gaps, or drop records it saw but never queued as resends
      const first = p.batch.messages[0]?.offset;
      if (first !== undefined && (queued === undefined || BigInt(first) > queued + 1n)) {
        trackers.delete(streamId);
        trackedSince.set(streamId, BigInt(first));
      }
      const saved = trackers.get(streamId);
      const since = trackedSince.get(streamId);
      const loggers = new Map<string, LoggerLineHandler>();
      const touched = new Set<string>();
      // skip what this instance already queued (a crash between its commit and Kafka's, a
      // rebalance), unless that offset cannot belong to this partition any more (topic recreated)
      const skipTo = queued !== undefined && queued < BigInt(p.batch.highWatermark) ? queued : -1n;
      let b = new BatchBuilder(o);
      let last: string | undefined;
      const hand = async (): Promise<boolean> => {
        if (last === undefined) return true;
        const offset = last;
        for (const h of loggers.values()) h.flushDuplicates(b);
        const partitionPos: KafkaPartitionPosition = since === undefined ? { v: 1, offset } : { v: 1, offset, trackedSince: since.toString() };
        const positions: Record<string, SourcePosition> = { [streamId]: partitionPos as unknown as SourcePosition };
        for (const client of touched) {
          const tracker = loggers.get(client)!.tracker.snapshot();
          positions[`${streamId}#${client}`] = { v: 1, offset, tracker } satisfies KafkaClientPosition as unknown as SourcePosition;
        }
        touched.clear();
        const batch = b.take(positions);
        b = new BatchBuilder(o);
        let done!: () => void;
        const committed = new Promise<void>((r) => (done = r));
        deliver({ batch, committed: done });
        // the pipeline may hold the batch (back-pressure): keep the group session alive meanwhile.
        // Held past the rebalance timeout while another member joined or left, this member is
        // dropped from the group (the others read its partitions from the last committed
        // offsets); it then stops heartbeating, keeps the batch until the pipeline committed it
        // and rejoins after that (rejoining while still held would stall the group again)
        let member = true;
        for (;;) {
          const t = new Promise<'tick'>((r) => setTimeout(() => r('tick'), 1000).unref());
          if ((await Promise.race([committed, t])) !== 'tick') break;
          if (!p.isRunning() || p.isStale() || ctx.signal.aborted) return false;
          if (!member) continue;
          await p.heartbeat().catch((err: unknown) => {
            if (!unknownMember(err)) return;
            member = false;
            dropped = true;
            ctx.log('warn', `${where}: dropped from the group while its outputs hold a batch of ${origin} (held longer than rebalance_timeout_ms while the group rebalanced); the other members read its partitions meanwhile, and it rejoins once the batch is committed`);
          });
        }
        p.resolveOffset(offset);
        last = undefined;
        try {
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(offset) + 1n).toString() }]);
        } catch (err) {
          if (unknownMember(err)) dropped = true;
          // a rebalance took the partition away meanwhile: whoever reads it next starts at the
          // last committed offset (the events keep their ids); this member stops this batch
          ctx.log('info', `${where}: offsets of ${origin} not committed (${(err as Error).message}); the partition is read again from the last committed offset`);
          return false;
        }
        return true;
      };
      for (const m of p.batch.messages) {
        if (!p.isRunning() || p.isStale() || ctx.signal.aborted) break;
        if (BigInt(m.offset) <= skipTo) {
          last = m.offset; // already queued: only its offset is committed (with the batch)
          continue;
        }
        this.message(b, m, streamId, origin, { handlers: loggers, saved, touched }, probe, prefilter);
        last = m.offset;
        if (b.full() && !(await hand())) return;
      }
      if (!p.isStale() && !ctx.signal.aborted) await hand();
    };

    try {
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...o.topics], fromBeginning: o.startFrom === 'earliest' });
        await admin?.connect();
      } catch (err) {
        throw new SourceError(`${where}: cannot connect to ${this.conn.brokers.join(', ')} or subscribe to ${o.topics.join(', ')}: ${(err as Error).message}`);
      }
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
      ctx.log('info', `${where}: consuming ${o.topics.join(', ')}.`);
      for (;;) {
        const h = await next();
        if (h === null || ctx.signal.aborted) return;
        if (h instanceof Error) throw h;
        yield h.batch;
        // the pipeline asks for the next batch only after it committed this one
        committedPositions(Object.entries(h.batch.positions));
        h.committed();
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      if (lagTimer) clearInterval(lagTimer);
      await admin?.disconnect().catch(() => {});
      await consumer.disconnect().catch(() => {});
    }
  }

  /** Turns one message into records (see module doc). Never throws. */
  private message(
    b: BatchBuilder,
    m: KafkaMessage,
    streamId: string,
    origin: string,
    loggers: {
      readonly handlers: Map<string, LoggerLineHandler>;
      /** Committed tracking state per client key (absent: start afresh). */
      readonly saved: ReadonlyMap<string, BootTrackerState> | undefined;
      /** Keys whose records this batch read (their state goes into its positions). */
      readonly touched: Set<string>;
    },
    probe: ReturnType<typeof newLoggerFields>,
    prefilter: ((t: string) => boolean) | undefined,
  ): void {
    const value = m.value;
    if (!value) return;
    const key = m.key && m.key.length ? m.key.toString('utf8') : undefined;
    const base = Number(m.offset) * LINES_PER_MESSAGE;
    const cap = this.opts.maxLineBytes ?? 64 * 1024;
    let start = 0;
    for (let i = 0; start <= value.length && i < LINES_PER_MESSAGE; i++) {
      let end = value.indexOf(10, start);
      if (end < 0) end = value.length;
      const lineEnd = end > start && value[end - 1] === 13 ? end - 1 : end;
      if (lineEnd > start) {
        const overlong = lineEnd - start > cap;
        const stop = overlong ? start + cap : lineEnd;
        const offset = base + i;
        const forwarded = value[start] === 123 && !overlong ? forwardedDocument(value.toString('utf8', start, stop)) : null;
        if (forwarded !== null) {
          const d = forwarded.document;
          b.records.push({ streamId, origin, offset, line: Number(m.offset), container: 'ecs', original: d.json, text: d.parsed.body, host: forwarded.host, timeUs: forwarded.timeUs, document: d });
        } else if (value[start] !== 123 && scanLoggerFields(value, start, stop, probe) === null) {
          const client = key ?? 'unknown';
          let h = loggers.handlers.get(client);
          if (!h) loggers.handlers.set(client, (h = new LoggerLineHandler(client, streamId, origin, this.opts, loggers.saved?.get(client))));
          loggers.touched.add(client);
          h.line(b, value, start, stop, offset, Number(m.offset), overlong);
        } else {
          const before = b.records.length;
          handleTextLine(b, value, start, stop, overlong, { streamId, origin, offset, line: Number(m.offset) }, { shape: this.opts.input }, prefilter);
          if (key !== undefined) {
            for (let r = before; r < b.records.length; r++) {
              const rec = b.records[r]!;
              if (rec.host.name === undefined && rec.host.ip === undefined && rec.host.id === undefined) b.records[r] = { ...rec, host: { name: key } };
            }
          }
        }
      }
      b.bytes += Math.max(0, end - start) + 1;
      start = end + 1;
    }
  }
}

