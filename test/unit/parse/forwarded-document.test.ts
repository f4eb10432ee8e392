import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forwardedDocument, isoToMicros } from '../../../src/parse/forwarded-document.js';
import { createNormalizer } from '../../../src/app/normalizer-factory.js';
import { EventAssembler } from '../../../src/parse/event-assembler.js';
import { eventFromRow, readExpectedRows, SHARED_SAMPLES } from '../normalize/sample-events.js';

describe('forwardedDocument', () => {
  const normalizer = createNormalizer({ namespace: 'prod_eu', keepOriginal: true });
  const events = readExpectedRows().map(eventFromRow);

  it('recognizes every document lkrg-siem writes and reads id, dataset, namespace, host, time and the LKRG view from it', () => {
    expect(events.length).toBeGreaterThan(100);
    for (const e of events) {
      const json = normalizer.toEcsJson(e);
      const f = forwardedDocument(json);
      expect(f, json).not.toBeNull();
      const doc = JSON.parse(json) as { event: { id: string; dataset: string }; lkrg?: { level: string; action: string | null; category: string | null; template_id: string; forged: boolean }; host: { ip?: string[]; name?: string }; '@timestamp': string };
      expect(f!.document).toMatchObject({ json, id: doc.event.id, dataset: doc.event.dataset, namespace: 'prod_eu', forged: doc.lkrg?.forged === true });
      expect(f!.document.parsed).toMatchObject({
        isLkrg: doc.lkrg !== undefined,
        level: doc.lkrg?.level ?? null,
        action: doc.lkrg?.action ?? null,
        category: doc.lkrg?.category ?? null,
        templateId: doc.lkrg?.template_id ?? null,
      });
      if (doc.host.ip) expect(f!.host.ip).toBe(doc.host.ip[0]);
      if (doc.host.name) expect(f!.host.name).toBe(doc.host.name);
      expect(Math.floor(f!.timeUs! / 1000)).toBe(Date.parse(doc['@timestamp']));
    }
  });

  it('passes a document through the assembler and the normalizer unchanged: same JSON, same id, same CEF', () => {
    // the downstream instance has its own settings (another namespace): the document stays as it came
    const plain = createNormalizer({ namespace: 'default', keepOriginal: false });
    const assembler = new EventAssembler();
    for (const e of events.slice(0, 60)) {
      const json = normalizer.toEcsJson(e);
      const f = forwardedDocument(json)!;
      const out = assembler.push({ streamId: 'kafka:t/0', origin: 'kafka t/0', offset: 1, container: 'ecs', original: json, text: f.document.parsed.body, host: f.host, timeUs: f.timeUs, document: f.document });
      expect(out).toHaveLength(1);
      expect(out[0]!.id).toBe(e.id);
      expect(plain.toEcsJson(out[0]!)).toBe(json);
      expect(plain.datasetOf(out[0]!)).toBe(normalizer.datasetOf(e));
      expect(plain.toCef(plain.toEcs(out[0]!))).toBe(normalizer.toCef(normalizer.toEcs(e)));
    }
  });

  it('leaves journalctl JSON, other JSON and broken text to the other readers', () => {
    const journal = readFileSync(join(SHARED_SAMPLES, 'samples-journal-json.txt'), 'utf8').trim().split('\n');
    for (const l of journal) expect(forwardedDocument(l)).toBeNull();
    expect(forwardedDocument('{"@timestamp":"2024-01-01T00:00:00Z","event":{"id":"x","dataset":"nginx.access"}}')).toBeNull();
    expect(forwardedDocument('{"event":{"id":"x","dataset":"lkrg.alert"}}')).toBeNull();
    expect(forwardedDocument('{"@timestamp":"2024-01-01T00:00:00Z","event":{"dataset":"lkrg.alert"}}')).toBeNull();
    expect(forwardedDocument('{"@timestamp":')).toBeNull();
    expect(forwardedDocument('[1,2]')).toBeNull();
    // flat-dotted keys, as some shippers rewrite documents
    const flat = forwardedDocument('{"@timestamp":"2024-10-14T09:49:10.794889Z","event.id":"e1","event.dataset":"lkrg.alert","data_stream.namespace":"x","lkrg.level":"ALERT","lkrg.action":"BLOCK","host.name":"h"}');
    expect(flat).toMatchObject({ document: { id: 'e1', dataset: 'lkrg.alert', namespace: 'x', parsed: { isLkrg: true, level: 'ALERT', action: 'BLOCK' } }, host: { name: 'h' } });
  });

  it('reads event times to the microsecond', () => {
    expect(isoToMicros('2024-10-14T09:49:10.794889Z')).toBe(Date.parse('2024-10-14T09:49:10.794Z') * 1000 + 889);
    expect(isoToMicros('2024-10-14T09:49:10.7Z')).toBe(Date.parse('2024-10-14T09:49:10.700Z') * 1000);
    expect(isoToMicros('2024-10-14T09:49:10Z')).toBe(Date.parse('2024-10-14T09:49:10Z') * 1000);
    expect(isoToMicros('not a time')).toBeNull();
  });
});
