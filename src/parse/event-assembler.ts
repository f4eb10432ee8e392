/**
 * Turns RawRecords from the sources into LkrgEvents: parses each record's text, marks
 * forgeries, attaches LKRG's raw companion lines (hidden-module block, pCFI stack dump, the
 * kernel panic line after a p_panic, the second physical line of old multi-line messages) to
 * the alert they belong to, decides `umh.block` vs `umh.panic`, and gives each event a
 * deterministic id.
 *
 * Companions are looked for only in the same stream, right after the alert (a few unrelated
 * kernel lines from other CPUs may sit in between) and in the same boot. An alert that may
 * still get companions is held per stream until the next record of that stream decides it, or
 * until {@link EventAssembler.flush}; nothing is held across flush.
 */
import { sha256Hex } from './sha256-hex.js';
import type { LkrgEvent, ParsedMessage, RawRecord } from '../core/types.js';
import { LkrgMessageParser, NON_LKRG_MESSAGE } from './lkrg-message-parser.js';

/** Options of {@link EventAssembler}. */
export interface EventAssemblerOptions {
  /**
   * Emit events for kernel lines that are not LKRG output too (parsed.isLkrg false).
   * Default false: such lines produce no event.
   */
  readonly includeNonLkrg?: boolean;
  /** Parser to use; default: one shared parser over the package catalog. */
  readonly parser?: LkrgMessageParser;
  /**
   * How many unrelated non-LKRG records of the same stream may sit between an alert and its
   * next companion line (other CPUs printing in between). Default 2.
   */
  readonly maxGap?: number;
  /** Most stack frame lines attached to one alert. Default 128. */
  readonly maxFrames?: number;
  /** Clock for `readAtMs` (tests). Default Date.now. */
  readonly now?: () => number;
}

/** What an open alert still waits for. */
type Expect =
  | 'panic' // `Kernel panic - not syncing: <same text>` (after a p_panic BLOCK line)
  | 'hidden-header' // `Hidden module:` after `DETECT: Newly loaded module ... is hidden!`
  | 'hidden-body' // TAB lines Pointer / Name / State
  | 'stack-start' // `--- STACK TRACE START ---` (or legacy `--- . ---`)
  | 'stack-body' // frames until the end marker
  | 'continuation'; // second physical line of a legacy multi-line message

interface Pending {
  readonly record: RawRecord;
  readonly parsed: ParsedMessage;
  readonly readAtMs: number;
}

/** An alert of one stream that may still receive companion lines. */
interface OpenGroup {
  readonly anchor: Pending;
  parsed: ParsedMessage;
  expect: Expect;
  readonly companions: RawRecord[];
  /** Non-LKRG records passed since the last companion. */
  gap: number;
  /** Raw hidden-module lines already seen (pointer, name, state), to stop on repeats. */
  seen: Set<string>;
  frames: number;
  /** Non-LKRG events (includeNonLkrg) of the same stream held behind the alert, in order. */
  readonly held: Pending[];
}

const PANIC_LINE = 'kernel.panic_line';
const HIDDEN_HEADER = 'aux.hidden_module.header';
const HIDDEN_BODY: ReadonlySet<string> = new Set([
  'aux.hidden_module.pointer',
  'aux.hidden_module.name',
  'aux.hidden_module.state',
]);
const HIDDEN_LAST = 'aux.hidden_module.state';
const STACK_FRAME = 'aux.stack_frame';
const STACK_STARTS: ReadonlySet<string> = new Set(['aux.stack_trace.start', 'legacy.raw.stack_trace_start']);
const STACK_ENDS: ReadonlySet<string> = new Set(['aux.stack_trace.end', 'legacy.raw.stack_trace_end']);
/** Lines after which LKRG prints its pCFI stack dump (log_level >= 4). */
const STACK_ANCHORS: ReadonlySet<string> = new Set([
  'watch.invalid_frame_is_0x_out_of_for_pid_name',
  'legacy.task.pcfi_frame',
]);

let sharedParser: LkrgMessageParser | undefined;

/**
 * Builds LkrgEvents from RawRecords. One instance per pipeline; feed records in stream order
 * with {@link push} and call {@link flush} at the end of every source batch. Not thread-safe;
 * never throws for any record content (a CatalogError can only come from the constructor when
 * it has to load the default catalog).
 */
export class EventAssembler {
  private readonly parser: LkrgMessageParser;
  private readonly includeNonLkrg: boolean;
  private readonly maxGap: number;
  private readonly maxFrames: number;
  private readonly now: () => number;
  /** Open alert per streamId, in the order they were opened. */
  private readonly open = new Map<string, OpenGroup>();
  /** Template ids that become another id when a kernel panic line follows (umh.block -> umh.panic). */
  private readonly panicTwin = new Map<string, string>();
  /** Templates whose followed_by names the hidden-module header. */
  private readonly hiddenAnchors = new Set<string>();

  constructor(options: EventAssemblerOptions = {}) {
    this.parser = options.parser ?? (sharedParser ??= new LkrgMessageParser());
    this.includeNonLkrg = options.includeNonLkrg ?? false;
    this.maxGap = options.maxGap ?? 2;
    this.maxFrames = options.maxFrames ?? 128;
    this.now = options.now ?? Date.now;
    for (const t of this.parser.catalog.templates) {
      if (t.followedBy.includes(PANIC_LINE)) {
        for (const twin of t.ambiguousWith) this.panicTwin.set(twin, t.id);
      }
      if (t.followedBy.includes(HIDDEN_HEADER)) this.hiddenAnchors.add(t.id);
    }
  }

  /**
   * Take one record (in stream order) and return the events that are complete now: possibly
   * none (the record is an LKRG alert waiting for its companions, a companion, or a non-LKRG
   * line without includeNonLkrg), possibly several (a held alert closed by this record).
   */
  push(record: RawRecord): LkrgEvent[] {
    const readAtMs = this.now();
    const out: LkrgEvent[] = [];
    const group = this.open.get(record.streamId);

    if (record.notice !== undefined) {
      if (group !== undefined) this.close(record.streamId, group, out);
      out.push(this.makeEvent(record, NON_LKRG_MESSAGE, [], readAtMs));
      return out;
    }
    const doc = record.document;
    if (doc !== undefined) {
      // a finished event from an upstream lkrg-siem: its own id, nothing to assemble
      if (group !== undefined) this.close(record.streamId, group, out);
      out.push(Object.freeze({ id: doc.id, record, parsed: doc.parsed, companions: NO_COMPANIONS, forged: doc.forged, readAtMs }));
      return out;
    }

    const parsed = this.parser.parse(record.text);
    if (group !== undefined) {
      if (this.tryAttach(group, record, parsed)) {
        if (this.isComplete(group)) this.close(record.streamId, group, out);
        return out;
      }
      const sameBoot =
        record.host.bootId === undefined ||
        group.anchor.record.host.bootId === undefined ||
        record.host.bootId === group.anchor.record.host.bootId;
      if (!parsed.isLkrg && sameBoot && group.gap < this.maxGap) {
        group.gap++;
        if (this.includeNonLkrg) group.held.push({ record, parsed, readAtMs });
        return out;
      }
      this.close(record.streamId, group, out);
    }
    this.start(record, parsed, readAtMs, out);
    return out;
  }

  /** Emit every held alert (with the companions it has so far). Call at the end of each batch. */
  flush(): LkrgEvent[] {
    const out: LkrgEvent[] = [];
    for (const [streamId, group] of [...this.open]) this.close(streamId, group, out);
    return out;
  }

  /** Handle a record with no open alert in its stream. */
  private start(record: RawRecord, parsed: ParsedMessage, readAtMs: number, out: LkrgEvent[]): void {
    if (!parsed.isLkrg) {
      if (this.includeNonLkrg) out.push(this.makeEvent(record, parsed, [], readAtMs));
      return;
    }
    const expect = this.expectationFor(record, parsed);
    if (expect === null) {
      out.push(this.makeEvent(record, parsed, [], readAtMs));
      return;
    }
    this.open.set(record.streamId, {
      anchor: { record, parsed, readAtMs },
      parsed,
      expect,
      companions: [],
      gap: 0,
      seen: new Set(),
      frames: 0,
      held: [],
    });
  }

  private expectationFor(record: RawRecord, parsed: ParsedMessage): Expect | null {
    const id = parsed.templateId;
    if (id === null) return null;
    if (this.parser.panicsAfter(id) && parsed.style === 'current') return 'panic';
    if (this.hiddenAnchors.has(id)) return 'hidden-header';
    if (id === HIDDEN_HEADER) return 'hidden-body';
    if (STACK_ANCHORS.has(id)) return 'stack-start';
    if (STACK_STARTS.has(id)) return 'stack-body';
    const t = this.parser.catalog.byId.get(id);
    if (t !== undefined && t.continuationRegex !== null && record.text.indexOf('\n') === -1) return 'continuation';
    return null;
  }

  /** Attach `record` to the group if it is the companion the group waits for. */
  private tryAttach(group: OpenGroup, record: RawRecord, parsed: ParsedMessage): boolean {
    const anchor = group.anchor.record;
    if ((record.kernelOrigin === false) !== (anchor.kernelOrigin === false)) return false;
    if (
      record.host.bootId !== undefined &&
      anchor.host.bootId !== undefined &&
      record.host.bootId !== anchor.host.bootId
    ) {
      return false;
    }
    const id = parsed.templateId;
    switch (group.expect) {
      case 'panic': {
        if (id !== PANIC_LINE) return false;
        const msg = parsed.fields.panic_message;
        const body = group.parsed.body;
        const text = body.startsWith('BLOCK:') ? body.slice(6).trimStart() : body;
        if (msg === undefined || squash(msg) !== squash(text)) return false;
        const twin = group.parsed.templateId === null ? undefined : this.panicTwin.get(group.parsed.templateId);
        if (twin !== undefined) group.parsed = this.retemplate(group.parsed, twin);
        group.seen.add(PANIC_LINE);
        break;
      }
      case 'hidden-header':
        if (id !== HIDDEN_HEADER) return false;
        group.expect = 'hidden-body';
        break;
      case 'hidden-body':
        if (id === null || !HIDDEN_BODY.has(id) || group.seen.has(id)) return false;
        group.seen.add(id);
        group.parsed = withFields(group.parsed, parsed.fields);
        break;
      case 'stack-start':
        if (id === null || !STACK_STARTS.has(id)) return false;
        group.expect = 'stack-body';
        break;
      case 'stack-body':
        if (id === STACK_FRAME) {
          group.frames++;
        } else if (id !== null && STACK_ENDS.has(id)) {
          group.seen.add('end');
        } else {
          return false;
        }
        break;
      case 'continuation': {
        const tid = group.parsed.templateId;
        const fields = tid === null ? null : this.parser.matchContinuation(tid, record.text);
        if (fields === null) return false;
        group.parsed = withFields(group.parsed, fields);
        group.seen.add('continuation');
        break;
      }
    }
    group.companions.push(record);
    group.gap = 0;
    return true;
  }

  private isComplete(group: OpenGroup): boolean {
    switch (group.expect) {
      case 'panic':
        return group.seen.has(PANIC_LINE);
      case 'hidden-body':
        return group.seen.has(HIDDEN_LAST);
      case 'stack-body':
        return group.seen.has('end') || group.frames >= this.maxFrames;
      case 'continuation':
        return group.seen.has('continuation');
      default:
        return false;
    }
  }

  /** The same message read as its context-decided twin (umh.block -> umh.panic). */
  private retemplate(p: ParsedMessage, templateId: string): ParsedMessage {
    const t = this.parser.catalog.byId.get(templateId);
    if (t === undefined) return p;
    return Object.freeze({ ...p, templateId, style: t.style, level: t.level, action: t.action, category: t.category });
  }

  private close(streamId: string, group: OpenGroup, out: LkrgEvent[]): void {
    this.open.delete(streamId);
    const a = group.anchor;
    out.push(this.makeEvent(a.record, group.parsed, group.companions, a.readAtMs));
    for (const h of group.held) out.push(this.makeEvent(h.record, h.parsed, [], h.readAtMs));
  }

  private makeEvent(
    record: RawRecord,
    parsed: ParsedMessage,
    companions: readonly RawRecord[],
    readAtMs: number,
  ): LkrgEvent {
    return Object.freeze({
      id: eventId(record),
      record,
      parsed,
      companions: companions.length === 0 ? NO_COMPANIONS : Object.freeze(companions.slice()),
      forged: parsed.isLkrg && record.kernelOrigin === false,
      readAtMs,
    });
  }
}

/**
 * Deterministic event id, 32 hex chars: 16 of the SHA-256 of the record's stream of numbers
 * (`seq`: host (ip, else name, else machine id) + boot id, when the record has both a kmsg
 * seq and a boot id; else `pos`: the source stream id), then the seq or the byte offset as
 * 16 hex digits. Synthetic notice records put their notice type in the hashed part, so they
 * never collide with the record at the same position. Within one boot (or stream) two
 * records never share an id; across them, a clash needs a 64-bit hash collision. The hash is
 * computed once per boot or stream (cached), not per event. Used by the assembler; exported
 * for tests and for sources that need the id.
 */
export function eventId(record: RawRecord): string {
  const h = record.host;
  const bySeq = record.seq !== undefined && h.bootId !== undefined && h.bootId !== '';
  const n = bySeq ? record.seq! : record.offset;
  // sources share one host object per boot: its prefix is found without building a key
  let prefix = record.notice === undefined && bySeq ? hostPrefixes.get(h) : undefined;
  if (prefix === undefined) {
    const notice = record.notice === undefined ? '' : `notice:${record.notice.type}\u0000`;
    const key = bySeq ? `${notice}seq\u0000${h.ip || h.name || h.id || ''}\u0000${h.bootId}` : `${notice}pos\u0000${record.streamId}`;
    prefix = idPrefixes.get(key);
    if (prefix === undefined) {
      if (idPrefixes.size >= 4096) idPrefixes.clear();
      prefix = sha256Hex(key).slice(0, 16);
      idPrefixes.set(key, prefix);
    }
    if (record.notice === undefined && bySeq) hostPrefixes.set(h, prefix);
  }
  const hex = Math.trunc(n).toString(16);
  return prefix + (hex.length >= 16 ? hex.slice(-16) : '0000000000000000'.slice(hex.length) + hex);
}

const NO_COMPANIONS: readonly RawRecord[] = Object.freeze([]);

/** Prefixes of `seq` ids by host object (host objects are immutable: the key cannot change). */
const hostPrefixes = new WeakMap<RawRecord['host'], string>();
/** Hashed id prefixes by boot or stream key (bounded: cleared when full). */
const idPrefixes = new Map<string, string>();

/** Collapse whitespace runs and trim, for comparing an alert text with its panic line. */
function squash(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Add companion fields the alert does not have yet (the alert's own fields win). */
function withFields(p: ParsedMessage, extra: Readonly<Record<string, string>>): ParsedMessage {
  const keys = Object.keys(extra);
  if (keys.length === 0) return p;
  const fields: Record<string, string> = { ...p.fields };
  for (const k of keys) if (!(k in fields)) fields[k] = extra[k] as string;
  return Object.freeze({ ...p, fields: Object.freeze(fields) });
}
