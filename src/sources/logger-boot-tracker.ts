/**
 * Boot/sequence tracking for one lkrg-logger client (one store file name, across rotation),
 * reference/lkrg.md §6.6 and §6.7 steps 5, 6, 8, 9.
 *
 * Each record belongs to a boot stream identified by its derived boot wall time
 * `send_usec − send_uptime_usec` (stable over a boot up to clock slew, which the tolerance
 * covers). Several streams may be active at once (clients behind one NAT address share a
 * file); a new boot wall time that starts after the end of an existing stream and whose
 * uptime is lower is that stream's reboot. Inside a stream: seq gaps → gap notice, a record
 * whose (seq, prio, event uptime, message) was seen recently → duplicate (dropped).
 *
 * The state is plain JSON and lives in the source position, so resuming keeps tracking
 * exact. Used only by the logger-store and stdin sources.
 */
import { createHash } from 'node:crypto';
import type { StreamNotice } from '../core/types.js';
import type { LoggerFields } from '../parse/containers/logger-record.js';

/** One boot stream's state (JSON). */
export interface BootStreamState {
  /** Synthesised boot id (32 hex). */
  id: string;
  bootWallUs: number;
  lastSeq: number;
  lastUptimeUs: number;
  lastSendUs: number;
  lastSendUptimeUs: number;
  /** Flag of the record with lastSeq ('c' continuation bookkeeping). */
  lastFlag: '-' | 'c';
  /** Recent [seq, hash] pairs (flat), oldest first, for duplicate detection. */
  recent: number[];
}

/** Per-client tracking state (JSON), stored inside the source position. */
export interface BootTrackerState {
  boots: BootStreamState[];
}

/** What the tracker decided for one record. */
export interface TrackVerdict {
  /** Boot id of the record's stream. */
  bootId: string;
  /** True: drop the record as a duplicate. */
  duplicate: boolean;
  /** Notices to emit before the record (reboot, gap). Empty array is shared; do not mutate. */
  notices: readonly StreamNotice[];
  /** For 'c' records: the seq of the record it continues, when that is the previous record of the same boot. */
  continuesSeq: number | undefined;
}

const NONE: readonly StreamNotice[] = Object.freeze([]);
const WINDOW = 32;
const MAX_STREAMS = 16;
const BASE_TOLERANCE_US = 2_000_000;

/**
 * Identity hash of one store record for the duplicate window (32 bits): the event uptime (µs),
 * prio, flag, message length and first message bytes. A reconnect resend repeats all of them;
 * two different records of one boot never share seq and uptime. Called per line by the
 * store line handler; reads at most 4 bytes of `buf`.
 */
export function recordHash(f: LoggerFields, buf: Buffer, end: number): number {
  const up = f.eventUptimeUs;
  let h = Math.imul((up | 0) ^ Math.imul((up / 4294967296) | 0, 0x85ebca6b), 0x9e3779b1);
  h ^= (f.prio << 21) ^ ((end - f.msgStart) << 1) ^ (f.flag === 'c' ? 1 : 0);
  const m = f.msgStart;
  if (m + 4 <= end) h = Math.imul(h ^ (buf[m]! | (buf[m + 1]! << 8) | (buf[m + 2]! << 16) | (buf[m + 3]! << 24)), 0xc2b2ae35);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Deterministic boot id from client name and boot wall time (rounded to seconds). */
export function deriveBootId(client: string, bootWallUs: number): string {
  return createHash('sha256').update(`${client}/${Math.round(bootWallUs / 1e6)}`).digest('hex').slice(0, 32);
}

/**
 * Tracks boots of one client. Called by the store source once per parsed record, in file
 * order. Never throws.
 */
export class LoggerBootTracker {
  readonly state: BootTrackerState;
  /** Reused result object: valid until the next track() call (the hot path allocates nothing). */
  private readonly verdict: TrackVerdict = { bootId: '', duplicate: false, notices: NONE, continuesSeq: undefined };

  /** @param client file base name (client IPv4), used for boot ids */
  constructor(readonly client: string, state?: BootTrackerState) {
    this.state = state ? (structuredClone(state) as BootTrackerState) : { boots: [] };
  }

  /** A deep copy of the state for a position object. */
  snapshot(): BootTrackerState {
    return {
      boots: this.state.boots.map((b) => ({ ...b, recent: b.recent.slice() })),
    };
  }

  /** Classifies one record; `hash` identifies the line for duplicate detection. The result is reused by the next call. */
  track(f: LoggerFields, hash: number): TrackVerdict {
    const boots = this.state.boots;
    const bw = f.sendUs - f.sendUptimeUs;
    let s: BootStreamState | undefined;
    let best = Infinity;
    for (const b of boots) {
      const d = Math.abs(bw - b.bootWallUs);
      const tol = BASE_TOLERANCE_US + Math.abs(f.sendUptimeUs - b.lastSendUptimeUs) * 0.001;
      if (d <= tol && d < best) {
        best = d;
        s = b;
      }
    }
    if (s === undefined) {
      // Clock step (NTP/manual) inside a boot: seq and uptime continue.
      for (const b of boots) {
        if (f.seq > b.lastSeq && f.seq <= b.lastSeq + 1000 && f.eventUptimeUs + 1_000_000 >= b.lastUptimeUs && f.sendUptimeUs + 1_000_000 >= b.lastSendUptimeUs) {
          s = b;
          break;
        }
      }
    }
    if (s === undefined) return this.newStream(f, hash, bw);

    let notices: readonly StreamNotice[] = NONE;
    let duplicate = false;
    let continuesSeq: number | undefined;
    if (f.seq <= s.lastSeq) {
      const r = s.recent;
      for (let i = r.length - 2; i >= 0; i -= 2) {
        if (r[i] === f.seq && r[i + 1] === hash) {
          duplicate = true;
          break;
        }
      }
      if (duplicate) return { bootId: s.id, duplicate, notices, continuesSeq };
    } else {
      if (f.seq > s.lastSeq + 1) {
        const missing = f.seq - s.lastSeq - 1;
        notices = [{
          type: 'gap',
          missing,
          fromSeq: s.lastSeq,
          toSeq: f.seq,
          detail: `${missing} kernel record${missing === 1 ? '' : 's'} missing from ${this.client} (seq ${s.lastSeq} → ${f.seq})`,
        }];
      } else if (f.flag === 'c') {
        continuesSeq = s.lastSeq;
      }
      s.lastSeq = f.seq;
      s.lastUptimeUs = f.eventUptimeUs;
      s.lastFlag = f.flag;
    }
    if (f.sendUptimeUs >= s.lastSendUptimeUs) {
      s.lastSendUs = f.sendUs;
      s.lastSendUptimeUs = f.sendUptimeUs;
      s.bootWallUs = bw; // follow clock slew
    }
    s.recent.push(f.seq, hash);
    // keep between WINDOW and 2×WINDOW pairs: trimming in steps keeps the per-line cost O(1)
    if (s.recent.length >= WINDOW * 4) s.recent.splice(0, s.recent.length - WINDOW * 2);
    const v = this.verdict;
    v.bootId = s.id;
    v.duplicate = duplicate;
    v.notices = notices;
    v.continuesSeq = continuesSeq;
    return v;
  }

  /**
   * Puts the (seq, hash) pairs of a run of ordinary records that the WebAssembly line scanner
   * tracked for stream `s` into its duplicate window, exactly as track() would have, one by
   * one. `ring` holds the run's last pairs: pair i at slot i modulo its size (64, at least
   * 2×WINDOW). Called by LoggerLinePump after it set the stream's other fields.
   */
  pushRecentRun(s: BootStreamState, ring: Float64Array, pairs: number): void {
    const slots = ring.length >> 1;
    const r = s.recent;
    if (pairs <= slots) {
      // the usual case (a few ordinary lines between two LKRG lines)
      for (let i = 0; i < pairs; i++) {
        r.push(ring[i * 2]!, ring[i * 2 + 1]!);
        if (r.length >= WINDOW * 4) r.splice(0, r.length - WINDOW * 2);
      }
      return;
    }
    // More pairs than the ring holds, so more than 2×WINDOW: the window has been cut at least
    // once during the run and holds only pairs of the run, as many as the cutting cycle leaves
    // (from the first cut at 2×WINDOW down to WINDOW, then every WINDOW pushes).
    const firstCut = Math.max(1, WINDOW * 2 - (r.length >> 1));
    const keep = WINDOW + ((pairs - firstCut) % WINDOW);
    const out: number[] = [];
    for (let i = pairs - keep; i < pairs; i++) {
      const at = (i % slots) * 2;
      out.push(ring[at]!, ring[at + 1]!);
    }
    s.recent = out;
  }

  private newStream(f: LoggerFields, hash: number, bw: number): TrackVerdict {
    const boots = this.state.boots;
    const fresh: BootStreamState = {
      id: deriveBootId(this.client, bw),
      bootWallUs: bw,
      lastSeq: f.seq,
      lastUptimeUs: f.eventUptimeUs,
      lastSendUs: f.sendUs,
      lastSendUptimeUs: f.sendUptimeUs,
      lastFlag: f.flag,
      recent: [f.seq, hash],
    };
    // Reboot: an existing stream whose last record precedes this boot, with higher uptime.
    let victim = -1;
    let victimScore = -Infinity;
    for (let i = 0; i < boots.length; i++) {
      const b = boots[i]!;
      const tol = BASE_TOLERANCE_US + b.lastSendUptimeUs * 0.001;
      if (bw + tol < b.bootWallUs + b.lastUptimeUs) continue;
      if (f.eventUptimeUs >= b.lastUptimeUs) continue;
      // prefer seq also dropped, then the stream silent for longest
      const score = (f.seq < b.lastSeq ? 1e18 : 0) - b.lastSendUs;
      if (score > victimScore) {
        victimScore = score;
        victim = i;
      }
    }
    if (victim >= 0) {
      const prev = boots[victim]!;
      boots[victim] = fresh;
      const notice: StreamNotice = {
        type: 'reboot',
        previousBootId: prev.id,
        detail: `${this.client} rebooted: seq ${prev.lastSeq} → ${f.seq}, uptime ${(prev.lastUptimeUs / 1e6).toFixed(3)} s → ${(f.eventUptimeUs / 1e6).toFixed(3)} s`,
      };
      return { bootId: fresh.id, duplicate: false, notices: [notice], continuesSeq: undefined };
    }
    if (boots.length >= MAX_STREAMS) {
      let oldest = 0;
      for (let i = 1; i < boots.length; i++) if (boots[i]!.lastSendUs < boots[oldest]!.lastSendUs) oldest = i;
      boots.splice(oldest, 1);
    }
    boots.push(fresh);
    return { bootId: fresh.id, duplicate: false, notices: NONE, continuesSeq: undefined };
  }
}
