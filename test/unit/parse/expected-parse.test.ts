/**
 * Every sample line of shared/samples/expected-parse.jsonl that carries its message text must
 * parse to the expected template, level, action, category and fields. Context-decided rows
 * (umh.panic) and forgery rows are checked through the assembler.
 */
import { describe, expect, it } from 'vitest';
import { EventAssembler } from '../../../src/parse/event-assembler.js';
import { LkrgMessageParser } from '../../../src/parse/lkrg-message-parser.js';
import { expectedRows, presentFields, rec } from './helpers.js';

const parser = new LkrgMessageParser();
const rows = expectedRows();

describe('expected-parse.jsonl', () => {
  it('every row with a message parses as expected', () => {
    let checked = 0;
    let lkrg = 0;
    let contextDecided = 0;
    for (const row of rows) {
      if (row.message === undefined) continue;
      checked++;
      const got = parser.parse(row.message);
      const where = `${row.file}:${row.line} ${JSON.stringify(row.message)}`;
      if (row.template === null) {
        expect(got.templateId, where).toBeNull();
        expect(got.isLkrg, where).toBe(false);
        continue;
      }
      lkrg++;
      if (row.context_rule !== undefined) {
        // Identical text; the parser gives the twin, the assembler decides from the next line.
        contextDecided++;
        expect(row.also_matches, where).toBeDefined();
        const twins = parser.catalog.byId.get(row.template)?.ambiguousWith ?? [];
        expect(twins, where).toContain(got.templateId);
      } else {
        expect(got.templateId, where).toBe(row.template);
      }
      expect(got.style, where).toBe(row.style);
      expect(got.level, where).toBe(row.level);
      expect(got.action, where).toBe(row.action);
      expect(got.category, where).toBe(row.category);
      expect({ ...got.fields }, where).toEqual(presentFields(row.fields));
    }
    // 582 rows, two of them are malformed store lines without a message text.
    expect(checked).toBe(580);
    expect(lkrg).toBe(501);
    expect(contextDecided).toBe(1);
  });

  it('the umh.panic row is decided by the following kernel panic line', () => {
    const row = rows.find((r) => r.context_rule !== undefined);
    expect(row?.template).toBe('umh.panic');
    const next = rows.find((r) => r.file === row?.file && r.line === (row?.line ?? 0) + 1);
    expect(next?.template).toBe('kernel.panic_line');
    const a = new EventAssembler();
    const events = [...a.push(rec(row!.message!)), ...a.push(rec(next!.message!)), ...a.flush()];
    expect(events).toHaveLength(1);
    expect(events[0]!.parsed.templateId).toBe('umh.panic');
    expect(events[0]!.parsed.fields).toEqual(presentFields(row!.fields));
    expect(events[0]!.companions.map((c) => c.text)).toEqual([next!.message]);

    // The same text followed by the kill line stays umh.block.
    const blockRows = rows.filter((r) => r.template === 'umh.block');
    expect(blockRows.length).toBeGreaterThanOrEqual(2);
    for (const b of blockRows) {
      const after = rows.find((r) => r.file === b.file && r.line === b.line + 1);
      const a2 = new EventAssembler();
      const out = [...a2.push(rec(b.message!)), ...(after?.message ? a2.push(rec(after.message)) : []), ...a2.flush()];
      expect(out[0]!.parsed.templateId).toBe('umh.block');
    }
  });

  it('forgery rows are flagged when the record did not come from the kernel', () => {
    const forgeries = rows.filter((r) => r.warning !== undefined);
    expect(forgeries).toHaveLength(3);
    let flagged = 0;
    for (const row of forgeries) {
      // journald strips the "LKRG:" identifier from MESSAGE; the journald source hands over
      // the reconstructed text. The logger store keeps the full text.
      const text = row.message!.startsWith('LKRG: ') ? row.message! : `LKRG: ${row.message!}`;
      const a = new EventAssembler();
      const events = [...a.push(rec(text, { kernelOrigin: false, identifier: row.syslog_identifier })), ...a.flush()];
      expect(events).toHaveLength(1);
      expect(events[0]!.forged).toBe(true);
      expect(events[0]!.parsed.templateId).toBe('lifecycle.heartbeat.system');
      flagged++;
      // The same line from the kernel is genuine.
      const b = new EventAssembler();
      const genuine = [...b.push(rec(text, { kernelOrigin: true })), ...b.flush()];
      expect(genuine[0]!.forged).toBe(false);
    }
    expect(flagged).toBe(3);
  });
});
