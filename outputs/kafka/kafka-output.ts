/**
 * The `kafka` output: one kafkajs idempotent producer (acks=-1), one `sendBatch` per batch,
 * key = host identity so each host's events stay in order on one partition.
 *
 * Delivery: a batch is delivered when every partition leader acknowledged it with all
 * in-sync replicas. Whatever fails is answered per event (retry / rejected) or as a whole
 * (OutputError); the delivery layer retries, so duplicates are possible (at least once) and
 * consumers dedupe on the `event_id` header. After any failed send the producer is replaced
 * (new producer id), so an idempotent-sequence mismatch can never wedge the output.
 */
// before kafkajs: its per-partition grouping, replaced by a linear one
import './kafkajs-partition-grouping.js';
import kafkajs from 'kafkajs';
import type { Admin, ICustomPartitioner, Kafka, KafkaConfig, LogEntry, Message, Producer, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { OutputError, type EcsDocument, type OutputDriver, type QueuedEvent } from '../../src/core/output.js';
import type { DeliveryResult } from '../../src/core/types.js';
import { ConfigError } from '../../src/core/types.js';
import { compressionType, registerKafkaCodecs } from './kafka-codecs.js';
import { classifyKafkaError, type KafkaErrorVerdict } from './classify-kafka-error.js';
import { resolveKafkaOutputConfig, topicFor, type KafkaOutputConfig, type ResolvedKafkaConnection, type ResolvedKafkaOutputConfig } from './kafka-output-spec.js';

const { Partitioners, logLevel } = kafkajs;

registerKafkaCodecs(kafkajs);

export type { KafkaOutputConfig } from './kafka-output-spec.js';

/**
 * kafkajs's DefaultPartitioner (murmur2 of the key, as the Java client), remembered per topic,
 * partition count and key. For a keyed message the default partitioner's answer depends only
 * on those three, so the partitions are exactly the default ones (per-host order is kept,
 * and other producers of the same keys agree); it just skips a murmur2 hash and a copy of the
 * partition list per message. Messages without a key, or with an explicit partition, go to
 * the default partitioner unchanged.
 */
export const cachedDefaultPartitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner();
  const cache = new Map<string, number>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    if (typeof message.key !== 'string' || (message.partition !== null && message.partition !== undefined)) return inner(args);
    const k = `${topic}\u0000${partitionMetadata.length}\u0000${message.key}`;
    let p = cache.get(k);
    if (p === undefined) {
      p = inner(args);
      if (cache.size >= 100_000) cache.clear();
      cache.set(k, p);
    }
    return p;
  };
};

/** Optional collaborators of the kafka output, given by the output registry. */
export interface KafkaOutputDeps {
  /**
   * CEF encoder for `value_format: cef` (`toCef` from src/normalize/cef-encoder.ts).
   * Passed by the output registry; without it `cef` is a ConfigError.
   */
  readonly encodeCef?: (doc: EcsDocument) => string;
  /** Diagnostic log for kafkajs warnings/errors (one line per condition, never per event). */
  readonly log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Environment for `sasl.password_env` (tests); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Builds the kafkajs client (tests pass a fake); default `new Kafka(config)`. */
  readonly createClient?: (config: KafkaConfig) => Pick<Kafka, 'producer' | 'admin'>;
}

const DELIVERED: DeliveryResult = Object.freeze({ status: 'delivered' });

/** Thrown inside send() when a whole request must be retried. */
class RetryBatch extends Error {}

/**
 * Creates the kafka output driver. Validates the config at once (throws ConfigError, exit 2);
 * connects in `start()`.
 * @param config the output's config section (snake_case keys, see kafka-output-spec.ts)
 * @param name the output's name, used in error messages and key paths
 */
export function createKafkaOutput(config: KafkaOutputConfig, name: string, deps: KafkaOutputDeps = {}): OutputDriver {
  const resolved = resolveKafkaOutputConfig(config, name, deps.env);
  if (resolved.valueFormat === 'cef' && !deps.encodeCef) {
    throw new ConfigError(`outputs.${name}.value_format`, 'cef', 'the CEF encoder is not available in this build: use ecs_json');
  }
  return new KafkaOutput(resolved, name, deps);
}

interface Encoded {
  readonly topic: string;
  readonly message: Message;
  readonly bytes: number;
}

class KafkaOutput implements OutputDriver {
  readonly type = 'kafka';
  /** One batch at a time: kafkajs's idempotent producer keeps order only with one request in flight. */
  readonly maxInFlight = 1;
  private kafka: Pick<Kafka, 'producer' | 'admin'> | undefined;
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private closed = false;

  constructor(
    private readonly cfg: ResolvedKafkaOutputConfig,
    readonly name: string,
    private readonly deps: KafkaOutputDeps,
  ) {}

  async start(signal: AbortSignal): Promise<void> {
    this.closed = false;
    try {
      await this.withDeadline(this.ensureProducer(), signal, 'connecting');
    } catch (err) {
      throw this.toOutputError(err, 'connect');
    }
  }

  async send(batch: readonly QueuedEvent[], signal: AbortSignal): Promise<DeliveryResult[]> {
    if (batch.length === 0) return [];
    if (this.closed) throw new OutputError(`kafka output "${this.name}" is closed`, { retriable: true });
    const results: (DeliveryResult | undefined)[] = new Array(batch.length);
    const toSend: number[] = [];
    const encoded = batch.map((ev, i) => {
      const enc = this.encode(ev);
      if (enc.bytes > this.cfg.maxMessageBytes) {
        results[i] = {
          status: 'rejected',
          reason: `message of ${enc.bytes} bytes exceeds max_message_bytes (${this.cfg.maxMessageBytes})`,
        };
      } else {
        toSend.push(i);
      }
      return enc;
    });
    try {
      await this.sendNarrowing(toSend, encoded, results, signal);
    } catch (err) {
      if (!(err instanceof RetryBatch)) throw err;
      if (!results.some((r) => r !== undefined)) {
        throw new OutputError(`kafka output "${this.name}": ${err.message}`, { retriable: true, cause: err.cause });
      }
      for (let i = 0; i < results.length; i++) {
        results[i] ??= { status: 'retry', reason: err.message };
      }
    }
    return results.map((r) => r ?? { status: 'retry', reason: 'not sent' });
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    let admin: Admin | undefined;
    try {
      admin = this.client().admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1000 } });
      const a = admin;
      await this.withDeadline((async () => {
        await a.connect();
        await a.describeCluster();
      })(), signal, 'health check');
    } catch (err) {
      throw this.toOutputError(err, 'health check');
    } finally {
      await admin?.disconnect().catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.producer;
    this.producer = undefined;
    this.connecting = undefined;
    await p?.disconnect().catch(() => {});
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Sends the events at `idxs` as one request; when the broker refuses the records themselves
   * (too large, invalid) splits the range in halves until the refused events are single ones.
   * Halves go one after the other, so per-key order holds among the delivered events.
   */
  private async sendNarrowing(
    idxs: number[],
    encoded: readonly Encoded[],
    results: (DeliveryResult | undefined)[],
    signal: AbortSignal,
  ): Promise<void> {
    if (idxs.length === 0) return;
    let verdict: KafkaErrorVerdict;
    try {
      await this.produce(idxs.map((i) => encoded[i]!), signal);
      for (const i of idxs) results[i] = DELIVERED;
      return;
    } catch (err) {
      if (err instanceof OutputError) throw err;
      verdict = classifyKafkaError(err);
      if (verdict.action === 'fatal') throw this.fatal(verdict, err);
      if (verdict.action === 'retry') throw new RetryBatch(verdict.reason, { cause: err });
    }
    if (idxs.length === 1) {
      results[idxs[0]!] = { status: 'rejected', reason: verdict.reason };
      return;
    }
    const mid = Math.ceil(idxs.length / 2);
    await this.sendNarrowing(idxs.slice(0, mid), encoded, results, signal);
    await this.sendNarrowing(idxs.slice(mid), encoded, results, signal);
  }

  /** One sendBatch under our deadline; any failure retires the producer. */
  private async produce(items: readonly Encoded[], signal: AbortSignal): Promise<void> {
    const topicMessages: { topic: string; messages: Message[] }[] = [];
    const byTopic = new Map<string, Message[]>();
    for (const it of items) {
      let list = byTopic.get(it.topic);
      if (!list) {
        list = [];
        byTopic.set(it.topic, list);
        topicMessages.push({ topic: it.topic, messages: list });
      }
      list.push(it.message);
    }
    const work = (async () => {
      const producer = await this.ensureProducer();
      await producer.sendBatch({
        topicMessages,
        acks: -1,
        timeout: Math.min(this.cfg.requestTimeoutMs, 30_000),
        compression: compressionType(kafkajs, this.cfg.compression),
      });
    })();
    try {
      await this.withDeadline(work, signal, 'sending');
    } catch (err) {
      this.retireProducer();
      throw err;
    }
  }

  private encode(ev: QueuedEvent): Encoded {
    const value = this.cfg.valueFormat === 'cef' ? this.deps.encodeCef!(ev.doc) : ev.json;
    const message: Message = {
      key: ev.key,
      value,
      headers: { event_id: ev.id, dataset: ev.dataset },
    };
    const bytes =
      Buffer.byteLength(ev.key) + Buffer.byteLength(value) + Buffer.byteLength(ev.id) + Buffer.byteLength(ev.dataset) + 32;
    return { topic: topicFor(this.cfg.topic, ev.dataset), message, bytes };
  }

  private client(): Pick<Kafka, 'producer' | 'admin'> {
    if (this.kafka) return this.kafka;
    const kconf = kafkaClientConfig(this.cfg, this.deps.log ? (entry) => this.kafkajsLog(entry) : undefined);
    this.kafka = this.deps.createClient ? this.deps.createClient(kconf) : new kafkajs.Kafka(kconf);
    return this.kafka;
  }

  private kafkajsLog(entry: LogEntry): void {
    const log = this.deps.log;
    if (!log) return;
    const level = entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'info';
    // kafkajs logs nothing secret (no passwords, no message values) in log.message
    log(level, `Kafka output "${this.name}": ${entry.log.message}`);
  }

  /** The connected producer, creating and connecting one when there is none. */
  private ensureProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    if (this.connecting) return this.connecting;
    const producer = this.client().producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: cachedDefaultPartitioner,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    const connecting = producer.connect().then(
      () => {
        if (this.connecting === connecting) {
          this.producer = producer;
          this.connecting = undefined;
        } else {
          void producer.disconnect().catch(() => {});
        }
        return producer;
      },
      (err: unknown) => {
        if (this.connecting === connecting) this.connecting = undefined;
        void producer.disconnect().catch(() => {});
        throw err;
      },
    );
    this.connecting = connecting;
    return connecting;
  }

  /** Drops the current producer (disconnecting it in the background); the next send makes a new one. */
  private retireProducer(): void {
    const p = this.producer;
    this.producer = undefined;
    this.connecting = undefined;
    if (p) void p.disconnect().catch(() => {});
  }

  /** Races `work` against request_timeout_ms and `signal`; the loser is abandoned. */
  private async withDeadline<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
    work.catch(() => {}); // an abandoned attempt must not become an unhandled rejection
    if (signal.aborted) throw new OutputError(`kafka output "${this.name}": ${what} aborted`, { retriable: true, cause: signal.reason });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new OutputError(`kafka output "${this.name}": ${what} timed out after ${this.cfg.requestTimeoutMs} ms`, { retriable: true })),
        this.cfg.requestTimeoutMs,
      );
      onAbort = () => reject(new OutputError(`kafka output "${this.name}": ${what} aborted`, { retriable: true, cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, limit]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  private fatal(v: KafkaErrorVerdict, cause: unknown): OutputError {
    return new OutputError(`kafka output "${this.name}": ${v.reason}. Fix: ${v.fix ?? 'check the output configuration'}`, {
      retriable: false,
      fatal: true,
      cause,
    });
  }

  private toOutputError(err: unknown, what: string): OutputError {
    if (err instanceof OutputError) {
      this.retireProducer();
      return err;
    }
    this.retireProducer();
    const v = classifyKafkaError(err);
    if (v.action === 'fatal') return this.fatal(v, err);
    return new OutputError(`kafka output "${this.name}": ${what} failed: ${v.reason}`, {
      retriable: v.action === 'retry',
      cause: err,
    });
  }
}

/**
 * The kafkajs client settings for a validated connection: timeouts, few quick retries (a wrong
 * CA or password must surface in seconds; the delivery layer and the source own the long
 * backoff), TLS and SASL. Used by the kafka output and the kafka source; `log` receives
 * kafkajs's warnings and errors (kafkajs logs no secret and no message value).
 */
export function kafkaClientConfig(cfg: ResolvedKafkaConnection, log: ((entry: LogEntry) => void) | undefined): KafkaConfig {
  const kconf: KafkaConfig = {
    clientId: cfg.clientId,
    brokers: cfg.brokers,
    connectionTimeout: cfg.connectionTimeoutMs,
    authenticationTimeout: Math.min(cfg.requestTimeoutMs, 10_000),
    requestTimeout: cfg.requestTimeoutMs,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 },
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => log?.(entry),
  };
  if (cfg.tls) {
    const ssl: ConnectionOptions = { rejectUnauthorized: cfg.tls.verify };
    if (cfg.tls.ca) ssl.ca = [cfg.tls.ca];
    if (cfg.tls.cert) ssl.cert = cfg.tls.cert;
    if (cfg.tls.key) ssl.key = cfg.tls.key;
    if (cfg.tls.serverName) ssl.servername = cfg.tls.serverName;
    kconf.ssl = ssl;
  }
  if (cfg.sasl) {
    kconf.sasl = { mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password: cfg.sasl.password } as SASLOptions;
  }
  return kconf;
}
