import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../../src/state/state-store.js';

function tmpStore(): StateStore {
  return new StateStore(join(mkdtempSync(join(tmpdir(), 'lkrg-state-')), 'state.db'));
}

describe('StateStore', () => {
  it('commits positions, queued rows, sink states and dead letters in one batch', () => {
    const s = tmpStore();
    s.commitBatch({
      sourceId: 'src',
      positions: { a: { offset: 10 }, b: { offset: 20 } },
      queued: new Map([['kafka', [{ eventId: 'e1', key: 'h1', dataset: 'lkrg.alert', payload: '{"x":1}' }]]]),
      sinkStates: new Map([['file', { path: '/x', length: 5 }]]),
      inputDeadLetters: [{ origin: 'f', offset: 3, reason: 'bad', firstFailedAt: 1, lastFailedAt: 1, payload: 'junk' }],
      counters: [['pipeline', 'events', 1]],
    });
    expect(Object.fromEntries(s.loadPositions('src'))).toEqual({ a: { offset: 10 }, b: { offset: 20 } });
    expect(s.loadSinkState('file')).toEqual({ path: '/x', length: 5 });
    expect(s.queueStats('kafka').depth).toBe(1);
    expect(s.listDeadLetters({ kind: 'input' })).toHaveLength(1);
    expect(s.counters().get('pipeline')?.get('events')).toBe(1);
    const path = s.path;
    s.close();
    const again = new StateStore(path);
    expect(again.loadPositions('src').get('a')).toEqual({ offset: 10 });
    again.close();
  });

  it('rolls back the whole batch when any part fails', () => {
    const s = tmpStore();
    const bad = { toJSON: () => { throw new Error('boom'); } };
    expect(() =>
      s.commitBatch({
        sourceId: 'src',
        positions: { a: { offset: 1 } },
        queued: new Map([['o', [{ eventId: 'e', key: 'k', dataset: 'd', payload: '{}' }]]]),
        sinkStates: new Map([['file', bad]]),
      }),
    ).toThrow('boom');
    expect(s.loadPositions('src').size).toBe(0);
    expect(s.queueStats('o').depth).toBe(0);
  });

  it('settles delivered, rejected and retried rows and keeps counters', () => {
    const s = tmpStore();
    s.commitBatch({
      sourceId: 'src',
      positions: {},
      queued: new Map([['o', ['a', 'b', 'c'].map((id) => ({ eventId: id, key: 'k', dataset: 'lkrg.log', payload: `{"id":"${id}"}` }))]]),
    });
    const rows = s.queueHead('o', 10);
    expect(rows.map((r) => r.eventId)).toEqual(['a', 'b', 'c']);
    s.settle('o', { delivered: [rows[0]!], rejected: [{ row: rows[1]!, reason: 'mapper_parsing_exception' }], retried: [{ row: rows[2]!, reason: '503', nextAt: 123 }] });
    const left = s.queueHead('o', 10);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ eventId: 'c', attempts: 1, nextAt: 123, lastError: '503' });
    const dl = s.listDeadLetters({ output: 'o' });
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ kind: 'delivery', eventId: 'b', reason: 'mapper_parsing_exception', attempts: 1 });
    expect(s.counters().get('o')).toEqual(new Map([['delivered', 1], ['rejected', 1], ['retried', 1]]));
    expect(s.requeueDeadLetters([dl[0]!.id])).toBe(1);
    expect(s.queueHead('o', 10).map((r) => r.eventId)).toEqual(['c', 'b']);
    expect(s.listDeadLetters()).toHaveLength(0);
  });

  it('drops the oldest rows and counts them', () => {
    const s = tmpStore();
    s.commitBatch({
      sourceId: 'x',
      positions: {},
      queued: new Map([['o', Array.from({ length: 5 }, (_, i) => ({ eventId: `e${i}`, key: 'k', dataset: 'd', payload: '{}' }))]]),
    });
    expect(s.dropOldest('o', 2)).toBe(2);
    expect(s.queueHead('o', 10).map((r) => r.eventId)).toEqual(['e2', 'e3', 'e4']);
    expect(s.counters().get('o')?.get('dropped')).toBe(2);
  });

  it('settling one output never touches another output queued in the same commits', () => {
    const s = tmpStore();
    const rows = (p: string) => Array.from({ length: 4 }, (_, i) => ({ eventId: `${p}${i}`, key: 'k', dataset: 'd', payload: '{}' }));
    for (let c = 0; c < 2; c++) s.commitBatch({ sourceId: 'x', positions: {}, queued: new Map([['a', rows(`a${c}-`)], ['b', rows(`b${c}-`)]]) });
    const a = s.queueHead('a', 100);
    expect(a).toHaveLength(8);
    s.settle('a', { delivered: a.filter((_, i) => i !== 5), rejected: [], retried: [] });
    expect(s.queueHead('a', 100).map((r) => r.eventId)).toEqual(['a1-1']);
    expect(s.queueHead('b', 100)).toHaveLength(8);
  });
});
