/**
 * Encodes queued ECS events as Splunk HEC JSON events (one envelope per event; a batch is the
 * envelopes concatenated with "\n", which HEC reads as a stream of top-level objects).
 *
 * Envelope: `time` (epoch seconds with milliseconds, from ECS `@timestamp`), `host` (host.name,
 * else the first host.ip, else the queue key), `source`, `sourcetype`, optional `index`,
 * `fields` (indexed fields: flat strings or string lists only) and `event`:
 * - event_format `ecs`: the ECS document unchanged;
 * - event_format `cim`: the ECS document plus flat CIM-named keys at its top level (added only
 *   where the ECS document has no key of that name, so no ECS data is ever replaced).
 *
 * Every envelope is produced by JSON.stringify of a fresh object, so event text (attacker
 * controlled: process names with quotes, newlines, NUL, `"}{"`) always stays inside JSON string
 * values and can never start a second event. Used by the splunk-hec driver and its tests.
 */
import type { EcsDocument, QueuedEvent } from '../../src/core/output.js';
import { docValue as getPath } from '../../src/core/doc-path.js';

/** Encoder settings (a subset of the resolved output settings). */
export interface HecEncoderOptions {
  readonly eventFormat: 'cim' | 'ecs';
  /** Sourcetype template; {dataset_kind} = alert or log. */
  readonly sourcetype: string;
  readonly source: string;
  readonly index?: string;
  readonly indexedFields: readonly string[];
}

/** One encoded event: its envelope JSON (no trailing newline). */
export interface EncodedHecEvent {
  readonly json: string;
}

/** The HEC envelope as an object (exported for tests). */
export interface HecEnvelope {
  time?: number;
  host?: string;
  source: string;
  sourcetype: string;
  index?: string;
  fields?: Record<string, string | string[]>;
  event: Record<string, unknown>;
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/** An indexed-field value: a string, or a list of strings; undefined for objects and empties. */
export function flatFieldValue(v: unknown): string | string[] | undefined {
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const item of v) {
      const s = scalarText(item);
      if (s === undefined) return undefined; // nested objects/lists are never sent as indexed fields
      out.push(s);
    }
    return out.length === 0 ? undefined : out.length === 1 ? out[0] : out;
  }
  return scalarText(v);
}

/**
 * HEC `time` from an ISO-8601 @timestamp: epoch seconds with exactly millisecond precision
 * (sub-millisecond digits are dropped here; the ECS document keeps them). Undefined when absent
 * or unparsable (HEC then uses the receive time).
 */
export function hecTime(timestamp: unknown): number | undefined {
  if (typeof timestamp !== 'string') return undefined;
  const ms = Date.parse(timestamp);
  if (!Number.isFinite(ms)) return undefined;
  return Math.round(ms) / 1000;
}

function firstText(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length ? scalarText(v[0]) : undefined;
  return scalarText(v);
}

/** The HEC `host`: host.name, else the first host.ip, else `fallback`. */
export function hecHost(doc: EcsDocument, fallback: string): string | undefined {
  return firstText(getPath(doc, 'host.name')) ?? firstText(getPath(doc, 'host.ip')) ?? (fallback || undefined);
}

function severityWord(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  // event.severity uses the 0-10 CEF scale in lkrg-siem's mappings (1 info ... 10 critical)
  if (v >= 9) return 'critical';
  if (v >= 7) return 'high';
  if (v >= 4) return 'medium';
  if (v >= 2) return 'low';
  return 'informational';
}

function textList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(scalarText).filter((s): s is string => s !== undefined);
  const s = scalarText(v);
  return s === undefined ? [] : [s];
}

/**
 * Flat CIM-named keys for an ECS document (Intrusion Detection / Alerts / Change models):
 * vendor_product, dvc, dest, signature, signature_id, category, action, severity, type,
 * ids_type, mitre_technique_id, process_name, process_id, user_name. Keys without a source
 * value are left out. Tags (ids, attack, ...) are search-time knowledge for a Splunk TA.
 */
export function cimFields(doc: EcsDocument, dataset: string): Record<string, unknown> {
  const cim: Record<string, unknown> = { vendor_product: 'Openwall LKRG' };
  const dvc = hecHost(doc, '');
  if (dvc !== undefined) {
    cim.dvc = dvc;
    cim.dest = dvc;
  }
  const signature = scalarText(getPath(doc, 'rule.name')) ?? scalarText(getPath(doc, 'event.action'));
  if (signature !== undefined) cim.signature = signature;
  const signatureId = scalarText(getPath(doc, 'rule.id'));
  if (signatureId !== undefined) cim.signature_id = signatureId;
  const category = scalarText(getPath(doc, 'lkrg.category')) ?? scalarText(getPath(doc, 'rule.category'));
  if (category !== undefined) cim.category = category;
  const lkrgAction = scalarText(getPath(doc, 'lkrg.action'));
  if (lkrgAction === 'BLOCK') cim.action = 'blocked';
  else if (lkrgAction === 'DETECT' || lkrgAction === 'ALLOW') cim.action = 'allowed';
  const severity = severityWord(getPath(doc, 'event.severity'));
  if (severity !== undefined) cim.severity = severity;
  const alert = dataset === 'lkrg.alert';
  cim.type = alert ? 'alert' : 'event';
  if (alert) cim.ids_type = 'host';
  const techniques = [
    ...textList(getPath(doc, 'threat.technique.subtechnique.id')),
    ...textList(getPath(doc, 'threat.technique.id')),
  ];
  if (techniques.length) cim.mitre_technique_id = techniques.length === 1 ? techniques[0] : techniques;
  const processName = scalarText(getPath(doc, 'process.name'));
  if (processName !== undefined) cim.process_name = processName;
  const pid = scalarText(getPath(doc, 'process.pid'));
  if (pid !== undefined) cim.process_id = pid;
  const user = scalarText(getPath(doc, 'user.name'));
  if (user !== undefined) cim.user_name = user;
  return cim;
}

/** `alert` for lkrg.alert, `log` for everything else (sourcetype placeholder). */
export function datasetKind(dataset: string): 'alert' | 'log' {
  return dataset === 'lkrg.alert' ? 'alert' : 'log';
}

/** Builds the HEC envelope object of one event. */
export function hecEnvelope(ev: QueuedEvent, opts: HecEncoderOptions): HecEnvelope {
  const doc = ev.doc;
  const envelope: HecEnvelope = {
    source: opts.source,
    sourcetype: opts.sourcetype.replace(/\{dataset_kind\}/g, datasetKind(ev.dataset)),
    event: doc as Record<string, unknown>,
  };
  const time = hecTime(doc['@timestamp']);
  if (time !== undefined) envelope.time = time;
  const host = hecHost(doc, ev.key);
  if (host !== undefined) envelope.host = host;
  if (opts.index !== undefined) envelope.index = opts.index;
  let fields: Record<string, string | string[]> | undefined;
  for (const path of opts.indexedFields) {
    const v = flatFieldValue(getPath(doc, path));
    if (v !== undefined) (fields ??= {})[path] = v;
  }
  if (fields) envelope.fields = fields;
  if (opts.eventFormat === 'cim') {
    const event: Record<string, unknown> = { ...doc };
    for (const [k, v] of Object.entries(cimFields(doc, ev.dataset))) if (!(k in event)) event[k] = v;
    envelope.event = event;
  }
  return envelope;
}

/** Encodes one event (JSON.stringify of its envelope: event text stays inside strings). */
export function encodeHecEvent(ev: QueuedEvent, opts: HecEncoderOptions): EncodedHecEvent {
  return { json: JSON.stringify(hecEnvelope(ev, opts)) };
}

/** The request body of a batch: envelopes joined by newlines (HEC's concatenated-JSON batching). */
export function hecBody(events: readonly EncodedHecEvent[]): string {
  let body = '';
  for (let i = 0; i < events.length; i++) body += (i ? '\n' : '') + events[i]!.json;
  return body;
}
