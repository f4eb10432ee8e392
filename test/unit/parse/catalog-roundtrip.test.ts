/**
 * Every catalog template, instantiated from its printf line_format with plausible values,
 * parses back to the same template (or a documented twin) with the same field values.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogTemplate } from '../../../src/parse/lkrg-catalog.js';
import { LkrgMessageParser } from '../../../src/parse/lkrg-message-parser.js';

const parser = new LkrgMessageParser();

/** First literal alternative of a `(?<field>A|B|C)` group, unescaped, or null. */
function enumAlternative(t: CatalogTemplate, field: string): string | null {
  const enums = t.enums?.[field];
  if (enums !== undefined && enums.length > 0) return enums[0]!;
  const src = t.regex.source + (t.continuationRegex?.source ?? '');
  const at = src.indexOf(`(?<${field}>`);
  if (at === -1) return null;
  const body = src.slice(at + field.length + 4);
  // Literal alternation: letters, digits, spaces, escaped punctuation, until the group closes.
  const m = /^((?:[A-Za-z0-9 _&/,-]|\\.)+)(?:\||\))/.exec(body);
  if (m === null || !body.slice(0, m[0].length).includes('|')) return null;
  return m[1]!.replace(/\\(.)/g, '$1');
}

const STRING_SAMPLES = ['exploit', 'nf_tables', 'kworker/u8:1'];

function valueFor(t: CatalogTemplate, spec: string, field: string, i: number): string {
  if (spec === '%s') {
    const alt = enumAlternative(t, field);
    if (alt !== null) return alt;
    if (t.id === 'aux.stack_frame') return 'p_ed_enforce_pcfi+0x1b4/0x3d0 [lkrg]';
    return STRING_SAMPLES[i % STRING_SAMPLES.length]!;
  }
  if (/x$/.test(spec)) return ['ffffffffc0b87040', '7ffd5c1e3010', '1000'][i % 3]!;
  if (spec === '%o') return '104755';
  if (/[dui]$/.test(spec)) return String([4242, 1000, 0, 17][i % 4]);
  throw new Error(`no sample value for ${spec} in ${t.id}`);
}

function instantiate(t: CatalogTemplate): { text: string; values: Record<string, string> } {
  const values: Record<string, string> = {};
  let i = 0;
  const text = t.lineFormat.replace(/%(?:[lz]{0,2})[sduxoi]/g, (spec) => {
    const ph = t.placeholders[i];
    const field = ph?.field ?? '';
    const v = valueFor(t, spec, field, i);
    if (field !== '') values[field] = v;
    i++;
    return v;
  });
  expect(i, t.id).toBe(t.placeholders.length);
  return { text, values };
}

describe('catalog round trip', () => {
  it('every template parses back to itself', () => {
    let exact = 0;
    const twins: string[] = [];
    for (const t of parser.catalog.templates) {
      const { text, values } = instantiate(t);
      const got = parser.parse(text);
      const where = `${t.id}: ${JSON.stringify(text)}`;
      expect(got.templateId, where).not.toBeNull();
      if (got.templateId === t.id) {
        exact++;
      } else {
        // Identical text with another meaning: a listed context twin, or the same regex at
        // the same specificity (a message printed at two legacy levels).
        const other = parser.catalog.byId.get(got.templateId!);
        const listed = t.ambiguousWith.includes(got.templateId!);
        const sameText = other !== undefined && other.regex.source === t.regex.source && other.specificity === t.specificity;
        expect(listed || sameText, where + ` -> ${got.templateId}`).toBe(true);
        twins.push(`${t.id}->${got.templateId}`);
      }
      const extracted = t.style === 'raw' && t.id === 'aux.stack_frame' ? {} : values;
      for (const [field, v] of Object.entries(extracted)) {
        if (!t.groups.includes(field) && !t.continuationGroups.includes(field)) continue;
        expect(got.fields[field], `${where} field ${field}`).toBe(v);
      }
    }
    expect(exact + twins.length).toBe(parser.catalog.templates.length);
    expect(twins.sort()).toEqual([
      'legacy.warn.kretprobe_register_kretprobe_for_failed_err->legacy.err.kretprobe_register_kretprobe_for_failed_err',
      'umh.panic->umh.block',
    ]);
  });

  it('round trips with messy spacing and a trailing CR for every current and legacy template', () => {
    let n = 0;
    for (const t of parser.catalog.templates) {
      if (t.style === 'raw' || t.lineFormat.includes('\n')) continue;
      const { text } = instantiate(t);
      // doubled space after the first colon and in the middle of the text, trailing junk
      const mid = text.indexOf(' ', Math.floor(text.length / 2));
      const doubled = mid === -1 ? text : `${text.slice(0, mid)} ${text.slice(mid)}`;
      const messy = doubled.replace(/: /, ':  ') + '  \r';
      const got = parser.parse(messy);
      const clean = parser.parse(text);
      expect(got.templateId, JSON.stringify(messy)).toBe(clean.templateId);
      n++;
    }
    expect(n).toBeGreaterThan(600);
  });
});
