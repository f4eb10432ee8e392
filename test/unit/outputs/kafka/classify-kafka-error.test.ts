import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { classifyKafkaError, KAFKA_ERROR_TABLE } from '../../../../outputs/kafka/classify-kafka-error.js';

const { KafkaJSProtocolError, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } = kafkajs;
// the hand-written kafkajs types omit some constructor parameters and classes
type ErrorClass = new (message?: unknown, opts?: unknown) => Error;
const untyped = kafkajs as unknown as Record<string, ErrorClass>;
const KafkaJSNonRetriableError = untyped.KafkaJSNonRetriableError!;
const KafkaJSSASLAuthenticationError = untyped.KafkaJSSASLAuthenticationError!;

function protocol(type: string, code: number, retriable: boolean): Error {
  return new KafkaJSProtocolError({ type, code, retriable, message: `broker said ${type}` } as never);
}

describe('classifyKafkaError', () => {
  it.each([
    ['NOT_LEADER_FOR_PARTITION', 6, true, 'retry'],
    ['LEADER_NOT_AVAILABLE', 5, true, 'retry'],
    ['REQUEST_TIMED_OUT', 7, true, 'retry'],
    ['NOT_ENOUGH_REPLICAS', 19, true, 'retry'],
    ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 20, true, 'retry'],
    ['BROKER_NOT_AVAILABLE', 8, false, 'retry'],
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false, 'retry'],
    ['UNKNOWN_PRODUCER_ID', 59, false, 'retry'],
    ['MESSAGE_TOO_LARGE', 10, false, 'reject'],
    ['RECORD_LIST_TOO_LARGE', 18, false, 'reject'],
    ['INVALID_RECORD', 87, false, 'reject'],
    ['TOPIC_AUTHORIZATION_FAILED', 29, false, 'fatal'],
    ['SASL_AUTHENTICATION_FAILED', 58, false, 'fatal'],
    ['UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'fatal'],
    ['INVALID_TOPIC_EXCEPTION', 17, false, 'fatal'],
  ])('%s -> %s', (type, code, retriable, action) => {
    const v = classifyKafkaError(protocol(type, code, retriable));
    expect(v.action).toBe(action);
    expect(v.reason).toContain(type);
    if (action === 'fatal') expect(v.fix).toBeTruthy();
  });

  it('looks through kafkajs retry wrappers to the protocol error', () => {
    const inner = protocol('TOPIC_AUTHORIZATION_FAILED', 29, false);
    const wrapped = new KafkaJSNonRetriableError(inner, { cause: inner });
    expect(classifyKafkaError(wrapped).action).toBe('fatal');
    const exhausted = new KafkaJSNumberOfRetriesExceeded(protocol('NOT_LEADER_FOR_PARTITION', 6, true), { retryCount: 3, retryTime: 100 } as never);
    expect(classifyKafkaError(exhausted).action).toBe('retry');
  });

  it('falls back to the retriable flag for protocol errors not in the table', () => {
    expect(KAFKA_ERROR_TABLE.SOME_FUTURE_ERROR).toBeUndefined();
    expect(classifyKafkaError(protocol('SOME_FUTURE_ERROR', 999, true)).action).toBe('retry');
    expect(classifyKafkaError(protocol('SOME_FUTURE_ERROR', 999, false)).action).toBe('reject');
  });

  it('treats SASL authentication failures as fatal', () => {
    const v = classifyKafkaError(new KafkaJSSASLAuthenticationError('SASL SCRAM SHA256 authentication failed: invalid credentials'));
    expect(v.action).toBe('fatal');
    expect(v.fix).toMatch(/password/);
  });

  it.each(['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID'])(
    'treats TLS trust error %s as fatal, also inside a retries-exceeded wrapper',
    (code) => {
      const conn = new KafkaJSConnectionError('Connection error: certificate problem', { broker: '127.0.0.1:9093', code } as never);
      expect(classifyKafkaError(conn).action).toBe('fatal');
      const wrapped = new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 2, retryTime: 100 } as never);
      const v = classifyKafkaError(wrapped);
      expect(v.action).toBe('fatal');
      expect(v.reason).toContain(code);
      expect(v.fix).toMatch(code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? /server_name/ : /ca_file/);
    },
  );

  it('retries connection failures, timeouts and plain network errors', () => {
    expect(classifyKafkaError(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' } as never)).action).toBe('retry');
    expect(classifyKafkaError(new untyped.KafkaJSRequestTimeoutError!('Request Produce(key: 0, version: 7) timed out'))).toMatchObject({ action: 'retry' });
    expect(classifyKafkaError(new untyped.KafkaJSNoBrokerAvailableError!())).toMatchObject({ action: 'retry' });
    expect(classifyKafkaError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).action).toBe('retry');
    expect(classifyKafkaError('weird').action).toBe('retry');
  });

  it('refuses brokers that do not speak the API versions kafkajs needs', () => {
    expect(classifyKafkaError(new untyped.KafkaJSServerDoesNotSupportApiKey!('The Kafka server does not support the requested API version')).action).toBe('fatal');
  });
});
