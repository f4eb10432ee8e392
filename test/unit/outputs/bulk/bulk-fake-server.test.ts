/**
 * Faults a real single-node server does not produce on demand: per-item 429, request-level
 * 429 with Retry-After, and 413 (request too large). Everything else is tested against the
 * real servers in test/integration/{elasticsearch,opensearch}/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../../src/core/output.js';
import { createElasticsearchOutput } from '../../../../outputs/elasticsearch/elasticsearch-output.js';
import { createOpenSearchOutput } from '../../../../outputs/opensearch/opensearch-output.js';

type Mode = 'item429' | 'req429' | 'limit';
let mode: Mode = 'item429';
const bodies: string[] = [];
const filterPaths: (string | null)[] = [];
const MAX_ACTIONS = 3; // 'limit' answers 413 above this many actions
let server: http.Server;
let url = '';

function ev(i: number): QueuedEvent {
  const doc = { '@timestamp': '2026-07-01T10:00:00Z', event: { id: `e${i}`, dataset: 'lkrg.log' } };
  return { id: `e${i}`, doc, json: JSON.stringify(doc), key: 'h', dataset: 'lkrg.log' };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const headers = { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' };
      const url = new URL(req.url ?? '/', 'http://fake');
      if (url.pathname !== '/_bulk') {
        res.writeHead(200, headers).end('{}');
        return;
      }
      filterPaths.push(url.searchParams.get('filter_path'));
      bodies.push(body);
      const actions = body.trimEnd().split('\n').filter((_, i) => i % 2 === 0).map((l) => JSON.parse(l).create._id as string);
      if (mode === 'req429') {
        res.writeHead(429, { ...headers, 'retry-after': '3' }).end(JSON.stringify({ error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' }, status: 429 }));
        return;
      }
      if (mode === 'limit' && actions.length > MAX_ACTIONS) {
        res.writeHead(413, headers).end('');
        return;
      }
      const items = actions.map((id, i) =>
        mode === 'item429' && i % 2 === 1
          ? { create: { _id: id, status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation' } } }
          : { create: { _id: id, status: 201, result: 'created' } },
      );
      res.writeHead(200, headers).end(JSON.stringify({ errors: mode === 'item429', items }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe.each([
  ['elasticsearch', createElasticsearchOutput],
  ['opensearch', createOpenSearchOutput],
] as const)('%s driver with a fake server', (_type, create) => {
  it('per-item 429: only those events are retried', async () => {
    mode = 'item429';
    const d = create({ urls: [url] }, 'fake');
    const r = await d.send([ev(0), ev(1), ev(2), ev(3)], AbortSignal.timeout(5000));
    expect(r.map((x) => x.status)).toEqual(['delivered', 'retry', 'delivered', 'retry']);
    expect(r[1]).toMatchObject({ reason: '429 es_rejected_execution_exception: rejected execution of primary operation' });
    // the answer is cut down to what the classification reads
    expect(filterPaths.at(-1)).toBe('items.*.status,items.*.error,items.*._index');
    await d.close();
  });

  it('request-level 429: retriable OutputError with Retry-After', async () => {
    mode = 'req429';
    const d = create({ urls: [url] }, 'fake');
    let err: unknown;
    await d.send([ev(0)], AbortSignal.timeout(5000)).catch((e) => (err = e));
    expect(err).toBeInstanceOf(OutputError);
    expect(err).toMatchObject({ retriable: true, fatal: false, retryAfterMs: 3000 });
    await d.close();
  });

  it('413: the batch is split until each part fits, one result per event in order', async () => {
    mode = 'limit';
    bodies.length = 0;
    const d = create({ urls: [url] }, 'fake');
    const batch = Array.from({ length: 10 }, (_, i) => ev(i));
    const r = await d.send(batch, AbortSignal.timeout(5000));
    expect(r).toHaveLength(10);
    expect(r.every((x) => x.status === 'delivered')).toBe(true);
    // 10 -> 413, 5 -> 413, 3 ok, 2 ok, 5 -> 413, 3 ok, 2 ok
    const sizes = bodies.map((b) => b.trimEnd().split('\n').length / 2);
    expect(sizes).toEqual([10, 5, 3, 2, 5, 3, 2]);
    const sentIds = bodies.slice(1).filter((_, i) => i !== 0 && i !== 3).flatMap((b) => b.trimEnd().split('\n').filter((_, k) => k % 2 === 0).map((l) => JSON.parse(l).create._id));
    expect(sentIds).toEqual(batch.map((e) => e.id));
    await d.close();
  });
});
