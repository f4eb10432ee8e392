import { describe, expect, it } from 'vitest';
import { statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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
      queued: new Map([['kafka', [{ eventId: 'e1', key: 'h1', dataset: 'lkrg.alert', namespace: 'default', payload: '{"x":1}' }]]]),
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
        queued: new Map([['o', [{ eventId: 'e', key: 'k', dataset: 'd', namespace: 'default', payload: '{}' }]]]),
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
      queued: new Map([['o', ['a', 'b', 'c'].map((id) => ({ eventId: id, key: 'k', dataset: 'lkrg.log', namespace: 'default', payload: `{"id":"${id}"}` }))]]),
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

  it('returns the space of a drained backlog to the file system (incremental vacuum), a step at a time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lkrg-state-'));
    const path = join(dir, 'state.db');
    const s = new StateStore(path);
    // a SIEM outage: 40 MB queued, then delivered
    const payload = 'x'.repeat(1600);
    for (let c = 0; c < 25; c++) {
      s.commitBatch({ sourceId: 'x', positions: {}, queued: new Map([['o', Array.from({ length: 1000 }, (_, i) => ({ eventId: `e${c}-${i}`, key: 'k', dataset: 'd', namespace: 'default', payload }))]]) });
    }
    for (;;) {
      const rows = s.queueHead('o', 5000);
      if (rows.length === 0) break;
      s.settle('o', { delivered: rows, rejected: [], retried: [] });
    }
    expect(s.reclaimSpace({ minFreeBytes: 1 << 30 })).toBe(0); // below the threshold: nothing
    const before = statSync(path).size;
    expect(before).toBeGreaterThan(40e6);
    const first = s.reclaimSpace({ minFreeBytes: 1 << 20, maxBytes: 16 << 20 });
    expect(first).toBeGreaterThanOrEqual(16 << 20);
    expect(first).toBeLessThan(17 << 20);
    let freed = first;
    for (let step = 0; step < 10; step++) freed += s.reclaimSpace({ minFreeBytes: 1 << 20, maxBytes: 16 << 20 });
    expect(freed).toBeGreaterThan(38e6);
    expect(statSync(path).size).toBeLessThan(before - 38e6);
    expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(64 << 20); // journal_size_limit
    // still a working store
    s.commitBatch({ sourceId: 'x', positions: {}, queued: new Map([['o', [{ eventId: 'after', key: 'k', dataset: 'd', namespace: 'default', payload: '{}' }]]]) });
    expect(s.queueHead('o', 10).map((r) => r.eventId)).toEqual(['after']);
    s.close();
  });

  it('drops the oldest rows and counts them', () => {
    const s = tmpStore();
    s.commitBatch({
      sourceId: 'x',
      positions: {},
      queued: new Map([['o', Array.from({ length: 5 }, (_, i) => ({ eventId: `e${i}`, key: 'k', dataset: 'd', namespace: 'default', payload: '{}' }))]]),
    });
    expect(s.dropOldest('o', 2)).toBe(2);
    expect(s.queueHead('o', 10).map((r) => r.eventId)).toEqual(['e2', 'e3', 'e4']);
    expect(s.counters().get('o')?.get('dropped')).toBe(2);
  });

  it('settling one output never touches another output queued in the same commits', () => {
    const s = tmpStore();
    const rows = (p: string) => Array.from({ length: 4 }, (_, i) => ({ eventId: `${p}${i}`, key: 'k', dataset: 'd', namespace: 'default', payload: '{}' }));
    for (let c = 0; c < 2; c++) s.commitBatch({ sourceId: 'x', positions: {}, queued: new Map([['a', rows(`a${c}-`)], ['b', rows(`b${c}-`)]]) });
    const a = s.queueHead('a', 100);
    expect(a).toHaveLength(8);
    s.settle('a', { delivered: a.filter((_, i) => i !== 5), rejected: [], retried: [] });
    expect(s.queueHead('a', 100).map((r) => r.eventId)).toEqual(['a1-1']);
    expect(s.queueHead('b', 100)).toHaveLength(8);
  });

  it('keeps the data_stream.namespace of each row; a requeued dead letter takes it from its document', () => {
    const s = tmpStore();
    const doc = (id: string, ns: string) => JSON.stringify({ event: { id, dataset: 'lkrg.alert' }, data_stream: { namespace: ns } });
    s.commitBatch({
      sourceId: 'x',
      positions: {},
      // 30 rows: one full multi-row INSERT chunk (25) and five single-row INSERTs
      queued: new Map([['o', Array.from({ length: 30 }, (_, i) => ({ eventId: `e${i}`, key: 'k', dataset: 'lkrg.alert', namespace: i % 2 ? 'prod' : 'default', payload: doc(`e${i}`, i % 2 ? 'prod' : 'default') }))]]),
    });
    const rows = s.queueHead('o', 100);
    expect(rows.map((r) => r.namespace)).toEqual(Array.from({ length: 30 }, (_, i) => (i % 2 ? 'prod' : 'default')));
    s.settle('o', { delivered: rows.slice(2), rejected: [{ row: rows[0]!, reason: 'r' }, { row: rows[1]!, reason: 'r' }], retried: [] });
    expect(s.requeueDeadLetters(s.listDeadLetters({ output: 'o' }).map((d) => d.id))).toBe(2);
    expect(s.queueHead('o', 10).map((r) => [r.eventId, r.namespace])).toEqual([['e0', 'default'], ['e1', 'prod']]);
  });

  it('migrates a version-1 state file (no queue.namespace) in place: its rows read with a null namespace', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lkrg-state-')), 'v1.db');
    const old = new Database(path);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta (key, value) VALUES ('schema_version', '1');
      CREATE TABLE positions (source_id TEXT NOT NULL, stream_id TEXT NOT NULL, position TEXT NOT NULL,
        updated_at INTEGER NOT NULL, PRIMARY KEY (source_id, stream_id));
      CREATE TABLE queue (
        rowid INTEGER PRIMARY KEY AUTOINCREMENT, output TEXT NOT NULL, event_id TEXT NOT NULL,
        key TEXT NOT NULL, dataset TEXT NOT NULL, payload TEXT NOT NULL, bytes INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0, first_failed_at INTEGER, last_error TEXT);
      INSERT INTO queue (output, event_id, key, dataset, payload, bytes, enqueued_at) VALUES ('o', 'old', 'k', 'lkrg.log', '{}', 2, 1);
      INSERT INTO positions VALUES ('src', 'a', '{"offset":7}', 1);
    `);
    old.close();
    const s = new StateStore(path);
    expect(s.loadPositions('src').get('a')).toEqual({ offset: 7 });
    s.commitBatch({ sourceId: 'src', positions: {}, queued: new Map([['o', [{ eventId: 'new', key: 'k', dataset: 'lkrg.log', namespace: 'prod', payload: '{}' }]]]) });
    expect(s.queueHead('o', 10).map((r) => [r.eventId, r.namespace])).toEqual([['old', null], ['new', 'prod']]);
    s.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: '2' });
    check.close();
    // a file from a newer lkrg-siem is refused, naming the file and the versions
    const newer = new Database(path);
    newer.prepare("UPDATE meta SET value = '9' WHERE key = 'schema_version'").run();
    newer.close();
    expect(() => new StateStore(path)).toThrow(/schema version 9; this lkrg-siem expects 2/);
  });
});
