/**
 * The value at a dotted ECS path (`data_stream.namespace`) of a parsed document, as the
 * outputs and the state store read single fields of a queued document: a flat dotted key at
 * the top (`{"data_stream.namespace": ...}`) wins, else the nested objects are walked (an array
 * on the way ends the walk). Undefined when something on the way is missing. Never throws.
 */
export function docValue(doc: Readonly<Record<string, unknown>> | undefined, dotted: string): unknown {
  if (doc === undefined) return undefined;
  if (dotted in doc) return doc[dotted];
  let cur: unknown = doc;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
