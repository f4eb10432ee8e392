/**
 * outputs/elasticsearch/deferred-modules.ts: loading the Elasticsearch output (and its client)
 * loads neither apache-arrow nor @opentelemetry/core, and the first read of an export loads the
 * real module. Runs in a fresh Node process (the CommonJS cache is per process), on dist/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const dir = join(root, 'dist', 'outputs', 'elasticsearch');
const outputModule = join(dir, 'elasticsearch-output.js');

const script = `
import { createRequire } from 'node:module';
const { deferredModules } = await import(${JSON.stringify(pathToFileURL(join(dir, 'deferred-modules.js')).href)});
const { createElasticsearchOutput } = await import(${JSON.stringify(pathToFileURL(outputModule).href)});
const driver = createElasticsearchOutput({ urls: ['http://127.0.0.1:9'] }, 'es-test');
// a request through the client's transport (refused: nothing listens on port 9)
await driver.start(AbortSignal.timeout(5000)).catch(() => undefined);
const client = createRequire(createRequire(${JSON.stringify(outputModule)}).resolve('@elastic/elasticsearch'));
const transport = createRequire(client.resolve('@elastic/transport'));
const count = (part) => Object.keys(client.cache).filter((k) => k.includes(part)).length;
const before = { arrow: count('/apache-arrow/'), core: count('/@opentelemetry/core/') };
const arrowFn = typeof client('apache-arrow/Arrow.node').tableFromIPC;
const coreFn = typeof transport('@opentelemetry/core').suppressTracing;
console.log(JSON.stringify({ deferredModules, before, arrowFn, coreFn, after: { arrow: count('/apache-arrow/'), core: count('/@opentelemetry/core/') } }));
`;

describe('deferred modules of the Elasticsearch client', () => {
  it('keeps apache-arrow and @opentelemetry/core unloaded until an export is read, then loads the real modules', () => {
    expect(existsSync(outputModule), 'build first (npm run build)').toBe(true);
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      deferredModules: string[];
      before: { arrow: number; core: number };
      arrowFn: string;
      coreFn: string;
      after: { arrow: number; core: number };
    };
    expect(r.deferredModules).toEqual(['@elastic/elasticsearch -> apache-arrow/Arrow.node', '@elastic/transport -> @opentelemetry/core']);
    // only the stand-ins are cached while the output, its client and a request ran
    expect(r.before).toEqual({ arrow: 1, core: 1 });
    expect(r.arrowFn).toBe('function');
    expect(r.coreFn).toBe('function');
    // reading an export loaded each real module with its own dependencies
    expect(r.after.arrow).toBeGreaterThan(100);
    expect(r.after.core).toBeGreaterThan(10);
  });
});
