/**
 * What the kafka output does with an error kafkajs threw from connect() or sendBatch().
 * A data table keyed by Kafka error type (the protocol error name kafkajs reports in
 * `error.type`), in the spirit of kafkajs's own `src/protocol/error.js`, plus rules for
 * kafkajs's client-side errors (connection, TLS, SASL, timeouts).
 *
 * Called only by the kafka output driver. Verdicts:
 * - `retry`:  transient; the delivery layer re-sends the batch later (duplicates possible).
 * - `reject`: the broker refused the records themselves (too large, invalid); the driver
 *             narrows it down to single events and rejects only those.
 * - `fatal`:  a configuration problem (credentials, trust, authorization, missing topic);
 *             the output is halted with a message naming the fix.
 */

export type KafkaErrorAction = 'retry' | 'reject' | 'fatal';

export interface KafkaErrorVerdict {
  readonly action: KafkaErrorAction;
  /** Short description for logs and DeliveryResult reasons (no secrets). */
  readonly reason: string;
  /** For `fatal`: what the operator should change. */
  readonly fix?: string;
}

interface Row {
  readonly action: KafkaErrorAction;
  readonly fix?: string;
}

/** Kafka protocol errors by type. Types not listed fall back to kafkajs's `retriable` flag. */
export const KAFKA_ERROR_TABLE: Readonly<Record<string, Row>> = {
  // leadership moves, broker restarts, slow or overloaded brokers: try again later
  LEADER_NOT_AVAILABLE: { action: 'retry' },
  NOT_LEADER_FOR_PARTITION: { action: 'retry' },
  NOT_LEADER_OR_FOLLOWER: { action: 'retry' },
  REQUEST_TIMED_OUT: { action: 'retry' },
  BROKER_NOT_AVAILABLE: { action: 'retry' },
  REPLICA_NOT_AVAILABLE: { action: 'retry' },
  NETWORK_EXCEPTION: { action: 'retry' },
  NOT_ENOUGH_REPLICAS: { action: 'retry' },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { action: 'retry' },
  NOT_CONTROLLER: { action: 'retry' },
  KAFKA_STORAGE_ERROR: { action: 'retry' },
  FENCED_LEADER_EPOCH: { action: 'retry' },
  UNKNOWN_LEADER_EPOCH: { action: 'retry' },
  LISTENER_NOT_FOUND: { action: 'retry' },
  PREFERRED_LEADER_NOT_AVAILABLE: { action: 'retry' },
  ELIGIBLE_LEADERS_NOT_AVAILABLE: { action: 'retry' },
  THROTTLING_QUOTA_EXCEEDED: { action: 'retry' },
  CONCURRENT_TRANSACTIONS: { action: 'retry' },
  // a CRC mismatch is most likely corruption in transit: send again
  CORRUPT_MESSAGE: { action: 'retry' },
  // idempotent-producer state lost or out of step (e.g. after a timed-out request that the
  // broker did append): start a new producer id and re-send; duplicates are possible
  OUT_OF_ORDER_SEQUENCE_NUMBER: { action: 'retry' },
  DUPLICATE_SEQUENCE_NUMBER: { action: 'retry' },
  UNKNOWN_PRODUCER_ID: { action: 'retry' },
  INVALID_PRODUCER_EPOCH: { action: 'retry' },
  INVALID_PRODUCER_ID_MAPPING: { action: 'retry' },
  // the records themselves are refused
  MESSAGE_TOO_LARGE: { action: 'reject' },
  RECORD_LIST_TOO_LARGE: { action: 'reject' },
  INVALID_RECORD: { action: 'reject' },
  INVALID_TIMESTAMP: { action: 'reject' },
  UNSUPPORTED_FOR_MESSAGE_FORMAT: { action: 'reject' },
  // configuration problems: halt the output and tell the operator
  TOPIC_AUTHORIZATION_FAILED: {
    action: 'fatal',
    fix: 'grant the SASL user WRITE (and DESCRIBE) on the topic, or change the topic',
  },
  CLUSTER_AUTHORIZATION_FAILED: {
    action: 'fatal',
    fix: 'grant the SASL user IDEMPOTENT_WRITE on the cluster (needed by the idempotent producer on brokers before 2.8)',
  },
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: { action: 'fatal', fix: 'grant the SASL user the transactional id ACLs' },
  SASL_AUTHENTICATION_FAILED: { action: 'fatal', fix: 'check sasl.username, sasl.mechanism and the password (sasl.password_env / sasl.password_file)' },
  UNSUPPORTED_SASL_MECHANISM: { action: 'fatal', fix: 'choose a sasl.mechanism the broker listener enables (sasl.enabled.mechanisms)' },
  ILLEGAL_SASL_STATE: { action: 'fatal', fix: 'check that the broker port is a SASL listener matching tls.enabled' },
  SECURITY_DISABLED: { action: 'fatal', fix: 'remove the sasl section or point brokers at a SASL listener' },
  UNKNOWN_TOPIC_OR_PARTITION: {
    action: 'fatal',
    fix: 'create the topic (kafka-topics --create) or enable auto.create.topics.enable on the brokers',
  },
  INVALID_TOPIC_EXCEPTION: { action: 'fatal', fix: 'change topic to a legal name ([A-Za-z0-9._-], not "." or "..")' },
  POLICY_VIOLATION: { action: 'fatal', fix: 'create the topic yourself: the broker policy refused automatic creation' },
  INVALID_REQUIRED_ACKS: { action: 'fatal', fix: 'the broker refused acks=-1; check min.insync.replicas and the broker version' },
  UNSUPPORTED_VERSION: { action: 'fatal', fix: 'use a broker version kafkajs 2.2.4 supports (0.11 to 4.x)' },
  UNSUPPORTED_COMPRESSION_TYPE: { action: 'fatal', fix: 'set compression to none or one the topic accepts' },
};

/** Node/OpenSSL error codes that mean the broker's certificate is not trusted or does not match. */
export const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** kafkajs client-side errors by class name that are transient. */
const TRANSIENT_NAMES: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  type?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
}

/** The chain err, err.cause, ... (kafkajs wraps the root cause in retry errors). */
function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e: unknown = err;
  while (e !== null && typeof e === 'object' && out.length < 8 && !out.includes(e as ErrorLike)) {
    out.push(e as ErrorLike);
    e = (e as ErrorLike).cause;
  }
  return out;
}

function describe(e: ErrorLike): string {
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const type = typeof e.type === 'string' ? ` ${e.type}` : '';
  const msg = typeof e.message === 'string' ? e.message : String(e);
  return `${name}${type}: ${msg}`;
}

/** Classifies one kafkajs (or Node) error. Never throws. */
export function classifyKafkaError(err: unknown): KafkaErrorVerdict {
  const errors = chain(err);
  if (errors.length === 0) return { action: 'retry', reason: String(err) };

  // 1. a Kafka protocol error anywhere in the chain decides, through the table
  for (const e of errors) {
    if (typeof e.type === 'string' && e.type !== 'UNKNOWN') {
      const row = KAFKA_ERROR_TABLE[e.type];
      const reason = describe(e);
      if (row) return { action: row.action, reason, fix: row.fix };
      return { action: e.retriable === false ? 'reject' : 'retry', reason };
    }
  }
  // 2. authentication
  for (const e of errors) {
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      return {
        action: 'fatal',
        reason: describe(e),
        fix: KAFKA_ERROR_TABLE.SASL_AUTHENTICATION_FAILED!.fix,
      };
    }
  }
  // 3. TLS trust / handshake failures (kafkajs copies the socket error code onto its error)
  for (const e of errors) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (TLS_TRUST_CODES.has(code)) {
      return {
        action: 'fatal',
        reason: `TLS: ${describe(e)} (${code})`,
        fix: code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? 'connect with the host name in the broker certificate or set tls.server_name'
          : 'set tls.ca_file to the CA that signed the broker certificate (or fix the broker certificate)',
      };
    }
    if (code.startsWith('ERR_SSL_') || (typeof e.message === 'string' && /wrong version number|ssl3_get_record|packet length too long/i.test(e.message))) {
      return {
        action: 'fatal',
        reason: `TLS handshake failed: ${describe(e)}`,
        fix: 'check that tls.enabled matches the broker listener (SSL/SASL_SSL vs PLAINTEXT/SASL_PLAINTEXT)',
      };
    }
  }
  for (const e of errors) {
    if (e.name === 'KafkaJSServerDoesNotSupportApiKey' || e.name === 'KafkaJSUnsupportedMagicByteInMessageSet') {
      return { action: 'fatal', reason: describe(e), fix: 'use a broker version kafkajs 2.2.4 supports (0.11 to 4.x)' };
    }
  }
  // 4. everything transient: connections, timeouts, metadata, retries exhausted on those
  for (const e of errors) {
    if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) {
      return { action: 'retry', reason: describe(errors[errors.length - 1]!) };
    }
  }
  // 5. fall back to the retriable flag of the innermost error that has one
  const root = errors[errors.length - 1]!;
  const flagged = [...errors].reverse().find((e) => typeof e.retriable === 'boolean');
  const retriable = flagged ? flagged.retriable === true : true;
  return { action: retriable ? 'retry' : 'reject', reason: describe(root) };
}
