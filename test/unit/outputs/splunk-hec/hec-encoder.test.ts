import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QueuedEvent } from '../../../../src/core/output.js';
import {
  cimFields,
  encodeHecEvent,
  flatFieldValue,
  hecBody,
  hecEnvelope,
  hecTime,
  type HecEncoderOptions,
} from '../../../../outputs/splunk-hec/hec-encoder.js';
import { DEFAULT_INDEXED_FIELDS } from '../../../../outputs/splunk-hec/splunk-hec-spec.js';
import { HOSTILE_TEXTS, makeEvents } from '../../../integration/splunk-hec/hec-fixtures.js';

const ECS: HecEncoderOptions = {
  eventFormat: 'ecs',
  sourcetype: 'lkrg:ecs:{dataset_kind}',
  source: 'lkrg-siem',
  indexedFields: DEFAULT_INDEXED_FIELDS,
};
const CIM: HecEncoderOptions = { ...ECS, eventFormat: 'cim', sourcetype: 'lkrg:cim:{dataset_kind}', index: 'lkrg' };

describe('hecTime', () => {
  it('gives epoch seconds with milliseconds from an ISO timestamp with microseconds', () => {
    expect(hecTime('2025-05-17T08:30:00.123456Z')).toBe(1747470600.123);
    expect(JSON.stringify({ t: hecTime('2025-05-17T08:30:00.120Z') })).toBe('{"t":1747470600.12}');
    expect(hecTime('2025-05-17T08:30:00Z')).toBe(1747470600);
    expect(hecTime('not a time')).toBeUndefined();
    expect(hecTime(undefined)).toBeUndefined();
  });
});

describe('flatFieldValue', () => {
  it('keeps strings, stringifies scalars, turns scalar lists into string lists, drops objects', () => {
    expect(flatFieldValue('a')).toBe('a');
    expect(flatFieldValue(5)).toBe('5');
    expect(flatFieldValue(false)).toBe('false');
    expect(flatFieldValue(['10.0.0.1'])).toBe('10.0.0.1');
    expect(flatFieldValue(['a', 2])).toEqual(['a', '2']);
    expect(flatFieldValue({ a: 1 })).toBeUndefined();
    expect(flatFieldValue([{ a: 1 }])).toBeUndefined();
    expect(flatFieldValue([['x']])).toBeUndefined();
    expect(flatFieldValue([])).toBeUndefined();
    expect(flatFieldValue(null)).toBeUndefined();
    expect(flatFieldValue(Number.NaN)).toBeUndefined();
  });
});

describe('hecEnvelope', () => {
  const [alert, log, ipOnly] = makeEvents(3, 'enc');

  it('builds time, host, source, sourcetype, flat fields and the unchanged ECS event (ecs format)', () => {
    const env = hecEnvelope(alert!, ECS);
    expect(env.time).toBe(hecTime(alert!.doc['@timestamp']));
    expect(env.host).toBe('web-01');
    expect(env.source).toBe('lkrg-siem');
    expect(env.sourcetype).toBe('lkrg:ecs:alert');
    expect(env.index).toBeUndefined();
    expect(env.event).toEqual(alert!.doc);
    expect(env.fields).toEqual({
      'event.dataset': 'lkrg.alert',
      'event.action': 'lkrg-pcfi-violation',
      'event.id': 'enc-0',
      'lkrg.level': 'ALERT',
      'host.name': 'web-01',
      'host.ip': '10.0.0.11',
      'rule.id': 'lkrg-0012',
    });
    for (const v of Object.values(env.fields!)) expect(typeof v === 'string' || Array.isArray(v)).toBe(true);
    expect(hecEnvelope(log!, ECS).sourcetype).toBe('lkrg:ecs:log');
  });

  it('falls back to host.ip, then the queue key, for host', () => {
    expect(hecEnvelope(ipOnly!, ECS).host).toBe('192.0.2.33');
    const bare: QueuedEvent = { ...ipOnly!, doc: { '@timestamp': '2025-01-01T00:00:00Z' }, key: '203.0.113.9' };
    expect(hecEnvelope(bare, ECS).host).toBe('203.0.113.9');
    expect(hecEnvelope(bare, ECS).fields).toBeUndefined();
  });

  it('adds CIM keys beside the ECS document without replacing any ECS key (cim format)', () => {
    const env = hecEnvelope(alert!, CIM);
    expect(env.index).toBe('lkrg');
    expect(env.sourcetype).toBe('lkrg:cim:alert');
    const ev = env.event;
    for (const [k, v] of Object.entries(alert!.doc)) expect(ev[k]).toEqual(v);
    expect(ev).toMatchObject({
      vendor_product: 'Openwall LKRG',
      dvc: 'web-01',
      dest: 'web-01',
      signature: 'LKRG pCFI violation',
      signature_id: 'lkrg-0012',
      category: 'pCFI',
      action: 'allowed', // DETECT
      severity: 'high',
      type: 'alert',
      ids_type: 'host',
      mitre_technique_id: 'T1014',
      process_id: '1000',
      user_name: 'user"0',
    });
    expect(cimFields(log!.doc, 'lkrg.log')).not.toHaveProperty('ids_type');
    expect(cimFields({ ...alert!.doc, lkrg: { action: 'BLOCK' } }, 'lkrg.alert').action).toBe('blocked');
    // a document that already has a top-level "action" keeps it
    const own: QueuedEvent = { ...alert!, doc: { ...alert!.doc, action: 'ecs-owned' } };
    expect(hecEnvelope(own, CIM).event.action).toBe('ecs-owned');
  });
});

describe('hecBody', () => {
  it('keeps hostile text inside string values: one line per event, each parses back to its document', () => {
    const events = makeEvents(HOSTILE_TEXTS.length * 2, 'hostile');
    const body = hecBody(events.map((e) => encodeHecEvent(e, CIM)));
    const lines = body.split('\n');
    expect(lines).toHaveLength(events.length);
    lines.forEach((line, i) => {
      const parsed = JSON.parse(line) as { event: Record<string, unknown> };
      expect((parsed.event.process as { name: string }).name).toBe(HOSTILE_TEXTS[i % HOSTILE_TEXTS.length]);
      expect(parsed.event.message).toBe(events[i]!.doc.message);
    });
  });

  it('property: any process name round-trips and never adds an event', () => {
    const [base] = makeEvents(1, 'prop');
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { minLength: 1, maxLength: 5 }), (names) => {
        const evs = names.map((name, i): QueuedEvent => {
          const doc = { ...base!.doc, process: { name }, event: { id: `p-${i}`, dataset: 'lkrg.log' } };
          return { ...base!, id: `p-${i}`, doc, json: JSON.stringify(doc) };
        });
        const lines = hecBody(evs.map((e) => encodeHecEvent(e, ECS))).split('\n');
        expect(lines).toHaveLength(names.length);
        lines.forEach((l, i) => expect((JSON.parse(l) as { event: { process: { name: string } } }).event.process.name).toBe(names[i]));
      }),
      { numRuns: 50 },
    );
  });
});
