/**
 * Defers loading `apache-arrow`, which `@elastic/elasticsearch` 8.19 requires at start-up only
 * for its ES|QL Arrow helpers (`helpers.esql().toArrowTable()` / `toArrowReader()`). lkrg-siem
 * never calls them, and loading Arrow's 146 modules cost about 0.1 s of CPU in every delivery
 * thread that starts the Elasticsearch output.
 *
 * Imported by elasticsearch-output.ts before the client, so it runs first. It puts a stand-in
 * into the CommonJS cache under the exact path the client's helpers resolve. The helpers read
 * Arrow's exports only when an ES|QL Arrow helper is called (`Arrow_node_1.tableFromIPC(...)`):
 * the first such read loads the real module and answers from it, so the helpers keep working.
 *
 * Nothing here can fail the output: when the paths cannot be resolved (another client layout)
 * or Arrow is already loaded, it does nothing and the client loads Arrow as before.
 */
import Module, { createRequire } from 'node:module';

/** Exported for the unit test: whether the stand-in was installed by this process. */
export const arrowDeferred: boolean = install();

function install(): boolean {
  try {
    const clientRequire = createRequire(createRequire(import.meta.url).resolve('@elastic/elasticsearch'));
    const arrowPath = clientRequire.resolve('apache-arrow/Arrow.node');
    const cache = clientRequire.cache;
    if (cache[arrowPath]) return false;
    let real: Record<PropertyKey, unknown> | undefined;
    const load = (): Record<PropertyKey, unknown> => {
      if (real === undefined) {
        delete cache[arrowPath];
        real = clientRequire('apache-arrow/Arrow.node') as Record<PropertyKey, unknown>;
      }
      return real;
    };
    const standIn = new Module(arrowPath);
    standIn.filename = arrowPath;
    standIn.loaded = true;
    standIn.exports = new Proxy(
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
    );
    cache[arrowPath] = standIn;
    return true;
  } catch {
    return false;
  }
}
