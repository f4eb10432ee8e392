/**
 * outputs/elasticsearch/defer-arrow.ts: loading the Elasticsearch output does not load
 * apache-arrow, and the client's ES|QL Arrow helpers still get the real module on first use.
 * Runs in a fresh Node process (the CommonJS cache is per process), on the built dist/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const outputModule = join(root, 'dist', 'outputs', 'elasticsearch', 'elasticsearch-output.js');

const script = `
import { createRequire } from 'node:module';
const { arrowDeferred } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'outputs', 'elasticsearch', 'defer-arrow.js')).href)});
await import(${JSON.stringify(pathToFileURL(outputModule).href)});
const { Client } = createRequire(${JSON.stringify(outputModule)})('@elastic/elasticsearch');
new Client({ node: 'http://127.0.0.1:9' });
const req = createRequire(createRequire(${JSON.stringify(outputModule)}).resolve('@elastic/elasticsearch'));
const arrowModules = () => Object.keys(req.cache).filter((k) => k.includes('/apache-arrow/')).length;
const before = arrowModules();
const arrow = req('apache-arrow/Arrow.node');
const fn = typeof arrow.tableFromIPC;
const reader = typeof arrow.AsyncRecordBatchStreamReader?.from;
console.log(JSON.stringify({ arrowDeferred, before, fn, reader, after: arrowModules() }));
`;

describe('defer-arrow', () => {
  it('keeps apache-arrow unloaded until an Arrow export is read, then loads the real module', () => {
    expect(existsSync(outputModule), 'build first (npm run build)').toBe(true);
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(r.arrowDeferred).toBe(true);
    // only the stand-in is in the cache while the output and the client are loaded
    expect(r.before).toBe(1);
    expect(r.fn).toBe('function');
    expect(r.reader).toBe('function');
    // reading an export loaded Arrow itself (well over a hundred modules)
    expect(r.after as number).toBeGreaterThan(100);
  });
});
