/**
 * What the two ECS encoders share: {@link EcsNormalizer} (LkrgEvent -> document object, the
 * canonical form) and {@link EcsJsonWriter} (LkrgEvent -> the same document's JSON text
 * directly). Holds the per-run constant sub-objects and the caches of the per-host and
 * per-priority parts (each with its JSON text), and the small value helpers both must apply
 * identically (times, STATE weakening, field typing, path writes, reason text, labels).
 */
import type { HostIdentity, LkrgEvent, RawRecord } from '../core/types.js';
import type { CompiledMappings, FieldRow, TextPlan } from './mapping-loader.js';

/** The forwarder's own identity, written to `agent.*`. Given by the forwarder (normalizer-factory) and tests. */
export interface AgentInfo {
  readonly type: string;
  readonly name?: string;
  readonly version?: string;
  readonly id?: string;
  readonly ephemeralId?: string;
}

/** Options of {@link EcsNormalizer} (from the `[normalize]` config), passed on by {@link Normalizer}. */
export interface EcsNormalizerOptions {
  /** data_stream.namespace, default `default`. */
  readonly namespace?: string;
  readonly agent: AgentInfo;
  /** Keep the exact input line(s) in event.original (default true). */
  readonly keepOriginal?: boolean;
  /** Tags added to every document's `tags`, after the mapping's own (config `tags`). */
  readonly tags?: readonly string[];
  /**
   * Labels added to every document's `labels` (config `labels`: where the events come from,
   * such as a site or an environment); a label the record carries itself wins on a clash.
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/** A long field value: what `type: long` field rows accept (anything else stays text). Used by both encoders. */
export const NUM_RE = /^-?\d{1,15}$/;

/**
 * Epoch microseconds -> ISO-8601 UTC with microseconds, e.g. 2024-10-14T08:58:23.517017Z.
 * Called by both ECS encoders for @timestamp/event.created (and tests); never throws for
 * finite input (years outside 0000-9999 use the extended `+010000-` form of Date).
 */
export function isoFromMicros(us: number): string {
  const sec = Math.floor(us / 1e6);
  let frac = Math.floor(us - sec * 1e6);
  if (frac > 999_999) frac = 999_999;
  if (!(frac >= 0)) {
    // float rounding far outside Date's range
    const f = '' + frac;
    return secondPrefix(sec) + (f.length < 6 ? '000000'.slice(f.length) + f : f) + 'Z';
  }
  // six digits and Z as one flat string: no number-to-string conversion, no padding
  return secondPrefix(sec) + String.fromCharCode(
    48 + Math.floor(frac / 100_000), 48 + (Math.floor(frac / 10_000) % 10), 48 + (Math.floor(frac / 1000) % 10),
    48 + (Math.floor(frac / 100) % 10), 48 + (Math.floor(frac / 10) % 10), 48 + (frac % 10), 90,
  );
}

let lastSec = NaN;
let lastPrefix = '';

/** "YYYY-MM-DDTHH:MM:SS." for epoch seconds; civil-from-days arithmetic, last value cached. */
function secondPrefix(sec: number): string {
  if (sec === lastSec) return lastPrefix;
  const days = Math.floor(sec / 86400);
  const rem = sec - days * 86400;
  // H. Hinnant's civil_from_days
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 0 || y > 9999) {
    const iso = new Date(sec * 1000).toISOString(); // extended years: +010000-...
    return iso.slice(0, iso.indexOf('.') + 1);
  }
  const hh = Math.floor(rem / 3600), mi = Math.floor((rem % 3600) / 60), ss = rem % 60;
  // one flat string (a `+` chain would be a tree walked again in every text that embeds it)
  lastPrefix = String.fromCharCode(
    48 + Math.floor(y / 1000), 48 + (Math.floor(y / 100) % 10), 48 + (Math.floor(y / 10) % 10), 48 + (y % 10), 45,
    48 + Math.floor(m / 10), 48 + (m % 10), 45, 48 + Math.floor(d / 10), 48 + (d % 10), 84,
    48 + Math.floor(hh / 10), 48 + (hh % 10), 58, 48 + Math.floor(mi / 10), 48 + (mi % 10), 58,
    48 + Math.floor(ss / 10), 48 + (ss % 10), 46,
  );
  lastSec = sec;
  return lastPrefix;
}

/**
 * The same text as one flat (sequential) string. Strings built by `+` are trees V8 walks
 * whenever a larger string containing them is flattened (written to a Buffer, SQLite ...):
 * cached pieces that are embedded in every output must be flat. Exact for every string (lone
 * surrogates included). Called by DocParts and EcsJsonWriter for the pieces they cache; never throws.
 */
export function flatString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** True for an integer 0..max. Used by both encoders for syslog severity/facility/printk level; never throws. */
export function isInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/** @timestamp of an event: its own time, else when received, else when read. Used by both encoders; never throws. */
export function timestampOf(ev: LkrgEvent): string {
  return isoFromMicros(timestampUsOf(ev));
}

/**
 * The event's `@timestamp` in epoch µs: the record's time, else its receive time, else when it
 * was read. Used by the ECS encoders and the run summary.
 */
export function timestampUsOf(ev: LkrgEvent): number {
  const r = ev.record;
  if (r.timeUs !== null && Number.isFinite(r.timeUs)) return r.timeUs;
  if (r.receivedUs !== undefined && Number.isFinite(r.receivedUs)) return r.receivedUs;
  return ev.readAtMs * 1000;
}

/** event.created of an event: when received, else when read. Used by both encoders; never throws. */
export function createdOf(ev: LkrgEvent): string {
  const r = ev.record;
  if (r.receivedUs !== undefined && Number.isFinite(r.receivedUs)) return isoFromMicros(r.receivedUs);
  return isoFromMicros(ev.readAtMs * 1000);
}

/**
 * Whether a STATE change weakens LKRG: true, false, or undefined when it cannot be told
 * (old/new value missing or not a number). Called by both encoders; never throws.
 */
export function isWeakening(rule: 'decrease' | 'increase' | 'always' | 'never', f: Readonly<Record<string, string>>): boolean | undefined {
  if (rule === 'always') return true;
  if (rule === 'never') return false;
  const o = f.old_value, n = f.new_value;
  if (o === undefined || n === undefined || !NUM_RE.test(o) || !NUM_RE.test(n)) return undefined;
  const a = Number(o), b = Number(n);
  return rule === 'decrease' ? b < a : b > a;
}

/**
 * Writes one field row's value into a document: long rows a number, hex/octal rows the text
 * with a `0x`/`0` prefix added, keyword rows the text (EcsJsonWriter writes the same values).
 * Called by EcsNormalizer. Returns false, writing nothing, when a `long` row's text is not a
 * number (the caller keeps it under lkrg.fields); never throws.
 */
export function writeField(doc: Record<string, unknown>, row: FieldRow, text: string): boolean {
  if (row.type === 'long') {
    if (!NUM_RE.test(text)) return false;
    setPath(doc, row.path, Number(text));
  } else if (row.type === 'hex') setPath(doc, row.path, text.startsWith('0x') ? text : '0x' + text);
  else if (row.type === 'octal') setPath(doc, row.path, text.startsWith('0') ? text : '0' + text);
  else setPath(doc, row.path, text);
  return true;
}

/**
 * Sets doc[path[0]][path[1]]... = value, creating objects on the way and copying frozen
 * (shared) ones before writing into them; a non-object in the way is replaced by an object.
 * Called by both encoders (the JSON writer on its placeholder skeletons). Never throws.
 */
export function setPath(doc: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = doc;
  const last = path.length - 1;
  for (let i = 0; i < last; i++) {
    const k = path[i]!;
    let next = o[k] as Record<string, unknown> | undefined;
    if (next === undefined || typeof next !== 'object' || Object.isFrozen(next)) {
      next = next && typeof next === 'object' ? { ...next } : {};
      o[k] = next;
    }
    o = next;
  }
  o[path[last]!] = value;
}

/** doc[path[0]][path[1]]..., undefined when something on the way is missing. Used by EcsNormalizer; never throws. */
export function getPath(doc: Record<string, unknown>, path: readonly string[]): unknown {
  let o: unknown = doc;
  for (const k of path) {
    if (!o || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** A compiled `{field}` text (event.reason) with the event's fields filled in; undefined if one is missing. Used by both encoders; never throws. */
export function renderText(plan: TextPlan, fields: Readonly<Record<string, string>>): string | undefined {
  let s = plan[0]!;
  for (let i = 1; i < plan.length; i += 2) {
    const v = fields[plan[i]!];
    if (v === undefined) return undefined;
    s += v + plan[i + 1]!;
  }
  return s;
}

/** labels.* from a record's extra container fields (keys made ECS-safe); undefined if none. Used by both encoders; never throws. */
export function labelsOf(extra: Readonly<Record<string, string>>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k in extra) {
    const key = k.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^_+/, '') || 'field';
    (out ??= {})[key] = String(extra[k]);
  }
  return out;
}

/** host.* of one host identity, the related.* entries it adds, and their JSON texts. Made by DocParts#hostPart for both encoders. */
export interface HostPart {
  readonly host: Readonly<Record<string, unknown>>;
  readonly relatedHosts?: readonly string[];
  readonly relatedIp?: readonly string[];
  /** JSON.stringify of host / relatedHosts / relatedIp. */
  readonly hostJson: string;
  readonly relatedHostsJson?: string;
  readonly relatedIpJson?: string;
}

/** log.* of one (printk level, facility, severity) and its JSON text. Made by DocParts#log for both encoders. */
export interface LogPart {
  readonly log: Readonly<Record<string, unknown>>;
  readonly json: string;
}

/**
 * The constant and cached parts of ECS documents for one normalizer configuration. Created
 * by {@link EcsNormalizer} and shared with its JSON writer so both hand out the same frozen
 * objects (whose JSON fragments ecs-json.ts caches). Never throws.
 */
export class DocParts {
  readonly ecs: Readonly<Record<string, string>>;
  readonly agent: Readonly<Record<string, string>>;
  readonly dsAlert: Readonly<Record<string, string>>;
  readonly dsLog: Readonly<Record<string, string>>;
  readonly keepOriginal: boolean;
  /**
   * Host parts by content: sources build a new HostIdentity per record, so sharing the frozen
   * part between equal hosts keeps its JSON fragment cached (see ecs-json.ts).
   */
  private readonly hostByKey = new Map<string, HostPart>();
  private lastHost: HostIdentity | undefined;
  private lastHostPart: HostPart | undefined;
  private readonly logCache = new Map<number, LogPart>();
  private lastLogKey = -1;
  private lastLogPart: LogPart | undefined;
  private readonly os = Object.freeze({ type: 'linux' });
  private readonly extraTags: readonly string[];
  private readonly tagCache = new Map<readonly string[], readonly string[]>();
  private readonly staticLabels: Readonly<Record<string, string>> | undefined;

  constructor(
    private readonly m: CompiledMappings,
    opts: EcsNormalizerOptions,
  ) {
    this.ecs = Object.freeze({ version: m.ecsVersion });
    const a: Record<string, string> = { type: opts.agent.type };
    if (opts.agent.name) a.name = opts.agent.name;
    if (opts.agent.version) a.version = opts.agent.version;
    if (opts.agent.id) a.id = opts.agent.id;
    if (opts.agent.ephemeralId) a.ephemeral_id = opts.agent.ephemeralId;
    this.agent = Object.freeze(a);
    const ns = opts.namespace ?? 'default';
    this.dsAlert = Object.freeze({ type: 'logs', dataset: 'lkrg.alert', namespace: ns });
    this.dsLog = Object.freeze({ type: 'logs', dataset: 'lkrg.log', namespace: ns });
    this.keepOriginal = opts.keepOriginal ?? true;
    this.extraTags = opts.tags ?? [];
    this.staticLabels = opts.labels && Object.keys(opts.labels).length > 0 ? Object.freeze({ ...opts.labels }) : undefined;
  }

  /**
   * `tags` of a document: the classification's, then the configured ones (each once). The same
   * frozen array for the same classification, so its JSON stays cacheable. Used by both encoders.
   */
  tags(clsTags: readonly string[]): readonly string[] {
    if (this.extraTags.length === 0) return clsTags;
    let t = this.tagCache.get(clsTags);
    if (t === undefined) this.tagCache.set(clsTags, (t = Object.freeze([...new Set([...clsTags, ...this.extraTags])])));
    return t;
  }

  /**
   * `labels` of a record's document: the configured labels, then the record's own extra
   * container fields (labelsOf), which win on a clash; undefined when there are none. Used by
   * both encoders; never throws.
   */
  labels(rec: RawRecord): Readonly<Record<string, string>> | undefined {
    const own = rec.extra ? labelsOf(rec.extra) : undefined;
    if (this.staticLabels === undefined) return own;
    return own ? { ...this.staticLabels, ...own } : this.staticLabels;
  }

  /**
   * log.* of one record. Depends only on (printk level, facility, severity), so the frozen
   * object is shared by all documents with the same values (its JSON fragment is then cached
   * by ecs-json.ts); a field row writing under log.* copies it first (setPath).
   */
  log(rec: RawRecord, printkLevel: number | undefined): LogPart {
    const sev = isInt(rec.severity, 7) ? rec.severity : undefined;
    const level = sev ?? (isInt(printkLevel, 7) ? printkLevel : undefined);
    const fac = isInt(rec.facility, 23) ? rec.facility : undefined;
    const key = (level ?? 8) * 1000 + (fac ?? 24) * 10 + (sev ?? 8);
    if (key === this.lastLogKey) return this.lastLogPart!;
    let hit = this.logCache.get(key);
    if (!hit) {
      const out: Record<string, unknown> = {};
      if (level !== undefined) out.level = this.m.printkLevels[level];
      if (sev !== undefined || fac !== undefined) {
        const syslog: Record<string, unknown> = {};
        if (fac !== undefined) syslog.facility = Object.freeze({ code: fac, name: this.m.syslogFacilityNames[fac] });
        if (sev !== undefined) syslog.severity = Object.freeze({ code: sev, name: this.m.syslogSeverityNames[sev] });
        if (fac !== undefined && sev !== undefined) syslog.priority = fac * 8 + sev;
        out.syslog = Object.freeze(syslog);
      }
      Object.freeze(out);
      hit = Object.freeze({ log: out, json: flatString(JSON.stringify(out)) });
      this.logCache.set(key, hit);
    }
    this.lastLogKey = key;
    this.lastLogPart = hit;
    return hit;
  }

  /** host.* and related.* of a host identity (cached by identity, then by content). */
  hostPart(h: HostIdentity): HostPart {
    // sources share one HostIdentity between the records of a boot: check identity first
    if (h === this.lastHost) return this.lastHostPart!;
    const part = this.hostPartOf(h);
    this.lastHost = h;
    this.lastHostPart = part;
    return part;
  }

  private hostPartOf(h: HostIdentity): HostPart {
    const n = h.name || '', ip = h.ip || '', id = h.id || '', boot = h.bootId || '';
    // lengths first: unambiguous whatever the values contain
    const key = n.length + ',' + ip.length + ',' + id.length + ',' + boot.length + ':' + n + ip + id + boot;
    const hit = this.hostByKey.get(key);
    if (hit) return hit;
    const host: Record<string, unknown> = {};
    if (h.name) {
      host.name = h.name;
      host.hostname = h.name;
    }
    if (h.ip) host.ip = Object.freeze([h.ip]);
    if (h.id) host.id = h.id;
    if (h.bootId) host.boot = Object.freeze({ id: h.bootId });
    host.os = this.os;
    Object.freeze(host);
    const relatedHosts = h.name ? Object.freeze([h.name]) : undefined;
    const relatedIp = h.ip ? Object.freeze([h.ip]) : undefined;
    const part: HostPart = Object.freeze({
      host,
      ...(relatedHosts ? { relatedHosts, relatedHostsJson: flatString(JSON.stringify(relatedHosts)) } : {}),
      ...(relatedIp ? { relatedIp, relatedIpJson: flatString(JSON.stringify(relatedIp)) } : {}),
      hostJson: flatString(JSON.stringify(host)),
    });
    if (this.hostByKey.size >= 4096) this.hostByKey.clear();
    this.hostByKey.set(key, part);
    return part;
  }
}
