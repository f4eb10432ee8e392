/** The time bounds of output filters and `replay --since/--until`. */
import { describe, expect, it } from 'vitest';
import { EventFilter, parseTimeBound } from '../../../src/pipeline/event-filter.js';
import { ConfigError, type LkrgEvent } from '../../../src/core/types.js';
import type { EventNormalizer } from '../../../src/pipeline/pipeline.js';

const us = (iso: string): number => Date.parse(iso) * 1000;

describe('time bounds', () => {
  it('read dates as midnight UTC, times without a zone as UTC, zones and fractions as given', () => {
    expect(parseTimeBound('k', '2026-11-01')).toBe(us('2026-11-01T00:00:00Z'));
    expect(parseTimeBound('k', '2026-11-01T08:30')).toBe(us('2026-11-01T08:30:00Z'));
    expect(parseTimeBound('k', '2026-11-01 08:30:15')).toBe(us('2026-11-01T08:30:15Z'));
    expect(parseTimeBound('k', '2026-11-01T08:30:15+02:00')).toBe(us('2026-11-01T06:30:15Z'));
    expect(parseTimeBound('k', '2026-11-01T08:30:15.123456Z')).toBe(us('2026-11-01T08:30:15.123Z') + 456);
    for (const bad of ['yesterday', '2026-13-01', '2026-11-01T25:00', '1 Nov 2026', '']) {
      expect(() => parseTimeBound('filter.since', bad), bad).toThrow(ConfigError);
    }
    expect(() => parseTimeBound('filter.since', 'now')).toThrow('filter.since: "now" is not valid: an RFC 3339 time');
  });

  it('an event passes when its own time is in [since, until); an event without a wall time passes', () => {
    const f = EventFilter.fromConfig({ since: '2026-11-01', until: '2026-11-02' })!;
    const n = { datasetOf: () => 'lkrg.alert', severityOf: () => 9 } as unknown as EventNormalizer;
    const ev = (timeUs: number | null, receivedUs?: number): LkrgEvent =>
      ({ record: { timeUs, ...(receivedUs !== undefined ? { receivedUs } : {}), host: {} }, parsed: { isLkrg: true }, forged: false }) as unknown as LkrgEvent;
    expect(f.passes(ev(us('2026-11-01T00:00:00Z')), n)).toBe(true);
    expect(f.passes(ev(us('2026-11-01T23:59:59.999Z')), n)).toBe(true);
    expect(f.passes(ev(us('2026-11-02T00:00:00Z')), n)).toBe(false);
    expect(f.passes(ev(us('2026-10-31T23:59:59Z')), n)).toBe(false);
    expect(f.passes(ev(null, us('2026-11-01T12:00:00Z')), n)).toBe(true);
    expect(f.passes(ev(null, us('2026-11-03T12:00:00Z')), n)).toBe(false);
    expect(f.passes(ev(null), n)).toBe(true);
    expect(() => EventFilter.fromConfig({ since: '2026-11-02', until: '2026-11-02' }, 'outputs[0].filter')).toThrow('outputs[0].filter.until: "2026-11-02" is not valid: must be later than since');
  });
});
