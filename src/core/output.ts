/**
 * The contract between the shared delivery layer (queue, batching, retry, dead letters,
 * metrics) and one output driver (Kafka, Elasticsearch, ...). A driver only encodes a
 * batch, sends it and classifies the answer per event, like an OpenTelemetry Collector
 * exporter's push function. It never sleeps, retries, queues or drops on its own.
 */
import type { DeliveryResult } from './types.js';

/** A flat ECS document: the canonical normalized form every encoder starts from. */
export type EcsDocument = Record<string, unknown>;

/**
 * One event as the delivery layer hands it to a driver. `json` is the ECS document already
 * serialized (what the queue stored), so drivers that send ECS JSON do not serialize again.
 */
export interface QueuedEvent {
  /** Deterministic event id (ECS event.id): Elasticsearch _id, Kafka header, dedup key. */
  readonly id: string;
  /** The ECS document (parsed from `json`; do not mutate). */
  readonly doc: EcsDocument;
  /** The ECS document as stored in the queue (compact JSON). */
  readonly json: string;
  /** Host identity (host.ip or host.name): the Kafka key, so one host stays in order. */
  readonly key: string;
  /** event.dataset: `lkrg.alert` for ALERT events, `lkrg.log` for everything else. */
  readonly dataset: string;
  /**
   * data_stream.namespace of the document when the queue recorded it (every event the pipeline
   * queues); undefined for rows queued without it, whose namespace is read from `json`.
   */
  readonly namespace?: string;
}

/**
 * Thrown by a driver when a whole request failed (no per-event answer). The delivery layer
 * retries the whole batch when `retriable` is true (after `retryAfterMs` when given), and
 * dead-letters it otherwise. `fatal` marks a configuration problem the server reported
 * (invalid token, unknown index, TLS trust failure, bad password): the output is halted and
 * reported loudly in logs and `status`; its queue is kept for the next start.
 */
export class OutputError extends Error {
  readonly retriable: boolean;
  readonly retryAfterMs?: number;
  readonly fatal: boolean;
  constructor(
    message: string,
    opts: { retriable: boolean; retryAfterMs?: number; fatal?: boolean; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OutputError';
    this.retriable = opts.retriable;
    this.retryAfterMs = opts.retryAfterMs;
    this.fatal = opts.fatal ?? false;
  }
}

/**
 * An output driver instance, created from its config section by the output registry.
 * Called only by the delivery layer:
 * - `start` once before the first send (connect, check credentials, install templates);
 *   throw OutputError{fatal:true} for configuration problems, a retriable error otherwise.
 * - `send` with batches of at most the configured size; several sends may be in flight
 *   unless `maxInFlight` says otherwise. Must return exactly one result per event, in order.
 *   Must honour `signal` (the per-request timeout and shutdown).
 * - `close` once at shutdown; safe to call without `start`.
 */
export interface OutputDriver {
  readonly name: string;
  readonly type: string;
  /** Largest number of concurrent sends this driver supports while keeping its ordering promise. */
  readonly maxInFlight?: number;
  start(signal: AbortSignal): Promise<void>;
  send(batch: readonly QueuedEvent[], signal: AbortSignal): Promise<DeliveryResult[]>;
  /** Optional liveness probe used by `lkrg-siem status` and after a fatal error. */
  healthcheck?(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
