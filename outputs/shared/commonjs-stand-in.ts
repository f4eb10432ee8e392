/**
 * Puts a module of our own into Node's CommonJS cache under the exact path a third-party package
 * will `require`, before it does, so that require returns ours. Used by the Elasticsearch output
 * (lazy stand-ins for modules its client loads for unused features) and the Kafka output (a
 * linear replacement for a kafkajs helper). Returns false, changing nothing, when that path is
 * already loaded: the package then keeps its own module. Never throws.
 */
import Module, { createRequire } from 'node:module';

export function putInCommonJsCache(path: string, exports: unknown): boolean {
  const cache = createRequire(path).cache;
  if (cache[path]) return false;
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = exports;
  cache[path] = m;
  return true;
}
