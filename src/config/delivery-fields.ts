/** Config fields shared by every queued output; used by the output registry. */
import type { FieldSpec } from './config-spec.js';

/** Delivery settings every queued output shares (queue, batch, retry, timeout). */
export const deliveryFields: Readonly<Record<string, FieldSpec>> = {
  queue: {
    kind: 'object',
    desc: 'Durable queue of this output in the state file.',
    fields: {
      max_events: { kind: 'int', desc: 'Most events queued for this output before when_full applies.', default: 1_000_000, min: 1 },
      max_bytes: { kind: 'int', desc: 'Most payload bytes queued for this output before when_full applies.', default: 1024 * 1024 * 1024, min: 1024 },
      when_full: {
        kind: 'string',
        desc: 'What a full queue does: block holds the sources (back-pressure, nothing lost); drop_oldest deletes the oldest queued events and counts them as dropped.',
        default: 'block',
        enum: ['block', 'drop_oldest'],
      },
    },
  },
  batch: {
    kind: 'object',
    desc: 'How events are grouped into one request.',
    fields: {
      max_events: { kind: 'int', desc: 'Most events in one request.', default: 500, min: 1 },
      max_bytes: { kind: 'int', desc: 'Most payload bytes in one request.', default: 4 * 1024 * 1024, min: 1024 },
      max_wait_ms: { kind: 'int', desc: 'Longest time a partial batch waits for more events.', default: 1000, min: 0 },
      max_in_flight: { kind: 'int', desc: 'Most concurrent requests (capped by the output when it promises ordering).', default: 2, min: 1, max: 64 },
    },
  },
  retry: {
    kind: 'object',
    desc: 'Retry of failed deliveries: exponential backoff with full jitter, honouring Retry-After.',
    fields: {
      initial_backoff_ms: { kind: 'int', desc: 'First backoff.', default: 1000, min: 1 },
      max_backoff_ms: { kind: 'int', desc: 'Backoff cap.', default: 30_000, min: 1 },
      max_attempts: { kind: 'int', desc: 'Attempts before an event is dead-lettered; 0 retries forever.', default: 0, min: 0 },
    },
  },
  request_timeout_ms: { kind: 'int', desc: 'Timeout of one send, enforced by lkrg-siem.', default: 30_000, min: 100 },
};

