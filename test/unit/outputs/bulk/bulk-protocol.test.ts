import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../../src/core/output.js';
import {
  classifyBulkItems,
  docValue,
  encodeBulk,
  eventNamespace,
  indexTemplateProblem,
  namespaceInJson,
  parseRetryAfter,
  requestFailure,
  targetIndex,
} from '../../../../outputs/search-bulk/bulk-protocol.js';

function ev(id: string, dataset = 'lkrg.alert', extra: Record<string, unknown> = {}): QueuedEvent {
  const doc = { '@timestamp': '2026-07-01T10:00:00.000Z', event: { id, dataset }, message: `m ${id}`, ...extra };
  return { id, doc, json: JSON.stringify(doc), key: 'web01', dataset };
}

// Recorded by hand from Elasticsearch 9.5.3 (the test peer): create a1, create a1 again,
// create a2 with "abc" for a field mapped long.
const recorded = {
  errors: true,
  took: 600,
  items: [
    { create: { _index: '.ds-logs-lkrg.alert-default-2026.11.26-000001', _id: 'a1', _version: 1, result: 'created', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: 0, _primary_term: 1, status: 201 } },
    { create: { _index: '.ds-logs-lkrg.alert-default-2026.11.26-000001', _id: 'a1', status: 409, error: { type: 'version_conflict_engine_exception', reason: '[a1]: version conflict, document already exists (current version [1])', index_uuid: 'nDFS6gDRSDayOSa56IeAuA', shard: '0', index: '.ds-logs-lkrg.alert-default-2026.11.26-000001' } } },
    { create: { _index: '.ds-logs-lkrg.alert-default-2026.11.26-000001', _id: 'a2', status: 400, error: { type: 'document_parsing_exception', reason: "[1:42] failed to parse field [n] of type [long] in document with id 'a2'. Preview of field's value: 'abc'", caused_by: { type: 'illegal_argument_exception', reason: 'For input string: "abc"' } } } },
  ],
};

describe('encodeBulk', () => {
  it('writes one create action per event with _index from dataset/namespace and _id = event id', () => {
    const batch = [ev('a'), ev('b', 'lkrg.log'), ev('c', 'lkrg.alert', { data_stream: { namespace: 'prod' } }), ev('d', 'lkrg.log', { 'data_stream.namespace': 'flat' })];
    const enc = encodeBulk(batch, 'logs-{dataset}-{namespace}');
    const text = enc.body.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(8);
    expect(JSON.parse(lines[0]!)).toEqual({ create: { _index: 'logs-lkrg.alert-default', _id: 'a' } });
    expect(lines[1]).toBe(batch[0]!.json);
    expect(JSON.parse(lines[2]!)).toEqual({ create: { _index: 'logs-lkrg.log-default', _id: 'b' } });
    expect(JSON.parse(lines[4]!).create._index).toBe('logs-lkrg.alert-prod');
    expect(JSON.parse(lines[6]!).create._index).toBe('logs-lkrg.log-flat');
    expect(enc.positions).toEqual([0, 1, 2, 3]);
    expect(enc.early.size).toBe(0);
  });

  it('rejects events whose target name is invalid, before sending, and keeps the rest', () => {
    const enc = encodeBulk([ev('a'), ev('b', 'lkrg.alert', { data_stream: { namespace: 'Bad NS' } }), ev('c')], 'logs-{dataset}-{namespace}');
    expect(enc.positions).toEqual([0, 2]);
    expect(enc.early.get(1)).toMatchObject({ status: 'rejected' });
    expect((enc.early.get(1) as { reason: string }).reason).toMatch(/logs-lkrg.alert-Bad NS/);
  });

  it('encodes the body byte-identically to JSON-serialized action lines, without reading ev.doc', () => {
    const docs = [ev('a'), ev('b\u00e9"\\', 'lkrg.log', { data_stream: { namespace: 'prod' } }), ev('c', 'lkrg.alert', { message: 'x\n"data_stream":{"namespace":"evil"}' })];
    // events whose doc must not be parsed: the namespace comes from the stored text
    const batch = docs.map((e) => ({ id: e.id, json: e.json, key: e.key, dataset: e.dataset, get doc(): never { throw new Error('doc read'); } }));
    for (const template of ['logs-{dataset}-{namespace}', 'bench-{dataset}']) {
      const enc = encodeBulk(batch, template);
      const expected = docs
        .map((e) => `${JSON.stringify({ create: { _index: template.replace('{dataset}', e.dataset).replace('{namespace}', eventNamespace(e)), _id: e.id } })}\n${e.json}\n`)
        .join('');
      expect(enc.body.toString('utf8')).toBe(expected);
      expect(enc.body.length).toBe(Buffer.byteLength(expected));
    }
    expect(encodeBulk(batch, 'logs-{dataset}-{namespace}').body.toString('utf8')).toContain('"_index":"logs-lkrg.alert-default","_id":"c"');
  });

  it('routes by the namespace the queue recorded, without searching the text; falls back to the text without one', () => {
    const base = ev('q', 'lkrg.alert', { data_stream: { namespace: 'prod' } });
    // the text is a string that must not be searched: every search method throws
    const json = Object.assign(Object.create(String.prototype) as object, { valueOf: () => base.json, toString: () => base.json });
    for (const m of ['includes', 'indexOf', 'lastIndexOf', 'charCodeAt', 'slice']) {
      Object.defineProperty(json, m, { value: () => { throw new Error(`text searched (${m})`); } });
    }
    const queued: QueuedEvent = { id: 'q', doc: base.doc, json: json as unknown as string, key: 'k', dataset: 'lkrg.alert', namespace: 'prod' };
    expect(eventNamespace(queued)).toBe('prod');
    expect(targetIndex('logs-{dataset}-{namespace}', queued)).toEqual({ index: 'logs-lkrg.alert-prod' });
    expect(eventNamespace({ ...base, namespace: '' })).toBe('default');
    // a row queued without it (older state file): read from the text
    expect(eventNamespace({ ...base, namespace: undefined })).toBe('prod');
    expect(encodeBulk([{ ...base, namespace: 'prod' }, { ...base, id: 'r' }], 'logs-{dataset}-{namespace}').body.toString('utf8')).toBe(
      `{"create":{"_index":"logs-lkrg.alert-prod","_id":"q"}}\n${base.json}\n{"create":{"_index":"logs-lkrg.alert-prod","_id":"r"}}\n${base.json}\n`,
    );
  });

  it('reads data_stream.namespace from the JSON text exactly as JSON.parse + docValue do', () => {
    // escaped keys (quote, backslash) are rare: the scanner hands those documents back (SCAN_FAILED)
    const key = fc.oneof(
      { arbitrary: fc.constantFrom('data_stream', 'namespace', 'data_stream.namespace', 'event', 'tags', ''), weight: 12 },
      { arbitrary: fc.constantFrom('a"b', 'x\\', 'n\u0001'), weight: 1 },
    );
    const str = fc.oneof(fc.constantFrom('default', 'prod', '', '"namespace":"x"', '\\', '\\"', '{"data_stream":{"namespace":"no"}}', 'é\u2028'), fc.string());
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, str, fc.integer(), fc.boolean(), fc.constant(null), tie('arr'), tie('obj')),
      arr: fc.array(tie('v'), { maxLength: 3 }),
      obj: fc.dictionary(key, tie('v'), { maxKeys: 4 }),
    })).v;
    const dataStream = fc.dictionary(fc.constantFrom('namespace', 'type', 'dataset', 'a"b'), value, { maxKeys: 3 });
    const doc = fc.tuple(fc.dictionary(key, value, { maxKeys: 5 }), fc.option(dataStream, { freq: 2 }), fc.dictionary(key, value, { maxKeys: 3 })).map(([a, ds, b]) =>
      ds === null ? { ...a, ...b } : { ...a, data_stream: ds, ...b },
    );
    const hasEscapedKey = (v: unknown): boolean =>
      v !== null && typeof v === 'object' && Object.entries(v).some(([k, x]) => JSON.stringify(k) !== `"${k}"` || hasEscapedKey(x));
    let found = 0;
    fc.assert(
      fc.property(doc, fc.boolean(), (d, pretty) => {
        const text = pretty ? JSON.stringify(d, null, 2) : JSON.stringify(d);
        const want = docValue(JSON.parse(text) as Record<string, unknown>, 'data_stream.namespace');
        const got = namespaceInJson(text);
        if (typeof got === 'symbol') return hasEscapedKey(d); // the caller parses such documents
        if (typeof want === 'string') found++;
        expect(got).toBe(typeof want === 'string' ? want : undefined);
        return true;
      }),
      { numRuns: 3000 },
    );
    expect(found).toBeGreaterThan(100); // the generator does reach the namespace
    // duplicate keys (JSON.stringify never writes them): the last one wins, as in JSON.parse
    for (const text of [
      '{"data_stream":{"namespace":"a"},"x":1,"data_stream":{"namespace":"b"}}',
      '{"data_stream":{"namespace":"a","namespace":"b"},"tags":["x"]}',
      '{"data_stream.namespace":"flat","data_stream":{"namespace":"n"}}',
      '{"data_stream":{"namespace":"n"},"data_stream.namespace":7}',
      '{"data_stream":{"namespace":"a"},"data_stream":[{"namespace":"b"}]}',
      ' { "a" : [ 1 , { "data_stream" : { "namespace" : "deep" } } ] , "data_stream" : { "namespace" : "top\\u00e9" } } ',
    ]) {
      const want = docValue(JSON.parse(text) as Record<string, unknown>, 'data_stream.namespace');
      expect(namespaceInJson(text)).toBe(typeof want === 'string' ? want : undefined);
    }
  });

  it('validates index templates', () => {
    expect(indexTemplateProblem('logs-{dataset}-{namespace}')).toBeUndefined();
    expect(indexTemplateProblem('logs-{dataset}-{nope}')).toMatch(/unknown placeholder \{nope\}/);
    expect(indexTemplateProblem('Logs-{dataset}')).toMatch(/lower case/);
    expect(indexTemplateProblem('_logs')).toMatch(/cannot start/);
    expect(targetIndex('lkrg', ev('x'))).toEqual({ index: 'lkrg' });
  });
});

describe('classifyBulkItems', () => {
  it('classifies a recorded Elasticsearch answer: 201 delivered, 409 delivered (duplicate), 400 rejected with the reason', () => {
    const r = classifyBulkItems('es', recorded, [0, 1, 2]);
    expect(r.get(0)).toEqual({ status: 'delivered' });
    expect(r.get(1)).toEqual({ status: 'delivered' });
    expect(r.get(2)).toEqual({
      status: 'rejected',
      reason:
        "400 document_parsing_exception: [1:42] failed to parse field [n] of type [long] in document with id 'a2'. Preview of field's value: 'abc' (caused by illegal_argument_exception: For input string: \"abc\")",
    });
  });

  it('maps answers back to batch positions', () => {
    const r = classifyBulkItems('es', recorded, [4, 7, 9]);
    expect([...r.keys()]).toEqual([4, 7, 9]);
  });

  it('retries only 429 and 5xx items', () => {
    const answer = {
      errors: true,
      items: [
        { create: { status: 201 } },
        { create: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' } } },
        { create: { status: 503, error: { type: 'unavailable_shards_exception', reason: '[logs][0] primary shard is not active' } } },
        { create: { status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [process.pid] of type [long]' } } },
        { create: { status: 400, error: { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' } } },
      ],
    };
    const r = classifyBulkItems('es', answer, [0, 1, 2, 3, 4]);
    expect(r.get(0)).toEqual({ status: 'delivered' });
    expect(r.get(1)).toEqual({ status: 'retry', reason: '429 es_rejected_execution_exception: rejected execution of coordinating operation' });
    expect(r.get(2)).toMatchObject({ status: 'retry', reason: expect.stringMatching(/^503 unavailable_shards_exception/) });
    expect(r.get(3)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^400 mapper_parsing_exception: failed to parse field \[process.pid\]/) });
    expect(r.get(4)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/illegal_argument_exception: only write ops/) });
  });

  it('throws fatal for 403 and 404 items (privileges, auto-create off), naming the output', () => {
    const forbidden = { errors: true, items: [{ create: { status: 201 } }, { create: { _index: 'logs-lkrg.alert-default', status: 403, error: { type: 'security_exception', reason: 'action [indices:data/write/bulk[s]] is unauthorized for API key id [x]' } } }] };
    const e1 = capture(() => classifyBulkItems('es-prod', forbidden, [0, 1]));
    expect(e1).toBeInstanceOf(OutputError);
    expect(e1).toMatchObject({ fatal: true, retriable: false });
    expect(e1.message).toMatch(/^es-prod: not allowed to write to logs-lkrg.alert-default \(403 security_exception/);
    const missing = { errors: true, items: [{ create: { status: 404, error: { type: 'index_not_found_exception', reason: 'no such index [logs-lkrg.alert-default]' } } }] };
    const e2 = capture(() => classifyBulkItems('es-prod', missing, [0]));
    expect(e2).toMatchObject({ fatal: true, retriable: false });
    expect(e2.message).toMatch(/index_not_found_exception: no such index/);
  });

  it('throws retriable when the answer does not match the request', () => {
    const e = capture(() => classifyBulkItems('es', { items: [{ create: { status: 201 } }] }, [0, 1]));
    expect(e).toMatchObject({ retriable: true, fatal: false });
    expect(e.message).toMatch(/1 items for 2 actions/);
    expect(capture(() => classifyBulkItems('es', { took: 1 }, [0]))).toMatchObject({ retriable: true });
  });
});

describe('requestFailure and Retry-After', () => {
  it('429 and 5xx are retriable and carry Retry-After', () => {
    const e = requestFailure('es', 'bulk request', 429, { 'retry-after': '7' }, { error: { type: 'es_rejected_execution_exception', reason: 'queue full' }, status: 429 });
    expect(e).toMatchObject({ retriable: true, fatal: false, retryAfterMs: 7000 });
    expect(e.message).toBe('es: bulk request answered 429: es_rejected_execution_exception: queue full');
    expect(requestFailure('es', 'bulk request', 503, {}, 'Service Unavailable')).toMatchObject({ retriable: true, retryAfterMs: undefined });
  });

  it('401, 403 and other 4xx are fatal', () => {
    const e401 = requestFailure('es', 'bulk request', 401, {}, { error: { root_cause: [{ type: 'security_exception', reason: 'unable to authenticate user [x]' }], type: 'security_exception', reason: 'unable to authenticate user [x]' }, status: 401 });
    expect(e401).toMatchObject({ fatal: true, retriable: false });
    expect(e401.message).toMatch(/401 \(authentication failed.*security_exception: unable to authenticate user/);
    expect(requestFailure('es', 'bulk request', 403, {}, {})).toMatchObject({ fatal: true });
    expect(requestFailure('es', 'bulk request', 400, {}, { error: { type: 'media_type_header_exception', reason: 'Accept version must be either version 8 or 7, but found 9' } })).toMatchObject({ fatal: true });
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(['1.5'])).toBe(1500);
    expect(parseRetryAfter('Wed, 01 Jul 2026 10:00:30 GMT', Date.parse('2026-07-01T10:00:00Z'))).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

function capture(fn: () => unknown): OutputError {
  try {
    fn();
  } catch (err) {
    return err as OutputError;
  }
  throw new Error('expected a throw');
}

describe('MappingCompat', () => {
  it('learns unknown types from Elasticsearch and OpenSearch messages and rewrites mappings', async () => {
    const { MappingCompat, buildTemplates } = await import('../../../../outputs/search-bulk/search-templates.js');
    const c = new MappingCompat();
    expect(c.learn('mapper_parsing_exception: Failed to parse mapping: The mapper type [match_only_text] declared on field [message] does not exist.')).toBe(true);
    expect(c.learn('mapper_parsing_exception: No handler for type [flattened] declared on field [labels]')).toBe(true);
    expect(c.learn('No handler for type [flat_object] declared on field [labels]')).toBe(true); // next in the chain: object
    expect(c.learn('Field [namespace] is missing required parameter [value]')).toBe(true);
    expect(c.learn('unknown parameter [synthetic_source_keep] on mapper [tags] of type [keyword]')).toBe(true);
    expect(c.learn('something else entirely')).toBe(false);
    const out = c.apply({
      template: { mappings: { properties: {
        message: { type: 'match_only_text' },
        tags: { type: 'keyword', ignore_above: 1024, synthetic_source_keep: 'none' },
        x: { type: 'flattened' },
        ds: { properties: { type: { type: 'constant_keyword' } } },
      } } },
    });
    expect(out).toEqual({
      template: { mappings: { properties: {
        message: { type: 'text' },
        tags: { type: 'keyword', ignore_above: 1024 },
        x: { type: 'object', enabled: false },
        ds: { properties: { type: { type: 'keyword' } } },
      } } },
    });
    expect(c.describe()).toContain('match_only_text -> text');
    const set = buildTemplates({ prefix: 'lkrg-siem', index: 'logs-{dataset}-{namespace}', priority: 200, elastic: true });
    expect(set.indexTemplate.body).toMatchObject({ index_patterns: ['logs-lkrg.*-*'], data_stream: {}, priority: 200 });
    expect(set.components).toHaveLength(16);
  });
});

describe('resolveSearchSettings', () => {
  it('reads secrets from env, rejects ambiguous or incomplete auth and bad URLs with the key name', async () => {
    const { resolveSearchSettings } = await import('../../../../outputs/search-bulk/search-config.js');
    const { ConfigError } = await import('../../../../src/core/types.js');
    process.env.LKRG_TEST_ES_PW = 's3cret';
    const s = resolveSearchSettings({ urls: ['https://127.0.0.1:9200'], username: 'u', password_env: 'LKRG_TEST_ES_PW' }, 'outputs.es.', { apiKey: true });
    expect(s.auth).toEqual({ username: 'u', password: 's3cret' });
    expect(s.tls.verify).toBe(true);
    expect(s.index).toBe('logs-{dataset}-{namespace}');
    const bad = (cfg: Record<string, unknown>) => {
      try {
        resolveSearchSettings(cfg, 'outputs.es.', { apiKey: true });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toContain('s3cret');
        return (err as InstanceType<typeof ConfigError>).key;
      }
      throw new Error('expected ConfigError');
    };
    expect(bad({ urls: ['ftp://x'] })).toBe('outputs.es.urls');
    expect(bad({ urls: ['http://u:s3cret@x:9200'] })).toBe('outputs.es.urls');
    expect(bad({ urls: ['http://x:9200'], username: 'u' })).toBe('outputs.es.password');
    expect(bad({ urls: ['http://x:9200'], username: 'u', password: 's3cret', password_env: 'LKRG_TEST_ES_PW' })).toBe('outputs.es.password_env');
    expect(bad({ urls: ['http://x:9200'], username: 'u', password: 's3cret' })).toBe('outputs.es.password'); // never inline
    expect(bad({ urls: ['http://x:9200'], api_key: 'k' })).toBe('outputs.es.api_key');
    expect(bad({ urls: ['http://x:9200'], api_key_env: 'LKRG_TEST_ES_PW', username: 'u', password_env: 'LKRG_TEST_ES_PW' })).toBe('outputs.es.api_key');
    expect(bad({ urls: ['http://x:9200'], password_env: 'LKRG_TEST_NOT_SET_X' })).toBe('outputs.es.password_env');
    expect(bad({ urls: ['http://x:9200'], index: 'logs-{dataset}-{bad}' })).toBe('outputs.es.index');
    expect(bad({ urls: ['http://x:9200'], tls: { ca_file: '/nonexistent/ca.pem' } })).toBe('outputs.es.tls.ca_file');
  });
});
