import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StreamNoticeType } from '../../../src/core/types.js';
import { loadEcsFields, type CatalogInfo } from '../../../src/normalize/mapping-loader.js';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { ecsProblems } from './ecs-conformance.js';
import { eventFromRow, makeEvent, readExpectedRows } from './sample-events.js';

const MAPPINGS = fileURLToPath(new URL('../../../mappings/', import.meta.url));
const fields = loadEcsFields(MAPPINGS + 'ecs-fields/ecs_flat.yml');
const catalog = JSON.parse(readFileSync(MAPPINGS + 'lkrg-catalog.json', 'utf8')) as CatalogInfo;
let n: Normalizer;
beforeAll(() => {
  n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'collector1', version: '0.1.0', id: 'a1' }, namespace: 'prod' });
});

function dummy(field: string): string {
  if (/hex|ptr|hash|addr|base|pointer/.test(field)) return '0xffff8881a2b3c4d0';
  if (/label|name|path|function|symbol|message|text|detail|event/.test(field)) return 'x y';
  return '7';
}

describe('ECS conformance over the sample corpus', () => {
  const rows = readExpectedRows();
  it('has the corpus', () => expect(rows.length).toBeGreaterThan(500));

  it('every sample line gives a conformant document', () => {
    let lkrg = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r.message === undefined) continue; // malformed store lines never become events
      const doc = n.toEcs(eventFromRow(r, i));
      expect(ecsProblems(doc, fields), `${r.file}:${r.line}`).toEqual([]);
      const ev = doc.event as Record<string, unknown>;
      const json = JSON.stringify(doc);
      expect(json).not.toMatch(/[\n\r]/);
      expect(JSON.parse(json)).toEqual(doc);
      if (r.template === null) {
        if (ev.action === 'lkrg-forged-message') continue;
        expect(ev.kind).toBe('event');
        expect(ev.dataset).toBe('lkrg.log');
        expect(doc.rule).toBeUndefined();
        expect(doc.threat).toBeUndefined();
        continue;
      }
      lkrg++;
      const lk = doc.lkrg as Record<string, unknown>;
      expect(lk.template_id).toBe(r.template);
      expect(lk.legacy).toBe(r.style === 'legacy');
      if (r.level === 'ALERT') {
        expect(ev.kind, r.template).toBe('alert');
        expect(ev.dataset).toBe('lkrg.alert');
        expect((doc.rule as Record<string, unknown>).id).toBe(r.template);
      }
      if (r.level && ['ALIVE', 'DYING', 'FAULT', 'FATAL', 'ISSUE', 'RAW'].includes(r.level)) expect(ev.kind, `${r.file}:${r.line}`).toBe(doc.lkrg && (doc.lkrg as Record<string, unknown>).forged ? 'alert' : 'event');
    }
    expect(lkrg).toBeGreaterThan(450);
  });
});

describe('ECS conformance over every catalog template', () => {
  it('each template instantiated with placeholder values is conformant', () => {
    expect(catalog.templates.length).toBe(627);
    for (const t of catalog.templates) {
      const f: Record<string, string> = {};
      for (const name of t.fields) f[name] = dummy(name);
      const doc = n.toEcs(
        makeEvent({ text: t.format, templateId: t.id, style: t.style, level: t.level as never, action: t.action as never, category: t.category, fields: f, record: { seq: 9, facility: 0, severity: t.printk_level, host: { name: 'h', ip: '2001:db8::1' } } }),
      );
      expect(ecsProblems(doc, fields), t.id).toEqual([]);
      const ev = doc.event as Record<string, unknown>;
      const tags = doc.tags as string[];
      expect(tags).toContain('lkrg');
      expect(ev.severity).toBeGreaterThanOrEqual(0);
      expect(ev.severity).toBeLessThanOrEqual(10);
      expect(ev.action).toMatch(/^lkrg-[a-z0-9-]+$/);
      expect(typeof (doc.rule as Record<string, unknown>).name).toBe('string');
      if (t.style === 'current' && t.level === 'ALERT') {
        expect(ev.kind).toBe('alert');
        expect(ev.category).toContain('intrusion_detection');
        if (t.level === 'ALERT') expect(ev.severity).toBe(t.cef_severity);
      }
      if (t.mitre.length && (doc.lkrg as Record<string, unknown>).setting_weakened !== false) {
        const th = doc.threat as { technique: { id: string[]; subtechnique?: { id: string[] } }; tactic: { id: string[] } };
        const all = [...th.technique.id, ...(th.technique.subtechnique?.id ?? [])];
        for (const m of t.mitre) expect(all).toContain(m.id);
        expect(th.tactic.id.length).toBeGreaterThan(0);
      } else if (!t.mitre.length) expect(doc.threat).toBeUndefined();
      else expect(doc.threat).toBeUndefined(); // a STATE change that does not weaken LKRG
    }
  });
});

describe('ECS conformance of special lines', () => {
  const types: StreamNoticeType[] = ['gap', 'reboot', 'duplicate', 'quiet', 'truncated', 'journal-missed'];
  it.each(types)('notice %s', (type) => {
    const doc = n.toEcs(makeEvent({ text: '', templateId: null, isLkrg: false, record: { notice: { type, detail: `notice ${type}`, missing: 3, fromSeq: 10, toSeq: 14, previousBootId: 'b0' }, host: { ip: '10.0.0.9' } } }));
    expect(ecsProblems(doc, fields)).toEqual([]);
    const ev = doc.event as Record<string, unknown>;
    expect(ev.kind).toBe('event');
    expect(ev.category).toEqual(['host']);
    expect(doc.message).toBe(`notice ${type}`);
    expect(((doc.lkrg as Record<string, unknown>).notice as Record<string, unknown>).type).toBe(type);
  });

  it('unknown LKRG lines at every level', () => {
    for (const level of ['ALERT', 'STATE', 'ALIVE', 'DYING', 'FAULT', 'FATAL', 'ISSUE', 'WATCH', 'DEBUG', 'FLOOD', null] as const) {
      for (const action of ['DETECT', 'BLOCK', 'ALLOW', null] as const) {
        const doc = n.toEcs(makeEvent({ text: `LKRG: ${level}: something new`, templateId: 'unknown', level, action: level === 'ALERT' ? action : null, category: 'Zzz', fields: {} }));
        expect(ecsProblems(doc, fields)).toEqual([]);
        expect((doc.event as Record<string, unknown>).kind).toBe(level === 'ALERT' ? 'alert' : 'event');
        expect((doc.lkrg as Record<string, unknown>).template_id).toBe('unknown');
      }
    }
  });

  it('labels from record extras are keyword strings with safe keys', () => {
    const doc = n.toEcs(makeEvent({ text: 'LKRG: ALIVE: Loading LKRG', templateId: 'lifecycle.loading', level: 'ALIVE', category: 'Lifecycle', record: { extra: { __CURSOR: 's=1;i=2', 'a.b': 'c' } } }));
    expect(ecsProblems(doc, fields)).toEqual([]);
    expect(doc.labels).toEqual({ cursor: 's=1;i=2', a_b: 'c' });
  });
});
