import { it } from 'vitest';
import { LkrgMessageParser, MAX_MATCH_LENGTH } from '../../../src/parse/lkrg-message-parser.js';
it('adv', () => {
  const p = new LkrgMessageParser();
  let worst = 0, worstId = '';
  let total = 0;
  const t00 = performance.now();
  for (const t of p.catalog.templates) {
    const lf = t.lineFormat.split('\n')[0]!;
    const parts = lf.split(/%[a-z]+/);
    const head = parts[0]!;
    const fill = parts.slice(1).concat(['a', ' ']);
    for (const f1 of fill) for (const f2 of fill) {
      for (const tail of ['', 'x']) {
        let s = head;
        const unit = f1 + '1' + f2 + '1';
        while (s.length < MAX_MATCH_LENGTH - unit.length - 2) s += unit;
        s += tail;
        const t0 = performance.now();
        p.parse(s);
        const dt = performance.now() - t0;
        total++;
        if (dt > worst) { worst = dt; worstId = t.id + ' ' + JSON.stringify(unit); }
      }
    }
  }
  console.log('worst ms', worst, worstId, total, performance.now()-t00);
});
