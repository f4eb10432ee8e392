/**
 * The one embedded state database (SQLite through better-sqlite3, WAL mode): source
 * positions, output queues, sink states of transactional outputs, dead letters and counters.
 *
 * The pipeline commits everything a source batch produced in ONE transaction
 * ({@link StateStore.commitBatch}): the new source positions, the events queued for every
 * queued output, the new committed length of every file output and the dead letters of
 * malformed input. A crash at any instant therefore either keeps the whole batch or none
 * of it; the source re-reads what was not committed.
 */
import Database from 'better-sqlite3';
import { docValue } from '../core/doc-path.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SourcePosition } from '../core/types.js';

/** A row queued for one output. */
export interface QueueRow {
  readonly rowid: number;
  readonly eventId: string;
  readonly key: string;
  readonly dataset: string;
  /** data_stream.namespace as queued, or null for rows queued without it (read it from the payload). */
  readonly namespace: string | null;
  readonly payload: string;
  readonly bytes: number;
  readonly enqueuedAt: number;
  readonly attempts: number;
  readonly nextAt: number;
  readonly firstFailedAt: number | null;
  readonly lastError: string | null;
}

/** An event to queue: what the normalizer produced, serialized once. */
export interface QueueInsert {
  readonly eventId: string;
  readonly key: string;
  readonly dataset: string;
  /** The payload's data_stream.namespace, so outputs that route by it need not search the JSON. */
  readonly namespace: string;
  readonly payload: string;
  /** UTF-8 length of the payload when the caller has it (computed otherwise). */
  readonly bytes?: number;
}

/** A dead letter: malformed input ('input') or an event an output rejected ('delivery'). */
export interface DeadLetter {
  readonly id: number;
  readonly kind: 'input' | 'delivery';
  readonly output: string | null;
  readonly origin: string | null;
  readonly offset: number | null;
  readonly eventId: string | null;
  readonly reason: string;
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly lastFailedAt: number;
  readonly payload: string;
}

/** Everything one source batch produced; committed atomically by commitBatch. */
export interface BatchCommit {
  readonly sourceId: string;
  readonly positions: Readonly<Record<string, SourcePosition>>;
  /** Events per queued output name. */
  readonly queued?: ReadonlyMap<string, readonly QueueInsert[]>;
  /** New sink state per transactional output (e.g. committed file length). */
  readonly sinkStates?: ReadonlyMap<string, unknown>;
  readonly inputDeadLetters?: readonly Omit<DeadLetter, 'id' | 'kind' | 'output' | 'eventId' | 'attempts'>[];
  /** Counter increments: [scope, name, delta]. */
  readonly counters?: readonly (readonly [string, string, number])[];
}

/** Per-output queue statistics for `status`. */
export interface QueueStats {
  readonly depth: number;
  readonly bytes: number;
  readonly oldestEnqueuedAt: number | null;
}

/**
 * Version of the state file's tables. 2 added queue.namespace; a version-1 file is migrated
 * in place when opened (its queued rows keep a NULL namespace).
 */
const SCHEMA_VERSION = 2;

/** Rows per multi-row queue INSERT (8 parameters each): fewer statement runs per committed batch. */
const INSERT_CHUNK = 25;

/**
 * WAL bytes between automatic checkpoints (SQLite's default is 1000 pages, 4 MB with 4 KiB
 * pages). Queued rows are written and deleted again within seconds; a longer interval copies a
 * page that changed many times into the database once, with fewer fsyncs blocking the event
 * loop. The WAL file may grow to about 32 MB; recovery replays at most that.
 */
const WAL_AUTOCHECKPOINT_BYTES = 32 * 1024 * 1024;
/** Page size of a new state file (see the constructor). */
const PAGE_SIZE = 16384;
/** WAL size kept after a checkpoint (SQLite journal_size_limit). */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
/** reclaimSpace defaults: free space it waits for, and the most it returns per call. */
const RECLAIM_BYTES = 64 * 1024 * 1024;

/**
 * The state file cannot be used: not an SQLite database, damaged, unreadable, or written by an
 * incompatible lkrg-siem. The message names the file, what is wrong and what to do; the CLI
 * prints it without a stack trace and exits 1.
 */
export class StateFileError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'StateFileError';
  }
}

/** What `lkrg-siem check-state` found ({@link StateStore.check}). */
export interface StateCheck {
  /** SQLite's `PRAGMA integrity_check` findings; empty when the file is sound. */
  readonly integrity: readonly string[];
  readonly schemaVersion: number;
  /** Saved positions per source id. */
  readonly positions: ReadonlyMap<string, number>;
  /** Positions whose JSON does not parse (the source would fail on them). */
  readonly badPositions: readonly { readonly sourceId: string; readonly streamId: string; readonly error: string }[];
  /** Queue statistics of every output with queued events. */
  readonly queues: ReadonlyMap<string, QueueStats>;
  readonly deadLetters: { readonly input: number; readonly delivery: ReadonlyMap<string, number> };
  readonly fileBytes: number;
  readonly freeBytes: number;
}

/** The SQLite result codes that mean the file itself is not usable as a state file. */
const UNUSABLE: Readonly<Record<string, string>> = {
  SQLITE_NOTADB: 'it is not an SQLite database',
  SQLITE_CORRUPT: 'the database is damaged',
  SQLITE_CANTOPEN: 'it cannot be opened',
  SQLITE_READONLY: 'it is read-only',
  SQLITE_IOERR: 'reading or writing it failed',
  SQLITE_FULL: 'the disk is full',
  SQLITE_PERM: 'permission denied',
};

/** Wraps an SQLite error about the file itself in a {@link StateFileError} saying what to do. */
export function stateFileError(path: string, err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err;
  const base = Object.keys(UNUSABLE).find((k) => code === k || code.startsWith(`${k}_`));
  if (base === undefined) return err;
  const startOver = 'To start over, stop lkrg-siem and move the file (and its -wal and -shm files) aside: sources then read from their start ' +
    'again (outputs may receive events twice) and what was queued or dead-lettered in it is not delivered.';
  const fix = base === 'SQLITE_NOTADB'
    ? `Point state_file (--state) at the right file. ${startOver}`
    : base === 'SQLITE_CORRUPT'
      ? `\`lkrg-siem check-state --state ${path}\` lists the damage; \`sqlite3 ${path} .recover\` may save its content into a new file. ${startOver}`
      : 'Fix the file system or permissions, or point state_file (--state) at a writable file.';
  return new StateFileError(path, `State file ${path}: ${UNUSABLE[base]} (${(err as Error).message}). ${fix}`);
}

/**
 * Opened by the CLI (one per process) and shared by the pipeline, the delivery workers and
 * the `status`/`dlq`/`check-state` commands. Errors: the constructor throws a
 * {@link StateFileError} when the file cannot be opened, is not a (sound) state database, or was
 * written by an incompatible version (the message says which file and what to do).
 */
export class StateStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<StateStore['prepare']>;

  constructor(path: string) {
    this.path = path;
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = db = new Database(path);
      this.stmts = this.open();
    } catch (err) {
      try {
        db?.close();
      } catch {
        /* the original error says it */
      }
      throw stateFileError(path, err);
    }
  }

  /** Sets the connection up and brings the schema up to date; returns the prepared statements. */
  private open(): ReturnType<StateStore['prepare']> {
    // 16 KiB pages for a new file (an existing one keeps its size): queue rows are ~1.5 KB of
    // JSON each, and bigger pages cut the B-tree work per row (about 20% less CPU measured for
    // insert + read + delete of 51k such rows); must precede the switch to WAL
    this.db.pragma(`page_size = ${PAGE_SIZE}`);
    // a new file keeps a map of its pages, so the space of a drained backlog can be returned
    // to the file system a step at a time (reclaimSpace); an existing file keeps its mode
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    // after a checkpoint, a WAL that a burst grew is cut back to this size
    this.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // temporary structures (statement journals of multi-row writes, sorts) in memory, not in
    // temp files created and removed per transaction
    this.db.pragma('temp_store = MEMORY');
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.db.pragma(`wal_autocheckpoint = ${Math.max(1000, Math.round(WAL_AUTOCHECKPOINT_BYTES / pageSize))}`);
    this.migrate();
    return this.prepare();
  }

  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS positions (
        source_id TEXT NOT NULL, stream_id TEXT NOT NULL, position TEXT NOT NULL,
        updated_at INTEGER NOT NULL, PRIMARY KEY (source_id, stream_id));
      CREATE TABLE IF NOT EXISTS sink_state (output TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS queue (
        rowid INTEGER PRIMARY KEY AUTOINCREMENT, output TEXT NOT NULL, event_id TEXT NOT NULL,
        key TEXT NOT NULL, dataset TEXT NOT NULL, payload TEXT NOT NULL, bytes INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0, first_failed_at INTEGER, last_error TEXT, namespace TEXT);
      CREATE INDEX IF NOT EXISTS queue_output ON queue (output, rowid);
      CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, output TEXT, origin TEXT,
        offset INTEGER, event_id TEXT, reason TEXT NOT NULL, attempts INTEGER NOT NULL,
        first_failed_at INTEGER NOT NULL, last_failed_at INTEGER NOT NULL, payload TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS counters (
        scope TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (scope, name));
    `);
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as
      | { value: string }
      | undefined;
    if (!row) {
      this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    } else if (Number(row.value) === 1) {
      // version 1 had no queue.namespace; its rows keep NULL (outputs then read the payload)
      this.db.transaction(() => {
        const cols = this.db.prepare('PRAGMA table_info(queue)').all() as { name: string }[];
        if (!cols.some((c) => c.name === 'namespace')) this.db.exec('ALTER TABLE queue ADD COLUMN namespace TEXT');
        this.db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(String(SCHEMA_VERSION), 'schema_version');
      }).immediate();
    } else if (Number(row.value) !== SCHEMA_VERSION) {
      throw new StateFileError(
        this.path,
        `State file ${this.path} has schema version ${row.value}; this lkrg-siem expects ${SCHEMA_VERSION}. ` +
          'Use a new state_file or the lkrg-siem version that wrote it.',
      );
    }
  }

  // Write transactions are BEGIN IMMEDIATE: they take the write lock first (waiting up to
  // busy_timeout), so a transaction that reads before it writes cannot fail with
  // SQLITE_BUSY_SNAPSHOT when another connection (a delivery thread) committed meanwhile.

  private prepare() {
    const db = this.db;
    return {
      positionsFor: db.prepare('SELECT stream_id, position FROM positions WHERE source_id = ?'),
      upsertPosition: db.prepare(
        `INSERT INTO positions (source_id, stream_id, position, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (source_id, stream_id) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
      ),
      deletePositions: db.prepare('DELETE FROM positions WHERE source_id = ?'),
      sinkState: db.prepare('SELECT state FROM sink_state WHERE output = ?'),
      upsertSinkState: db.prepare(
        'INSERT INTO sink_state (output, state) VALUES (?, ?) ON CONFLICT (output) DO UPDATE SET state = excluded.state',
      ),
      insertQueue: db.prepare(
        'INSERT INTO queue (output, event_id, key, dataset, namespace, payload, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // OR FAIL: a multi-row INSERT with the default conflict action (ABORT) makes SQLite keep a
      // statement journal (a temp file with a copy of every page the statement touches, so that
      // it could undo just that statement); FAIL needs none. Nothing here can fail a constraint,
      // and if anything did, the whole batch transaction is rolled back anyway.
      insertQueueChunk: db.prepare(
        `INSERT OR FAIL INTO queue (output, event_id, key, dataset, namespace, payload, bytes, enqueued_at) VALUES ${new Array(INSERT_CHUNK).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      ),
      insertDead: db.prepare(
        `INSERT INTO dead_letters (kind, output, origin, offset, event_id, reason, attempts, first_failed_at, last_failed_at, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      addCounter: db.prepare(
        `INSERT INTO counters (scope, name, value) VALUES (?, ?, ?)
         ON CONFLICT (scope, name) DO UPDATE SET value = value + excluded.value`,
      ),
      counters: db.prepare('SELECT scope, name, value FROM counters ORDER BY scope, name'),
      queueHead: db
        .prepare(
          `SELECT rowid, event_id, key, dataset, payload, bytes, enqueued_at, attempts, next_at, first_failed_at, last_error, namespace
           FROM queue WHERE output = ? AND rowid > ? ORDER BY rowid LIMIT ?`,
        )
        .raw(true),
      queueHeadMeta: db.prepare('SELECT rowid, enqueued_at, attempts, next_at FROM queue WHERE output = ? AND rowid > ? ORDER BY rowid LIMIT 1'),
      deleteRow: db.prepare('DELETE FROM queue WHERE rowid = ?'),
      deleteRange: db.prepare('DELETE FROM queue WHERE output = ? AND rowid BETWEEN ? AND ?'),
      retryRow: db.prepare(
        `UPDATE queue SET attempts = attempts + 1, next_at = ?, last_error = ?,
         first_failed_at = COALESCE(first_failed_at, ?) WHERE rowid = ?`,
      ),
      queueStats: db.prepare(
        'SELECT COUNT(*) AS depth, COALESCE(SUM(bytes), 0) AS bytes, MIN(enqueued_at) AS oldest FROM queue WHERE output = ?',
      ),
      oldestRows: db.prepare('SELECT rowid, bytes FROM queue WHERE output = ? ORDER BY rowid LIMIT ?'),
      queueOutputs: db.prepare('SELECT DISTINCT output FROM queue'),
    };
  }

  /** Saved positions of one source, keyed by stream id. */
  loadPositions(sourceId: string): Map<string, SourcePosition> {
    const out = new Map<string, SourcePosition>();
    for (const row of this.stmts.positionsFor.all(sourceId) as { stream_id: string; position: string }[]) {
      out.set(row.stream_id, JSON.parse(row.position) as SourcePosition);
    }
    return out;
  }

  /** Forget a source's positions (a replay without --resume starts over). */
  resetPositions(sourceId: string): void {
    this.stmts.deletePositions.run(sourceId);
  }

  /** Committed state of a transactional output (e.g. `{ length }` of a file), or undefined. */
  loadSinkState<T>(output: string): T | undefined {
    const row = this.stmts.sinkState.get(output) as { state: string } | undefined;
    return row ? (JSON.parse(row.state) as T) : undefined;
  }

  /** Set a sink state outside a batch (e.g. a truncated file output starting over). */
  saveSinkState(output: string, state: unknown): void {
    this.stmts.upsertSinkState.run(output, JSON.stringify(state));
  }

  /**
   * Commits one source batch atomically: positions, queued events, sink states, input dead
   * letters and counters. Throws only on database errors (disk full, locked): the caller
   * must stop, since the batch is not committed and will be re-read on restart.
   */
  readonly commitBatch = (commit: BatchCommit): void => {
    this.commitTx(commit);
  };

  private readonly commitTx = this.makeCommitTx();

  private makeCommitTx() {
    return (commit: BatchCommit): void => {
      this.db.transaction((c: BatchCommit) => {
        const now = Date.now();
        const s = this.stmts;
        for (const [streamId, pos] of Object.entries(c.positions)) {
          s.upsertPosition.run(c.sourceId, streamId, JSON.stringify(pos), now);
        }
        if (c.queued) {
          const args: unknown[] = new Array(8 * INSERT_CHUNK);
          for (const [output, rows] of c.queued) {
            let i = 0;
            // rowids follow the row order, as with one INSERT per row
            for (; i + INSERT_CHUNK <= rows.length; i += INSERT_CHUNK) {
              for (let k = 0; k < INSERT_CHUNK; k++) {
                const r = rows[i + k]!;
                const o = 8 * k;
                args[o] = output;
                args[o + 1] = r.eventId;
                args[o + 2] = r.key;
                args[o + 3] = r.dataset;
                args[o + 4] = r.namespace;
                args[o + 5] = r.payload;
                args[o + 6] = r.bytes ?? Buffer.byteLength(r.payload);
                args[o + 7] = now;
              }
              s.insertQueueChunk.run(args);
            }
            for (; i < rows.length; i++) {
              const r = rows[i]!;
              s.insertQueue.run(output, r.eventId, r.key, r.dataset, r.namespace, r.payload, r.bytes ?? Buffer.byteLength(r.payload), now);
            }
          }
        }
        if (c.sinkStates) {
          for (const [output, state] of c.sinkStates) s.upsertSinkState.run(output, JSON.stringify(state));
        }
        if (c.inputDeadLetters) {
          for (const d of c.inputDeadLetters) {
            s.insertDead.run('input', null, d.origin, d.offset, null, d.reason, 0, d.firstFailedAt, d.lastFailedAt, d.payload);
          }
        }
        if (c.counters) for (const [scope, name, delta] of c.counters) if (delta) s.addCounter.run(scope, name, delta);
      }).immediate(commit);
    };
  }

  /** Up to `limit` queued rows of an output after `afterRowid`, oldest first. */
  queueHead(output: string, limit: number, afterRowid = 0): QueueRow[] {
    // raw rows (arrays): one object per row instead of a column-named row plus its copy
    const raw = this.stmts.queueHead.all(output, afterRowid, limit) as unknown[][];
    const rows: QueueRow[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i]!;
      rows[i] = {
        rowid: r[0] as number,
        eventId: r[1] as string,
        key: r[2] as string,
        dataset: r[3] as string,
        payload: r[4] as string,
        bytes: r[5] as number,
        enqueuedAt: r[6] as number,
        attempts: r[7] as number,
        nextAt: r[8] as number,
        firstFailedAt: (r[9] as number | null) ?? null,
        lastError: (r[10] as string | null) ?? null,
        namespace: (r[11] as string | null) ?? null,
      };
    }
    return rows;
  }

  /** The first queued row after `afterRowid` without its payload (cheap: decides whether to wait). */
  queueHeadMeta(output: string, afterRowid = 0): { rowid: number; enqueuedAt: number; attempts: number; nextAt: number } | undefined {
    const r = this.stmts.queueHeadMeta.get(output, afterRowid) as { rowid: number; enqueued_at: number; attempts: number; next_at: number } | undefined;
    return r && { rowid: r.rowid, enqueuedAt: r.enqueued_at, attempts: r.attempts, nextAt: r.next_at };
  }

  /**
   * Applies the classified results of one send in one transaction: delivered rows are
   * deleted, rejected rows move to the dead letters, retried rows get their next attempt time.
   */
  settle(
    output: string,
    outcome: {
      delivered: readonly QueueRow[];
      rejected: readonly { row: QueueRow; reason: string }[];
      retried: readonly { row: QueueRow; reason: string; nextAt: number }[];
    },
  ): void {
    this.db.transaction(() => {
      const now = Date.now();
      const s = this.stmts;
      // delivered rows with consecutive rowids (the usual case) go in one range delete each
      const ids = outcome.delivered.map((r) => r.rowid).sort((a, b) => a - b);
      for (let i = 0; i < ids.length; ) {
        let j = i;
        while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
        if (j === i) s.deleteRow.run(ids[i]);
        else s.deleteRange.run(output, ids[i], ids[j]);
        i = j + 1;
      }
      for (const { row, reason } of outcome.rejected) {
        s.insertDead.run('delivery', output, null, null, row.eventId, reason, row.attempts + 1, row.firstFailedAt ?? now, now, row.payload);
        s.deleteRow.run(row.rowid);
      }
      for (const { row, reason, nextAt } of outcome.retried) s.retryRow.run(nextAt, reason, now, row.rowid);
      if (outcome.delivered.length) s.addCounter.run(output, 'delivered', outcome.delivered.length);
      if (outcome.rejected.length) s.addCounter.run(output, 'rejected', outcome.rejected.length);
      if (outcome.retried.length) s.addCounter.run(output, 'retried', outcome.retried.length);
    }).immediate();
  }

  /** Drops the oldest rows of an output's queue (when_full: drop_oldest); returns how many. */
  dropOldest(output: string, count: number): number {
    return this.db.transaction(() => {
      const rows = this.stmts.oldestRows.all(output, count) as { rowid: number }[];
      for (const r of rows) this.stmts.deleteRow.run(r.rowid);
      if (rows.length) this.stmts.addCounter.run(output, 'dropped', rows.length);
      return rows.length;
    }).immediate();
  }

  queueStats(output: string): QueueStats {
    const r = this.stmts.queueStats.get(output) as { depth: number; bytes: number; oldest: number | null };
    return { depth: r.depth, bytes: r.bytes, oldestEnqueuedAt: r.oldest };
  }

  /**
   * Per source (state id): how many streams have a saved position and when the newest was
   * committed (epoch ms). `lkrg-siem status` shows it: a source whose positions stopped
   * moving is stuck or idle.
   */
  sourcePositions(): Map<string, { streams: number; updatedAt: number }> {
    const rows = this.db.prepare('SELECT source_id, COUNT(*) AS streams, MAX(updated_at) AS updated FROM positions GROUP BY source_id ORDER BY source_id').all() as
      { source_id: string; streams: number; updated: number }[];
    return new Map(rows.map((r) => [r.source_id, { streams: r.streams, updatedAt: r.updated }]));
  }

  /** Output names that still have queued rows. */
  queuedOutputs(): string[] {
    return (this.stmts.queueOutputs.all() as { output: string }[]).map((r) => r.output);
  }

  /** All counters as scope -> name -> value. */
  counters(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const r of this.stmts.counters.all() as { scope: string; name: string; value: number }[]) {
      let m = out.get(r.scope);
      if (!m) out.set(r.scope, (m = new Map()));
      m.set(r.name, r.value);
    }
    return out;
  }

  addCounter(scope: string, name: string, delta: number): void {
    if (delta) this.stmts.addCounter.run(scope, name, delta);
  }

  /** Dead letters, newest last, optionally filtered. */
  listDeadLetters(filter: { output?: string; kind?: 'input' | 'delivery'; limit?: number } = {}): DeadLetter[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.output) {
      where.push('output = ?');
      args.push(filter.output);
    }
    if (filter.kind) {
      where.push('kind = ?');
      args.push(filter.kind);
    }
    const sql = `SELECT * FROM dead_letters ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`;
    args.push(filter.limit ?? 1_000_000);
    return (this.db.prepare(sql).all(...args) as Record<string, unknown>[]).map(toDeadLetter);
  }

  deadLetter(id: number): DeadLetter | undefined {
    const r = this.db.prepare('SELECT * FROM dead_letters WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toDeadLetter(r) : undefined;
  }

  /** Moves delivery dead letters back into their output's queue; returns how many. */
  requeueDeadLetters(ids: readonly number[]): number {
    return this.db.transaction(() => {
      let n = 0;
      const now = Date.now();
      for (const id of ids) {
        const d = this.deadLetter(id);
        if (!d || d.kind !== 'delivery' || !d.output) continue;
        const doc = safeParse(d.payload);
        const dataset = typeof doc?.['event.dataset'] === 'string' ? (doc['event.dataset'] as string) : datasetOf(doc);
        this.stmts.insertQueue.run(d.output, d.eventId ?? '', keyOf(doc), dataset, namespaceOf(doc), d.payload, Buffer.byteLength(d.payload), now);
        this.db.prepare('DELETE FROM dead_letters WHERE id = ?').run(id);
        n++;
      }
      return n;
    }).immediate();
  }

  purgeDeadLetters(filter: { output?: string; ids?: readonly number[] } = {}): number {
    if (filter.ids) {
      let n = 0;
      const del = this.db.prepare('DELETE FROM dead_letters WHERE id = ?');
      this.db.transaction(() => {
        for (const id of filter.ids!) n += del.run(id).changes;
      }).immediate();
      return n;
    }
    if (filter.output) return this.db.prepare('DELETE FROM dead_letters WHERE output = ?').run(filter.output).changes;
    return this.db.prepare('DELETE FROM dead_letters').run().changes;
  }

  countDeadLetters(): { input: number; delivery: Map<string, number> } {
    const rows = this.db.prepare('SELECT kind, output, COUNT(*) AS n FROM dead_letters GROUP BY kind, output').all() as {
      kind: string;
      output: string | null;
      n: number;
    }[];
    let input = 0;
    const delivery = new Map<string, number>();
    for (const r of rows) {
      if (r.kind === 'input') input += r.n;
      else delivery.set(r.output ?? '', r.n);
    }
    return { input, delivery };
  }

  /**
   * Returns free pages (a drained queue backlog, purged dead letters) to the file system, at
   * most `maxBytes` per call (default 64 MiB) and only when at least `minFreeBytes` (default
   * 64 MiB) are free, then checkpoints so the file shrinks. Holds the write lock for the step
   * (tens of ms). Returns the bytes freed: 0 when below the threshold, or for a state file
   * created before lkrg-siem kept its page map (auto_vacuum NONE; sqlite3's
   * `PRAGMA auto_vacuum = INCREMENTAL; VACUUM;` converts it while lkrg-siem is stopped).
   * Called by the forwarder every minute.
   */
  reclaimSpace(opts: { minFreeBytes?: number; maxBytes?: number } = {}): number {
    if ((this.db.pragma('auto_vacuum', { simple: true }) as number) !== 2) return 0;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    if (free === 0 || free * pageSize < (opts.minFreeBytes ?? RECLAIM_BYTES)) return 0;
    const pages = Math.min(free, Math.max(1, Math.floor((opts.maxBytes ?? RECLAIM_BYTES) / pageSize)));
    this.db.pragma(`incremental_vacuum(${pages})`);
    const freed = (free - (this.db.pragma('freelist_count', { simple: true }) as number)) * pageSize;
    this.db.pragma('wal_checkpoint(PASSIVE)');
    return freed;
  }

  /**
   * Checks the whole file for `lkrg-siem check-state`: SQLite's integrity check (reads every
   * page), the positions' JSON, and what is queued and dead-lettered. Read-only; may take a while
   * on a large file. Errors: SQLite errors other than the findings themselves propagate.
   */
  check(): StateCheck {
    const integrity: string[] = [];
    // each part on its own: a damaged page fails the queries that touch it, not the whole check
    const part = <T>(what: string, fn: () => T, otherwise: T): T => {
      try {
        return fn();
      } catch (e) {
        integrity.push(`${what}: ${(e as Error).message}`);
        return otherwise;
      }
    };
    part('integrity check', () => {
      for (const r of this.db.pragma('integrity_check') as { integrity_check: string }[]) if (r.integrity_check !== 'ok') integrity.push(r.integrity_check);
    }, undefined);
    const schemaVersion = part('schema version', () => Number((this.db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as { value: string }).value), NaN);
    const positions = new Map<string, number>();
    const badPositions: { sourceId: string; streamId: string; error: string }[] = [];
    part('positions', () => {
      for (const r of this.db.prepare('SELECT source_id, stream_id, position FROM positions').iterate() as Iterable<{ source_id: string; stream_id: string; position: string }>) {
        positions.set(r.source_id, (positions.get(r.source_id) ?? 0) + 1);
        try {
          const v = JSON.parse(r.position) as unknown;
          if (v === null || typeof v !== 'object') throw new Error('not a JSON object');
        } catch (e) {
          badPositions.push({ sourceId: r.source_id, streamId: r.stream_id, error: (e as Error).message });
        }
      }
    }, undefined);
    const queues = new Map<string, QueueStats>();
    part('queues', () => {
      for (const o of this.queuedOutputs().sort()) queues.set(o, this.queueStats(o));
    }, undefined);
    const deadLetters = part('dead letters', () => this.countDeadLetters(), { input: 0, delivery: new Map<string, number>() });
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    return {
      integrity, schemaVersion, positions, badPositions, queues, deadLetters,
      fileBytes: (this.db.pragma('page_count', { simple: true }) as number) * pageSize,
      freeBytes: part('free pages', () => (this.db.pragma('freelist_count', { simple: true }) as number) * pageSize, 0),
    };
  }

  /**
   * Moves every queued event of output `from` to output `to` (an output renamed in the
   * configuration), keeping order and retry state; returns how many. `lkrg-siem queue move`.
   */
  moveQueue(from: string, to: string): number {
    return this.db.transaction(() => this.db.prepare('UPDATE queue SET output = ? WHERE output = ?').run(to, from).changes).immediate();
  }

  /** Drops every queued event of `output` (an output removed for good); returns how many. `lkrg-siem queue purge`. */
  purgeQueue(output: string): number {
    return this.db.transaction(() => this.db.prepare('DELETE FROM queue WHERE output = ?').run(output).changes).immediate();
  }

  close(): void {
    this.db.close();
  }
}

function toDeadLetter(r: Record<string, unknown>): DeadLetter {
  return {
    id: r.id as number,
    kind: r.kind as 'input' | 'delivery',
    output: (r.output as string | null) ?? null,
    origin: (r.origin as string | null) ?? null,
    offset: (r.offset as number | null) ?? null,
    eventId: (r.event_id as string | null) ?? null,
    reason: r.reason as string,
    attempts: r.attempts as number,
    firstFailedAt: r.first_failed_at as number,
    lastFailedAt: r.last_failed_at as number,
    payload: r.payload as string,
  };
}

function safeParse(s: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(s) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function datasetOf(doc: Record<string, unknown> | undefined): string {
  const ev = doc?.event as Record<string, unknown> | undefined;
  return typeof ev?.dataset === 'string' ? ev.dataset : 'lkrg.log';
}

/** data_stream.namespace of a parsed document as outputs read it, null when it has none (they then fall back). */
function namespaceOf(doc: Record<string, unknown> | undefined): string | null {
  const ns = docValue(doc, 'data_stream.namespace');
  return typeof ns === 'string' && ns !== '' ? ns : null;
}

function keyOf(doc: Record<string, unknown> | undefined): string {
  const host = doc?.host as Record<string, unknown> | undefined;
  const ip = Array.isArray(host?.ip) ? (host!.ip as unknown[])[0] : undefined;
  if (typeof ip === 'string') return ip;
  return typeof host?.name === 'string' ? host.name : '';
}
