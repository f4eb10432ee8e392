import { describe, expect, it } from 'vitest';
import { classifyHecResponse, parseRetryAfter } from '../../../../outputs/splunk-hec/classify-hec-response.js';

const body = (code: number, text: string, extra: Record<string, unknown> = {}) => JSON.stringify({ text, code, ...extra });

describe('classifyHecResponse: the Splunk HEC status code table', () => {
  const table: [status: number, code: number, text: string, kind: string][] = [
    [200, 0, 'Success', 'ok'],
    [403, 1, 'Token disabled', 'fatal'],
    [401, 2, 'Token is required', 'fatal'],
    [401, 3, 'Invalid authorization', 'fatal'],
    [403, 4, 'Invalid token', 'fatal'],
    [400, 5, 'No data', 'invalid'],
    [400, 6, 'Invalid data format', 'invalid'],
    [400, 7, 'Incorrect index', 'fatal'],
    [500, 8, 'Internal server error', 'retry'],
    [503, 9, 'Server is busy', 'retry'],
    [400, 10, 'Data channel is missing', 'fatal'],
    [400, 11, 'Invalid data channel', 'fatal'],
    [400, 12, 'Event field is required', 'invalid'],
    [400, 13, 'Event field cannot be blank', 'invalid'],
    [400, 14, 'ACK is disabled', 'fatal'],
    [400, 15, 'Error in handling indexed fields', 'invalid'],
    [400, 16, 'Query string authorization is not enabled', 'fatal'],
    [200, 17, 'HEC is healthy', 'ok'],
    [503, 18, 'HEC is unhealthy, queues are full', 'retry'],
    [503, 19, 'HEC is unhealthy, ack service unavailable', 'retry'],
    [503, 20, 'HEC is unhealthy, queues are full, ack service unavailable', 'retry'],
    [400, 21, 'Invalid token', 'fatal'],
    [400, 22, 'Token disabled', 'fatal'],
  ];
  it.each(table)('HTTP %i code %i (%s) → %s', (status, code, text, kind) => {
    const v = classifyHecResponse(status, body(code, text));
    expect(v.kind).toBe(kind);
    if (v.kind !== 'ok') expect(v.reason).toContain(`code ${code}`);
  });

  it('passes the ackId of a success through', () => {
    expect(classifyHecResponse(200, '{"text": "Success", "code": 0, "ackId": 42}')).toEqual({ kind: 'ok', ackId: 42 });
  });

  it('honours Retry-After on busy answers (seconds and HTTP dates)', () => {
    expect(classifyHecResponse(503, body(9, 'Server is busy'), '7')).toMatchObject({ kind: 'retry', retryAfterMs: 7000 });
    const now = Date.now();
    const at = new Date(now + 5000).toUTCString();
    const ms = parseRetryAfter(at, now)!;
    expect(ms).toBeGreaterThan(3000);
    expect(ms).toBeLessThanOrEqual(5000);
    expect(parseRetryAfter('garbage')).toBeUndefined();
    expect(parseRetryAfter('999999')).toBe(3_600_000);
  });

  it('keeps invalid-event-number for the bisect', () => {
    expect(classifyHecResponse(400, body(15, 'Error in handling indexed fields', { 'invalid-event-number': 3 }))).toMatchObject({
      kind: 'invalid',
      invalidEventNumber: 3,
    });
  });

  it('classifies plain-text and codeless answers by HTTP status', () => {
    expect(classifyHecResponse(401, 'Unauthorized').kind).toBe('fatal'); // OTel bearertokenauth: plain text
    expect(classifyHecResponse(403, '').kind).toBe('fatal');
    expect(classifyHecResponse(500, '"Internal Server Error"').kind).toBe('retry');
    expect(classifyHecResponse(502, '<html>bad gateway</html>').kind).toBe('retry');
    expect(classifyHecResponse(504, '').kind).toBe('retry');
    expect(classifyHecResponse(429, '').kind).toBe('retry');
    expect(classifyHecResponse(413, 'too large').kind).toBe('invalid');
    expect(classifyHecResponse(400, '"Failed to unmarshal message body"').kind).toBe('invalid');
    expect(classifyHecResponse(404, 'not found').kind).toBe('fatal');
    expect(classifyHecResponse(415, '"\\"Content-Encoding\\" must be \\"gzip\\" or empty"').kind).toBe('fatal');
    expect(classifyHecResponse(200, '').kind).toBe('ok');
  });
});
