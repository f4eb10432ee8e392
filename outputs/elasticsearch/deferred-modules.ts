/**
 * Defers two modules that `@elastic/elasticsearch` 8.19 loads at start-up for features
 * lkrg-siem never uses:
 *
 * - `apache-arrow` (146 modules, about 0.1 s of CPU), required by the client's helpers only
 *   for the ES|QL Arrow helpers (`helpers.esql().toArrowTable()` / `toArrowReader()`);
 * - `@opentelemetry/core` (about 0.04 s), required by `@elastic/transport` only to suppress
 *   tracing of the client's own API calls (`openTelemetry.suppressInternalInstrumentation`);
 *   lkrg-siem's raw transport requests open no span.
 *
 * Imported by elasticsearch-output.ts before the client, so it runs first. It puts a stand-in
 * into the CommonJS cache under the exact path each requiring module resolves. Both read the
 * module's exports only when the feature is used (`Arrow_node_1.tableFromIPC(...)`,
 * `core_1.suppressTracing(...)`): the first such read loads the real module and answers from
 * it, so those features keep working. Every Elasticsearch delivery thread starts faster.
 *
 * Nothing here can fail the output: a path that cannot be resolved (another client layout) or a
 * module already loaded is left alone, and the client loads it as before.
 */
import { createRequire } from 'node:module';
import { putInCommonJsCache } from '../shared/commonjs-stand-in.js';

/** The stand-ins installed by this process, as `<requiring package> -> <module>` (for the test). */
export const deferredModules: readonly string[] = install();

function install(): string[] {
  const done: string[] = [];
  try {
    const client = createRequire(createRequire(import.meta.url).resolve('@elastic/elasticsearch'));
    if (defer(client, 'apache-arrow/Arrow.node')) done.push('@elastic/elasticsearch -> apache-arrow/Arrow.node');
    const transport = createRequire(client.resolve('@elastic/transport'));
    if (defer(transport, '@opentelemetry/core')) done.push('@elastic/transport -> @opentelemetry/core');
  } catch {
    /* another layout: load everything as usual */
  }
  return done;
}

/** Caches a lazy stand-in for `request` as resolved by `from`; false when it is not possible. */
function defer(from: NodeJS.Require, request: string): boolean {
  let path: string;
  try {
    path = from.resolve(request);
  } catch {
    return false;
  }
  let real: Record<PropertyKey, unknown> | undefined;
  const load = (): Record<PropertyKey, unknown> => {
    if (real === undefined) {
      delete from.cache[path];
      real = from(request) as Record<PropertyKey, unknown>;
    }
    return real;
  };
  return putInCommonJsCache(
    path,
    new Proxy(
      {},
      {
        get: (_t, key) => load()[key],
        has: (_t, key) => key in load(),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_t, key) => {
          const d = Reflect.getOwnPropertyDescriptor(load(), key);
          return d && { ...d, configurable: true };
        },
      },
    ),
  );
}
