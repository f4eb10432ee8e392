import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LkrgMessageParser } from '../../../src/parse/lkrg-message-parser.js';
it('x', () => {
  const p = new LkrgMessageParser();
  const rows = readFileSync('/work/shared/samples/expected-parse.jsonl','utf8').trim().split('\n').map(l=>JSON.parse(l));
  let bad=0;
  for (const r of rows) {
    if (r.message === undefined) continue;
    const m = p.parse(r.message);
    const exp = r.template ?? null;
    const got = m.templateId;
    const ef = Object.fromEntries(Object.entries(r.fields ?? {}).filter(([,v])=>v!==null));
    if (exp !== got || (exp && (JSON.stringify(ef)!==JSON.stringify(m.fields) || r.style!==m.style || r.level!==m.level || r.action!==m.action || r.category!==m.category))) { bad++; console.log(r.file, r.line, exp, got, JSON.stringify(m), JSON.stringify(r.message)); }
  }
  console.log('bad', bad);
});
