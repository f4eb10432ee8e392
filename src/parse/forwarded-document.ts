/**
 * Recognizes an ECS document that an upstream lkrg-siem wrote (its kafka output, value
 * `ecs_json`) so that a downstream lkrg-siem forwards it unchanged instead of reading it as a
 * kernel line. Called by the kafka source for lines that start with `{`. Recognized: a JSON
 * object with a string `@timestamp`, an `event.id` and an `event.dataset` of `lkrg.*`
 * (nested or flat-dotted keys). Anything else (a journalctl JSON entry, other JSON) gives
 * null and is read as before. The caller hands one line: the JSON text has no newline. Never
 * throws.
 */
import type { ForwardedDocument, HostIdentity, LkrgLevel, ParsedMessage } from '../core/types.js';
import { docValue } from '../core/doc-path.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/**
 * The document behind `text` (one JSON line) with the host and the event time it states, or
 * null when it is not an lkrg-siem ECS document.
 */
export function forwardedDocument(text: string): { document: ForwardedDocument; host: HostIdentity; timeUs: number | null } | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(doc) || typeof doc['@timestamp'] !== 'string') return null;
  const id = str(docValue(doc, 'event.id'));
  const dataset = str(docValue(doc, 'event.dataset'));
  if (!id || !dataset || !dataset.startsWith('lkrg.')) return null;
  const level = str(docValue(doc, 'lkrg.level'));
  const action = str(docValue(doc, 'lkrg.action'));
  const parsed: ParsedMessage = Object.freeze({
    isLkrg: level !== null,
    templateId: str(docValue(doc, 'lkrg.template_id')),
    style: level === null ? null : docValue(doc, 'lkrg.legacy') === true ? 'legacy' : 'current',
    level: level as LkrgLevel | null,
    action: action === 'DETECT' || action === 'BLOCK' || action === 'ALLOW' ? action : null,
    category: str(docValue(doc, 'lkrg.category')),
    fields: Object.freeze({}),
    body: str(docValue(doc, 'message')) ?? '',
  });
  const document: ForwardedDocument = Object.freeze({
    json: text.trim(),
    id,
    dataset,
    namespace: str(docValue(doc, 'data_stream.namespace')) || 'default',
    severity: severityIn(docValue(doc, 'event.severity')),
    kernelLine: docValue(doc, 'event.action') === 'kernel-message',
    parsed,
    forged: docValue(doc, 'lkrg.forged') === true,
  });
  const ip = [docValue(doc, 'host.ip')].flat()[0];
  const name = docValue(doc, 'host.name');
  const hostId = docValue(doc, 'host.id');
  const host: HostIdentity = {
    ...(typeof ip === 'string' ? { ip } : {}),
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof hostId === 'string' ? { id: hostId } : {}),
  };
  return { document, host, timeUs: isoToMicros(doc['@timestamp'] as string) };
}

/** ECS `event.severity` as a number (0 when absent or not a number). */
function severityIn(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Epoch µs of an ISO timestamp with up to µs digits (`2024-10-14T09:49:10.794889Z`), or null. */
export function isoToMicros(iso: string): number | null {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return null;
  const frac = /\.(\d+)(?:Z|[+-]\d\d:?\d\d)$/i.exec(iso)?.[1];
  const micros = frac && frac.length > 3 ? Number(frac.slice(3, 6).padEnd(3, '0')) : 0;
  return ms * 1000 + micros;
}
