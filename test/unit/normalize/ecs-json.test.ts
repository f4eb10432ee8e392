import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ecsToJson } from '../../../src/normalize/ecs-json.js';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { eventFromRow, makeEvent, readExpectedRows } from './sample-events.js';

describe('ecsToJson', () => {
  const n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'c1', version: '0.1.0' } });
  it('is byte-identical to JSON.stringify over the corpus (twice, cached fragments)', () => {
    const rows = readExpectedRows().filter((r) => r.message !== undefined);
    for (let round = 0; round < 2; round++) {
      rows.forEach((r, i) => {
        const d = n.toEcs(eventFromRow(r, i));
        expect(ecsToJson(d)).toBe(JSON.stringify(d));
      });
    }
  });
  it('is byte-identical with hostile names', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (name) => {
        const d = n.toEcs(makeEvent({ text: `LKRG: ALERT: BLOCK: Task: Killing pid 1, name ${name}`, templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { pid: '1', process_name: name }, record: { extra: { [name || 'k']: name } } }));
        expect(ecsToJson(d)).toBe(JSON.stringify(d));
      }),
      { numRuns: 300 },
    );
  });
});
