/**
 * The caches of the ECS/CEF hot path (shared host and log.* parts, cached JSON fragments,
 * the per-second timestamp parse of CEF rt) must not change any output.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ecsToJson } from '../../../src/normalize/ecs-json.js';
import { toCef } from '../../../src/normalize/cef-encoder.js';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { makeEvent } from './sample-events.js';

const n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'c1', version: '0.1.0' } });

function killEvent(i: number, host: { ip?: string; name?: string; bootId?: string; id?: string }, prio: { facility?: number; severity?: number }, timeUs: number | null) {
  return makeEvent({
    text: `LKRG: ALERT: BLOCK: Task: Killing pid ${i}, name x${i}`,
    templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task',
    fields: { pid: String(i), process_name: `x${i}` },
    record: { host, seq: i, timeUs, ...prio },
  });
}

describe('hot-path caches', () => {
  it('documents of equal and different hosts and priorities serialize as JSON.stringify does, in any order', () => {
    const hosts = [{ ip: '10.0.0.1', bootId: 'b1' }, { ip: '10.0.0.1', bootId: 'b2' }, { name: 'h"1', id: 'm\u0000' }, {}, { ip: '10.0.0.2' }];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(hosts.length - 1), fc.option(fc.nat(30)), fc.option(fc.nat(9)), fc.boolean()), { minLength: 1, maxLength: 40 }),
        (spec) => {
          spec.forEach(([h, fac, sev, copyHost], i) => {
            // sometimes the same HostIdentity object, sometimes an equal copy
            const host = copyHost ? { ...hosts[h]! } : hosts[h]!;
            const prio: { facility?: number; severity?: number } = {};
            if (fac !== null) prio.facility = fac;
            if (sev !== null) prio.severity = sev;
            const d = n.toEcs(killEvent(i, host, prio, 1_728_000_000_000_000 + i * 777_777));
            expect(ecsToJson(d)).toBe(JSON.stringify(d));
            expect(d.host).toEqual(JSON.parse(JSON.stringify(d.host)));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('ecsToJson leaves out what JSON.stringify leaves out and keeps arrays aligned', () => {
    const doc = { a: undefined, b: () => 1, c: [undefined, () => 1, Symbol('s'), 1], d: Object.freeze({ x: undefined, y: '\ud800"\\' }), e: -0, f: NaN, g: { toJSON: () => 'j' }, h: null } as unknown as Record<string, unknown>;
    expect(ecsToJson(doc)).toBe(JSON.stringify(doc));
    expect(ecsToJson(doc)).toBe(JSON.stringify(doc)); // second time from the cached fragment
  });

  it('CEF rt is Date.parse of @timestamp, whatever the stamp', () => {
    const base = n.toEcs(killEvent(1, { ip: '10.0.0.1' }, {}, 1_728_000_000_000_000));
    const stamps = [
      '2024-10-04T00:00:05.433519Z', '2024-10-04T00:00:05.999999Z', '2024-10-04T00:00:06.000001Z', '1969-12-31T23:59:59.999999Z',
      '0001-01-01T00:00:00.500000Z', '2024-10-04T00:00:60.000000Z', '2024-13-04T00:00:05.433519Z', '2024-10-04T00:00:05.4335x9Z',
      '2024-10-04 00:00:05.433519Z', '2024-10-04T00:00:05.433Z', '+010000-01-01T00:00:00.000000Z', 'not a time at all, 27 chars',
    ];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...stamps), fc.integer({ min: -5e16, max: 5e17 }).map((us) => new Date(Math.floor(us / 1000)).toISOString().replace('Z', '123Z'))), { maxLength: 20 }), (list) => {
        for (const ts of list) {
          const cef = toCef({ ...base, '@timestamp': ts });
          const ms = Date.parse(ts);
          const rt = /\|rt=(-?\d+)(?: |$)/.exec(cef)?.[1];
          expect(rt).toBe(Number.isFinite(ms) ? String(Math.trunc(ms)) : undefined);
        }
      }),
      { numRuns: 200 },
    );
  });
});
