/**
 * toEcsJson (the direct ECS JSON writer, src/normalize/ecs-json-writer.ts) must give exactly
 * JSON.stringify(toEcs(ev)) for every event: the golden fixtures, the sample corpus (as
 * expected-parse rows and as read by the real sources), hostile values and host identities,
 * keepOriginal and namespace variants, and mapping plans whose rows write into odd places.
 * severityOf and datasetOf (read by output filters) must give the document's values.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sourcesFromPaths } from '../../../src/app/source-factory.js';
import type { HostIdentity, LkrgEvent, LkrgLevel } from '../../../src/core/types.js';
import { EventAssembler } from '../../../src/parse/event-assembler.js';
import type { FieldRow, TemplatePlan } from '../../../src/normalize/mapping-loader.js';
import { Normalizer, defaultMappings, type NormalizerOptions } from '../../../src/normalize/normalizer.js';
import { GOLDEN_DIR, goldenCases, goldenEvents } from './golden-events.js';
import { SHARED_SAMPLES, eventFromRow, makeEvent, readExpectedRows, type EventSpec } from './sample-events.js';

const AGENT = { type: 'lkrg-siem', name: 'collector-1', version: '0.1.0', id: 'c0ffee00-0000-4000-8000-000000000001' };
const VARIANTS: NormalizerOptions[] = [
  { agent: AGENT },
  { agent: AGENT, keepOriginal: false },
  { agent: { type: 'lkrg-siem', name: 'c"2\\\u2028', ephemeralId: 'e1' }, namespace: 'prod' },
  { agent: { type: 'lkrg-siem' }, namespace: 'ns"\u0000\ud800', keepOriginal: false },
  // configured tags (one the mappings give too) and labels (one clashing with a container field's label)
  { agent: AGENT, tags: ['site-fra1', 'lkrg', 'x"\u2028'], labels: { env: 'prod"\n\\', field: 'configured', callerid: 'c' } },
];
const normalizers = VARIANTS.map((o) => new Normalizer(o));

/** `accessors`: also compare severityOf/datasetOf (not for plans whose rows overwrite event.*). */
function same(n: Normalizer, ev: LkrgEvent, accessors = true): void {
  let expected: string;
  let doc: { event: { severity: number; dataset: string } };
  try {
    doc = n.toEcs(ev) as unknown as typeof doc;
    expected = JSON.stringify(doc);
  } catch (e) {
    expect(() => n.toEcsJson(ev)).toThrow((e as Error).constructor as new () => Error);
    return;
  }
  expect(n.toEcsJson(ev)).toBe(expected);
  if (!accessors) return;
  // what output filters read without the document
  expect(n.severityOf(ev)).toBe(doc.event.severity);
  expect(n.datasetOf(ev)).toBe(doc.event.dataset);
}

function sameAll(events: readonly LkrgEvent[]): void {
  for (const n of normalizers) {
    // twice: the second round is written from the cached shapes
    for (let round = 0; round < 2; round++) for (const ev of events) same(n, ev);
  }
}

async function readSample(path: string): Promise<LkrgEvent[]> {
  const events: LkrgEvent[] = [];
  for (const { source } of sourcesFromPaths([path], { input: 'auto', replayId: 'writer-test', includeNonLkrg: true })) {
    const asm = new EventAssembler({ includeNonLkrg: true, now: () => 1_728_892_800_000 });
    for await (const batch of source.read({ positions: new Map(), signal: new AbortController().signal, log: () => {} })) {
      for (const r of batch.records) events.push(...asm.push(r));
      events.push(...asm.flush());
    }
  }
  return events;
}

describe('toEcsJson equals JSON.stringify(toEcs)', () => {
  it('over every golden fixture event', () => {
    const cases = goldenCases();
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const events = cases.flatMap((name) => goldenEvents(name, readFileSync(`${GOLDEN_DIR}${name}.input.txt`, 'utf8')));
    expect(events.length).toBeGreaterThan(30);
    sameAll(events);
  });

  it('over every expected-parse row of the sample corpus', () => {
    const events = readExpectedRows().map((r, i) => eventFromRow(r, i));
    expect(events.length).toBeGreaterThan(100);
    sameAll(events);
  });

  it('over every sample file as the real sources and assembler read it (kernel lines, notices, labels, companions)', async () => {
    const files = readdirSync(SHARED_SAMPLES).filter((f) => f.startsWith('samples-'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const events: LkrgEvent[] = [];
    for (const f of files) events.push(...(await readSample(SHARED_SAMPLES + f)));
    expect(events.length).toBeGreaterThan(300);
    expect(events.some((e) => !e.parsed.isLkrg)).toBe(true);
    expect(events.some((e) => e.record.extra)).toBe(true);
    sameAll(events);
  });

  it('writes the common LKRG shapes directly (the fallback is for notices and companion lines)', () => {
    const n = new Normalizer({ agent: AGENT });
    const events = readExpectedRows().map((r, i) => eventFromRow(r, i));
    for (const ev of events) n.toEcsJson(ev);
    const s = n.jsonStats();
    expect(s.direct + s.fallback).toBe(events.length);
    expect(s.fallback).toBe(events.filter((e) => e.companions.length > 0 || e.record.notice).length);
  });
});

// ---------------------------------------------------------------------------------------------
// property tests

const m = defaultMappings();
const catalog = JSON.parse(readFileSync(new URL('../../../mappings/lkrg-catalog.json', import.meta.url), 'utf8')) as {
  templates: { id: string; fields: string[]; level: string; action: string | null; category: string | null; style: 'current' | 'legacy' | 'raw' }[];
};
const byId = new Map(catalog.templates.map((t) => [t.id, t]));
const templateIds = [...byId.keys()];
const defaultFieldNames = [...m.defaultFieldRows.keys()];
const LEVELS: LkrgLevel[] = ['ALERT', 'ALIVE', 'STATE', 'DYING', 'FAULT', 'FATAL', 'ISSUE', 'WATCH', 'DEBUG', 'FLOOD', 'CRIT', 'ERR', 'WARN', 'INFO', 'DBG', 'PANIC', 'RAWCRIT', 'RAW'];
const CATEGORIES = [...new Set(catalog.templates.map((t) => t.category).filter((c): c is string => !!c))];

const HOSTILE = [
  '', '"', '\\', '\\"', '\u0000', '\u001f', '\u007f', '\u2028', '\u2029', '\ud800', '\udfff', 'a\udc00b', 'x\ud83d', '😀', '\ud83d\ude00"',
  'CEF:0|Vendor|Product|1.0|sig|name|10|src=1.2.3.4 msg=a\\=b', '0', '-0', '007', '123456789012345', '1234567890123456', '-12', '0x1f', 'ff', '0755',
  ' 1', '1 ', '1\n', 'x'.repeat(5000), '€uro', '\t\n\r\b\f', '</script>', 'null', 'true', '{"a":1}', 'constructor', '__proto__', 'toString', '12',
];
const hostile = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.integer({ min: -99_999, max: 99_999_999 }).map(String) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 16 }) },
);
const word = fc.oneof(fc.constantFrom('web01', 'db-2.example.org', '10.0.0.1', 'b1', '8f1c0b7e2d4a4f6b'), hostile);
const hostArb: fc.Arbitrary<HostIdentity> = fc.oneof(
  fc.constant({}),
  fc.record({ ip: fc.constantFrom('10.20.30.41', '192.168.0.1') }),
  fc.record({ ip: word, bootId: word }),
  fc.record({ name: word }),
  fc.record({ name: word, bootId: word, id: word }),
  fc.record({ name: word, ip: word, bootId: word, id: word }, { requiredKeys: [] }),
);
const timeArb = fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 4_102_444_800_000_000 }), fc.integer({ min: -62_135_596_800_000_000, max: 253_402_300_799_000_000 }));
const levelArb = fc.option(fc.constantFrom(...LEVELS), { nil: null });
const actionArb = fc.option(fc.constantFrom('DETECT' as const, 'BLOCK' as const, 'ALLOW' as const), { nil: null });
const categoryArb = fc.option(fc.oneof(fc.constantFrom(...CATEGORIES), fc.constantFrom('', 'null', 'Task"x')), { nil: null });

/** A random event: a real template (its own fields in any order, some missing, some extra) or an odd one. */
const eventArb: fc.Arbitrary<LkrgEvent> = fc
  .record({
    tid: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...templateIds) }, { weight: 1, arbitrary: fc.constantFrom<string | null>('unknown', null, 'no.such.template') }),
    asCatalog: fc.nat(3),
    level: levelArb,
    action: actionArb,
    category: categoryArb,
    style: fc.constantFrom<EventSpec['style']>('current', 'current', 'legacy', 'raw', null),
    isLkrg: fc.nat(9).map((x) => x > 0),
    forged: fc.nat(9).map((x) => x === 0),
    keep: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    order: fc.array(fc.nat(100), { minLength: 8, maxLength: 8 }),
    values: fc.array(hostile, { minLength: 8, maxLength: 8 }),
    extraFields: fc.dictionary(fc.oneof(fc.constantFrom(...defaultFieldNames), fc.constantFrom('0', '7', 'x y', 'old_value', 'new_value'), fc.string({ maxLength: 6 })), hostile, { maxKeys: 3 }),
    text: hostile,
    original: fc.option(hostile, { nil: undefined }),
    id: fc.oneof(fc.constantFrom('801a913eb6ad8cd164ea038665d1e269', 'a:b/c'), hostile),
    host: hostArb,
    seq: fc.option(fc.oneof(fc.nat(), fc.constantFrom(-1, 2 ** 53, 1.5)), { nil: undefined }),
    facility: fc.option(fc.integer({ min: -1, max: 30 }), { nil: undefined }),
    severity: fc.option(fc.integer({ min: -1, max: 9 }), { nil: undefined }),
    timeUs: timeArb,
    receivedUs: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000_000 }), { nil: undefined }),
    extra: fc.option(fc.dictionary(fc.oneof(fc.constantFrom('_BOOT_ID', 'recvDelayUs', '__CURSOR', '42', '_'), fc.string({ maxLength: 8 })), hostile, { minKeys: 0, maxKeys: 3 }), { nil: undefined }),
    readAtMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  })
  .map((r) => {
    const t = r.tid !== null ? byId.get(r.tid) : undefined;
    const c = t !== undefined && r.asCatalog > 0 ? t : undefined; // mostly the parser's own values
    const asCatalog = c !== undefined;
    const fields: Record<string, string> = {};
    if (t) {
      const names = t.fields.map((f, i) => ({ f, i, o: r.order[i % 8]! })).filter(({ i }) => r.keep[i % 8] || asCatalog);
      if (!asCatalog) names.sort((a, b) => a.o - b.o);
      // numbers where the catalog expects them (mostly), anything otherwise
      for (const { f, i } of names) fields[f] = r.asCatalog === 3 ? String(r.order[i % 8]) : r.values[i % 8]!;
    }
    Object.assign(fields, r.extraFields);
    return makeEvent({
      text: r.text,
      templateId: r.tid,
      isLkrg: r.isLkrg,
      forged: r.forged,
      style: c ? c.style : r.style,
      level: c ? (c.level as LkrgLevel) : r.level,
      action: c ? (c.action as EventSpec['action']) : r.action,
      category: c ? c.category : r.category,
      fields,
      id: r.id,
      readAtMs: r.readAtMs,
      record: {
        host: r.host,
        timeUs: r.timeUs,
        ...(r.original !== undefined ? { original: r.original } : {}),
        ...(r.seq !== undefined ? { seq: r.seq } : {}),
        ...(r.facility !== undefined ? { facility: r.facility } : {}),
        ...(r.severity !== undefined ? { severity: r.severity } : {}),
        ...(r.receivedUs !== undefined ? { receivedUs: r.receivedUs } : {}),
        ...(r.extra !== undefined ? { extra: r.extra } : {}),
      },
    });
  });

describe('toEcsJson property tests', () => {
  it('hostile fields, texts, ids, host identities, times and labels, every normalizer variant, caches shared', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(eventArb, fc.nat(VARIANTS.length - 1)), { minLength: 1, maxLength: 12 }), (list) => {
        for (const [ev, v] of list) same(normalizers[v]!, ev);
      }),
      { numRuns: 400 },
    );
  });

  it('the same shape with new values each time (cached segments, fresh values)', () => {
    const n = new Normalizer({ agent: AGENT, namespace: 'x' });
    fc.assert(
      fc.property(hostile, hostile, hostile, fc.constantFrom('1', '42', '-7', 'x'), hostArb, (name, text, id, pid, host) => {
        same(n, makeEvent({ text, id, templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { pid, process_name: name }, record: { host, seq: 5, severity: 2 } }));
        same(n, makeEvent({ text, id, templateId: 'task.cred_corruption.euid', level: 'ALERT', action: 'DETECT', category: 'Task', fields: { expected: name, actual: name, pid, process_name: text }, record: { host } }));
        same(n, makeEvent({ text, id, templateId: 'state.kint_enforce', level: 'STATE', category: 'Config', fields: { old_value: pid, new_value: '0', old_label: name, new_label: text }, record: { host } }));
        same(n, makeEvent({ text, id, isLkrg: false, templateId: null, record: { host, severity: 3, facility: 0, extra: { callerId: name } } }));
      }),
      { numRuns: 300 },
    );
  });

  it('events of a few templates that differ only in parsed level/action/category/id/style, forged or not', () => {
    const n = new Normalizer({ agent: AGENT });
    const ids = ['task.kill', 'state.kint_enforce', 'task.cred_corruption.euid'];
    const alt = <T,>(a: T, b: T): fc.Arbitrary<T> => fc.constantFrom(a, a, b);
    const one = fc
      .record({
        i: fc.nat(ids.length - 1),
        tid: fc.constantFrom<string | null>('catalog', 'catalog', 'unknown', null, 'no.such'),
        level: alt<LkrgLevel | null>('ALERT', 'STATE'),
        action: alt<EventSpec['action']>('BLOCK', null),
        category: fc.constantFrom<string | null>('Task', 'Task', 'Config', '', null),
        style: alt<EventSpec['style']>('current', 'legacy'),
        forged: fc.constantFrom(false, false, true),
        pid: fc.constantFrom('1', 'x'),
      })
      .map((r) => {
        const id = ids[r.i]!;
        return makeEvent({
          text: 'LKRG: x', templateId: r.tid === 'catalog' ? id : r.tid, level: r.level, action: r.action, category: r.category, style: r.style, forged: r.forged,
          fields: id === 'state.kint_enforce' ? { old_value: r.pid, new_value: '0' } : { pid: r.pid, process_name: 'p', expected: '1', actual: '0' },
          record: { host: { ip: '10.0.0.9' } },
        });
      });
    fc.assert(
      fc.property(fc.array(one, { minLength: 2, maxLength: 20 }), (list) => {
        for (const ev of list) same(n, ev);
      }),
      { numRuns: 300 },
    );
  });

  it('plans whose rows write anywhere (collisions with fixed keys, frozen parts, lkrg.fields, host/log/labels)', () => {
    const SEG1 = ['lkrg', 'lkrg', 'process', 'user', 'event', 'message', '@timestamp', 'host', 'log', 'labels', 'related', 'rule', 'tags', 'threat', 'ecs', 'agent', 'data_stream', '0', 'x'];
    const SEG2 = ['level', 'fields', 'name', 'id', 'reason', 'x', '0', '7', 'os', 'syslog', 'category', 'user', 'pid'];
    const pathArb = fc.tuple(fc.constantFrom(...SEG1), fc.constantFrom(...SEG2), fc.option(fc.constantFrom('a', 'id', '0'), { nil: undefined }), fc.nat(4)).map(([a, b, c, len]) =>
      len === 0 ? [a] : c === undefined || len === 1 ? [a, b] : [a, b, c],
    );
    const rowArb: fc.Arbitrary<FieldRow> = fc.record({ path: pathArb, type: fc.constantFrom<FieldRow['type']>('keyword', 'long', 'hex', 'octal'), related: fc.option(fc.constant<'user'>('user'), { nil: undefined }) }).map((r) =>
      r.related ? { path: r.path, type: r.type, related: r.related } : { path: r.path, type: r.type },
    );
    const base = m.templates.get('task.cred_corruption.euid')!;
    fc.assert(
      fc.property(
        fc.array(fc.array(rowArb, { maxLength: 3 }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.tuple(pathArb, fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean())), { maxLength: 2 }),
        fc.array(fc.tuple(fc.constantFrom('expected', 'actual', 'pid', 'process_name'), hostile), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.option(fc.dictionary(fc.string({ maxLength: 3 }), hostile, { minKeys: 1, maxKeys: 2 }), { nil: undefined }),
        fc.boolean(),
        (rowLists, sets, fieldList, keepOriginal, extra, configured) => {
          const names = ['expected', 'actual', 'pid', 'process_name'];
          const plan: TemplatePlan = {
            ...base,
            fieldRows: new Map(names.map((f, i) => [f, rowLists[i]!] as const).filter(([, r]) => r.length > 0)),
            setRows: sets.map(([path, value]) => ({ path, value })),
          };
          const mappings = { ...m, templates: new Map(m.templates).set(plan.id, plan) };
          const n = new Normalizer({ agent: AGENT, keepOriginal, mappings, ...(configured ? { tags: ['t1'], labels: { site: 'fra1', a: 'x' } } : {}) });
          const fields = Object.fromEntries(fieldList);
          const spec: EventSpec = { text: 'LKRG: ALERT: DETECT: Task: x', templateId: plan.id, level: 'ALERT', action: 'DETECT', category: 'Task', fields, record: { host: { name: 'h', ip: '10.0.0.1' }, seq: 3, ...(extra ? { extra } : {}) } };
          // twice: compile, then from the cached shape with other values
          same(n, makeEvent(spec), false);
          same(n, makeEvent({ ...spec, fields: Object.fromEntries(fieldList.map(([k, v]) => [k, v + '1'])), id: 'other' }), false);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('fallback shapes give the same text', () => {
  it('alerts with companion lines, stream notices and rows writing into log.*/host.* are built, then encoded', () => {
    const n = new Normalizer({ agent: AGENT });
    const main = 'LKRG: ALERT: DETECT: Newly loaded module entering LIVE state is hidden!';
    const companion = makeEvent({
      text: main, templateId: 'module.hidden_on_load', level: 'ALERT', action: 'DETECT', category: 'Module',
      record: { original: `[ 9.1] ${main}`, host: { name: 'web"01' } },
      companions: [{ text: 'Hidden module:', original: '[ 9.1] Hidden module:' }, { text: '\tName: [dia"morphine]', original: '[ 9.1] \tName: [dia"morphine]' }],
    });
    const notice = makeEvent({ text: '', templateId: null, isLkrg: false, record: { notice: { type: 'gap', missing: 3, fromSeq: 1, toSeq: 5, detail: 'gap of 3 "records"' }, seq: 5 } });
    for (const ev of [companion, notice]) {
      const before = n.jsonStats().fallback;
      expect(n.toEcsJson(ev)).toBe(JSON.stringify(n.toEcs(ev)));
      expect(n.jsonStats().fallback).toBe(before + 1);
    }

    const base = m.templates.get('task.kill')!;
    for (const path of [['log', 'logger'], ['host', 'type']]) {
      const plan: TemplatePlan = { ...base, fieldRows: new Map([...base.fieldRows, ['process_name', [{ path, type: 'keyword' }] as FieldRow[]]]) };
      const n2 = new Normalizer({ agent: AGENT, mappings: { ...m, templates: new Map(m.templates).set(plan.id, plan) } });
      const ev = makeEvent({ text: 'LKRG: ALERT: BLOCK: Task: Killing pid 1, name "x"', templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { pid: '1', process_name: 'x"\\' }, record: { host: { ip: '10.0.0.1' }, severity: 2 } });
      expect(n2.toEcsJson(ev)).toBe(JSON.stringify(n2.toEcs(ev)));
      expect(n2.toEcsJson(ev)).toBe(JSON.stringify(n2.toEcs(ev)));
      expect(n2.jsonStats()).toEqual({ direct: 0, fallback: 2 });
    }
  });

  it('a plain alert is written directly', () => {
    const n = new Normalizer({ agent: AGENT });
    const ev = makeEvent({ text: 'LKRG: ALERT: BLOCK: Task: Killing pid 1, name x', templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { pid: '1', process_name: 'x' }, record: { host: { ip: '10.0.0.1' }, seq: 1 } });
    expect(n.toEcsJson(ev)).toBe(JSON.stringify(n.toEcs(ev)));
    expect(n.jsonStats()).toEqual({ direct: 1, fallback: 0 });
  });
});

describe('configured tags and labels', () => {
  it('every document gets them: tags after the mapping own, labels before the record own (which win on a clash)', () => {
    const n = new Normalizer({ agent: AGENT, tags: ['site-fra1', 'lkrg'], labels: { env: 'production', callerid: 'configured' } });
    type Doc = { tags: string[]; labels?: Record<string, string> };
    const alert = n.toEcs(makeEvent({ text: 'LKRG: ALERT: DETECT: Task: x', templateId: 'task.cred_corruption.euid', level: 'ALERT', action: 'DETECT', category: 'Task', fields: {}, record: { extra: { callerId: 'T42' } } })) as unknown as Doc;
    expect(alert.tags.slice(-1)).toEqual(['site-fra1']);
    expect(alert.tags.filter((t) => t === 'lkrg')).toHaveLength(1);
    expect(alert.labels).toEqual({ env: 'production', callerid: 'T42' });
    const notice = n.toEcs(makeEvent({ text: '', templateId: null, level: null, action: null, category: null, fields: {}, record: { notice: { type: 'gap', missing: 3, detail: 'gap' } } })) as unknown as Doc;
    expect(notice.labels).toEqual({ env: 'production', callerid: 'configured' });
    expect(notice.tags).toContain('site-fra1');
    const kernel = n.toEcs(makeEvent({ text: 'usb 1-1: new device', templateId: null, level: null, action: null, category: null, fields: {}, isLkrg: false })) as unknown as Doc;
    expect(kernel.tags).toContain('site-fra1');
    expect(kernel.labels).toEqual({ env: 'production', callerid: 'configured' });
  });
});
