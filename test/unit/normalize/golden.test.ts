/**
 * Golden fixtures: test/fixtures/golden/<case>.input.txt (optional `#ctx {json}` first line with
 * the record context, then one kernel message text per line) -> the real parser + assembler ->
 * <case>.ecs.json (array of documents) -> <case>.cef (one line per document).
 * Each expected file was reviewed by eye against lkrg.md §10 and formats.md §2/§3.
 * Regenerate after a deliberate mapping change with UPDATE_GOLDEN=1 and review the diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { parseCefStrict } from '../../support/cef-strict-parser.js';
import { GOLDEN_DIR as DIR, goldenCases, goldenEvents as eventsFor } from './golden-events.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const cases = goldenCases();
const n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'collector-1', version: '0.1.0', id: 'c0ffee00-0000-4000-8000-000000000001' } });

describe('golden fixtures', () => {
  it('has fixtures', () => expect(cases.length).toBeGreaterThanOrEqual(30));
  it.each(cases)('%s', (name) => {
    const events = eventsFor(name, readFileSync(`${DIR}${name}.input.txt`, 'utf8'));
    expect(events.length).toBeGreaterThan(0);
    const docs = events.map((e) => n.toEcs(e));
    const ecsText = JSON.stringify(docs, null, 2) + '\n';
    const cefText = docs.map((d) => n.toCef(d)).join('\n') + '\n';
    for (const line of cefText.trimEnd().split('\n')) parseCefStrict(line);
    if (UPDATE) {
      writeFileSync(`${DIR}${name}.ecs.json`, ecsText);
      writeFileSync(`${DIR}${name}.cef`, cefText);
      return;
    }
    expect(JSON.parse(ecsText)).toEqual(JSON.parse(readFileSync(`${DIR}${name}.ecs.json`, 'utf8')));
    expect(cefText).toBe(readFileSync(`${DIR}${name}.cef`, 'utf8'));
  });
});
