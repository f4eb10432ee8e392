/**
 * The splunk-hec driver against a fake HEC server, for the faults the real receiver (the
 * OpenTelemetry Collector splunkhecreceiver peer, see test/integration/splunk-hec/) cannot
 * produce: Splunk's JSON auth codes (401 code 2/3, 403 code 4), 503 code 9 busy with
 * Retry-After, code 7 incorrect index, code 14 ack disabled, acks that never come, a transient
 * failure in the middle of a bisect, and invalid-event-number hints.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OutputError } from '../../../../src/core/output.js';
import { splitRange, SplunkHecOutput } from '../../../../outputs/splunk-hec/splunk-hec-output.js';
import { resolveSplunkHecSettings } from '../../../../outputs/splunk-hec/splunk-hec-spec.js';
import { splunkHecUrlToConfig } from '../../../../outputs/splunk-hec/index.js';
import { outputType } from '../../../../outputs/output-registry.js';
import { outputsFromFlags } from '../../../../src/app/output-flags.js';
import { redact } from '../../../../src/config/config-spec.js';
import { makeEvents } from '../../../integration/splunk-hec/hec-fixtures.js';

const TOKEN = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

interface FakeRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly events: Record<string, unknown>[];
  readonly raw: string;
}
type Reply = { status: number; body?: string; headers?: Record<string, string> };
type Handler = (req: FakeRequest) => Reply;

let server: Server;
let url: string;
let handler: Handler;
const requests: FakeRequest[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let buf = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') buf = gunzipSync(buf);
      const raw = buf.toString('utf8');
      const path = (req.url ?? '').split('?')[0]!;
      const events = path === '/services/collector/event' && raw ? raw.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
      const fr: FakeRequest = { path, headers: req.headers, events, raw };
      requests.push(fr);
      const reply = handler(fr);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  url = `http://127.0.0.1:${addr.port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const drivers: SplunkHecOutput[] = [];
afterEach(async () => {
  requests.length = 0;
  for (const d of drivers.splice(0)) await d.close();
});

function driver(extra: Record<string, unknown> = {}): SplunkHecOutput {
  process.env.LKRG_TEST_HEC_TOKEN = TOKEN;
  const d = new SplunkHecOutput('hec-test', resolveSplunkHecSettings({ url, token_env: 'LKRG_TEST_HEC_TOKEN', ...extra }, 'outputs.hec-test.'));
  drivers.push(d);
  return d;
}

const OK = { status: 200, body: '{"text":"Success","code":0}' };
const signal = () => AbortSignal.timeout(10_000);
const eventId = (e: Record<string, unknown>) => ((e.event as Record<string, unknown>).event as { id: string }).id;

describe('splunk-hec driver vs a fake HEC (faults the real receiver cannot produce)', () => {
  it('sends the Splunk auth scheme, a UUID channel, gzip and concatenated events', async () => {
    handler = () => OK;
    const d = driver();
    const batch = makeEvents(10, 'basic');
    const res = await d.send(batch, signal());
    expect(res).toEqual(batch.map(() => ({ status: 'delivered' })));
    expect(requests).toHaveLength(1);
    const r = requests[0]!;
    expect(r.headers.authorization).toBe(`Splunk ${TOKEN}`);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers['x-splunk-request-channel']).toBe(d.channel);
    expect(d.channel).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r.events.map(eventId)).toEqual(batch.map((e) => e.id));
  });

  it('sends uncompressed bodies with compression: false', async () => {
    handler = () => OK;
    await driver({ compression: false }).send(makeEvents(2, 'plain'), signal());
    expect(requests[0]!.headers['content-encoding']).toBeUndefined();
    expect(requests[0]!.events).toHaveLength(2);
  });

  it.each([
    [401, '{"text":"Token is required","code":2}'],
    [401, '{"text":"Invalid authorization","code":3}'],
    [403, '{"text":"Invalid token","code":4}'],
    [403, '{"text":"Token disabled","code":1}'],
    [400, '{"text":"Incorrect index","code":7,"invalid-event-number":0}'],
  ])('HTTP %i %s → fatal OutputError naming the output, token not in the message', async (status, body) => {
    handler = () => ({ status, body });
    const err = await driver().send(makeEvents(3, 'auth'), signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).fatal).toBe(true);
    expect((err as OutputError).message).toContain('splunk-hec output "hec-test"');
    expect((err as OutputError).message).not.toContain(TOKEN);
    expect(requests).toHaveLength(1); // no bisect of a token problem
  });

  it('503 code 9 (busy) → retriable OutputError honouring Retry-After', async () => {
    handler = () => ({ status: 503, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '3' } });
    const err = (await driver().send(makeEvents(3, 'busy'), signal()).catch((e: unknown) => e)) as OutputError;
    expect(err).toBeInstanceOf(OutputError);
    expect(err.retriable).toBe(true);
    expect(err.fatal).toBe(false);
    expect(err.retryAfterMs).toBe(3000);
  });

  it('bisects an invalid batch: rejects exactly the bad events, delivers the rest', async () => {
    const batch = makeEvents(16, 'bisect');
    const bad = new Set([batch[3]!.id, batch[11]!.id]);
    handler = (r) =>
      r.events.some((e) => bad.has(eventId(e))) ? { status: 400, body: '{"text":"Invalid data format","code":6}' } : OK;
    const d = driver();
    const res = await d.send(batch, signal());
    res.forEach((r, i) => {
      if (bad.has(batch[i]!.id)) expect(r).toMatchObject({ status: 'rejected', reason: expect.stringContaining('code 6') });
      else expect(r).toEqual({ status: 'delivered' });
    });
    // every delivered event reached the server exactly once in an accepted request
    const accepted = requests.filter((r) => !r.events.some((e) => bad.has(eventId(e)))).flatMap((r) => r.events.map(eventId));
    expect(accepted.sort()).toEqual(batch.filter((e) => !bad.has(e.id)).map((e) => e.id).sort());
    expect(requests.length).toBeLessThanOrEqual(2 * batch.length - 1);
  });

  it('uses invalid-event-number to isolate the bad event in three requests', async () => {
    const batch = makeEvents(20, 'hint');
    handler = (r) => {
      const k = r.events.findIndex((e) => eventId(e) === batch[12]!.id);
      return k < 0 ? OK : { status: 400, body: JSON.stringify({ text: 'Error in handling indexed fields', code: 15, 'invalid-event-number': k }) };
    };
    const res = await driver().send(batch, signal());
    expect(res.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(res[12]!.status).toBe('rejected');
    expect(requests).toHaveLength(4); // whole batch, [0,12), [12], (12,20)
  });

  it('a transient failure inside a bisect becomes per-event retries; delivered parts stay delivered', async () => {
    const batch = makeEvents(8, 'mixed');
    let n = 0;
    handler = (r) => {
      n++;
      if (n === 1) return { status: 400, body: '{"text":"Invalid data format","code":6}' };
      if (r.events.some((e) => eventId(e) === batch[0]!.id)) return { status: 503, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '2' } };
      return OK;
    };
    const res = await driver().send(batch, signal());
    expect(res.slice(0, 4)).toEqual(batch.slice(0, 4).map(() => expect.objectContaining({ status: 'retry', retryAfterMs: 2000 })));
    expect(res.slice(4)).toEqual(batch.slice(4).map(() => ({ status: 'delivered' })));
  });

  it('ack on: delivered only after /ack reports true; polls with the same channel', async () => {
    let acked = false;
    handler = (r) => {
      if (r.path === '/services/collector/ack') {
        const ids = (JSON.parse(r.raw) as { acks: number[] }).acks;
        return { status: 200, body: JSON.stringify({ acks: Object.fromEntries(ids.map((id) => [id, acked && id === 7])) }) };
      }
      return { status: 200, body: '{"text":"Success","code":0,"ackId":7}' };
    };
    const d = driver({ ack: { enabled: true, poll_interval_ms: 50, timeout_ms: 5000 } });
    let settled = false;
    const p = d.send(makeEvents(5, 'ack'), signal()).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    const polls = requests.filter((r) => r.path === '/services/collector/ack');
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((r) => r.headers['x-splunk-request-channel'] === d.channel)).toBe(true);
    acked = true;
    expect(await p).toEqual(Array(5).fill({ status: 'delivered' }));
  });

  it('ack on: an ack that never comes → retry after ack.timeout_ms, saying it may duplicate', async () => {
    handler = (r) =>
      r.path === '/services/collector/ack'
        ? { status: 200, body: '{"acks":{"3":false}}' }
        : { status: 200, body: '{"text":"Success","code":0,"ackId":3}' };
    const started = Date.now();
    const res = await driver({ ack: { enabled: true, poll_interval_ms: 50, timeout_ms: 400 } }).send(makeEvents(2, 'noack'), signal());
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    for (const r of res) expect(r).toMatchObject({ status: 'retry', reason: expect.stringContaining('may duplicate') });
  });

  it('ack on but the server returns no ackId → fatal (ack not enabled on the token)', async () => {
    handler = () => OK;
    const err = (await driver({ ack: { enabled: true } }).send(makeEvents(2, 'noid'), signal()).catch((e: unknown) => e)) as OutputError;
    expect(err).toBeInstanceOf(OutputError);
    expect(err.fatal).toBe(true);
    expect(err.message).toContain('returned no ackId');
  });

  it('ack on but the token has ack disabled (code 14) → start fails fatally', async () => {
    handler = (r) => {
      if (r.path === '/services/collector/health') return { status: 200, body: '{"text":"HEC is healthy","code":17}' };
      if (r.path === '/services/collector/ack') return { status: 400, body: '{"text":"ACK is disabled","code":14}' };
      return { status: 400, body: '{"text":"No data","code":5}' };
    };
    const err = (await driver({ ack: { enabled: true } }).start(signal()).catch((e: unknown) => e)) as OutputError;
    expect(err.fatal).toBe(true);
    expect(err.message).toContain('code 14');
  });

  it('start: healthy + "No data" for the empty probe → ok; unhealthy 503 code 18 → retriable', async () => {
    handler = (r) =>
      r.path === '/services/collector/health' ? { status: 200, body: '{"text":"HEC is healthy","code":17}' } : { status: 400, body: '{"text":"No data","code":5}' };
    await driver().start(signal());
    handler = () => ({ status: 503, body: '{"text":"HEC is unhealthy, queues are full","code":18}' });
    const err = (await driver().healthcheck(signal()).catch((e: unknown) => e)) as OutputError;
    expect(err.retriable).toBe(true);
    expect(err.fatal).toBe(false);
  });
});

describe('splitRange', () => {
  it('splits in halves, or around the hinted event', () => {
    expect(splitRange(0, 5)).toEqual([[0, 3], [3, 5]]);
    expect(splitRange(10, 20, 0)).toEqual([[10, 11], [11, 20]]);
    expect(splitRange(10, 20, 9)).toEqual([[10, 19], [19, 20]]);
    expect(splitRange(10, 20, 4)).toEqual([[10, 14], [14, 15], [15, 20]]);
    expect(splitRange(0, 4, 99)).toEqual([[0, 2], [2, 4]]);
  });
});

describe('splunk-hec config', () => {
  it('reads the token from env or file only, never inline, and never shows it', () => {
    expect(() => resolveSplunkHecSettings({ url, token: TOKEN }, 'o.')).toThrow(/inline token is not accepted/);
    try {
      resolveSplunkHecSettings({ url, token: TOKEN }, 'o.');
    } catch (e) {
      expect((e as Error).message).not.toContain(TOKEN);
    }
    expect(() => resolveSplunkHecSettings({ url }, 'o.')).toThrow(/token_env/);
    expect(() => resolveSplunkHecSettings({ url, token_env: 'LKRG_TEST_NO_SUCH_VAR' }, 'o.')).toThrow(/not set/);
    expect(() => resolveSplunkHecSettings({ url, token_file: '/nonexistent/token' }, 'o.')).toThrow(/ENOENT/);
    expect(() => resolveSplunkHecSettings({ url: 'ftp://x', token_env: 'LKRG_TEST_HEC_TOKEN' }, 'o.')).toThrow(/http/);
    expect(() => resolveSplunkHecSettings({ url, token_env: 'LKRG_TEST_HEC_TOKEN', channel: 'nope' }, 'o.')).toThrow(/UUID/);
    expect(() =>
      resolveSplunkHecSettings({ url, token_env: 'LKRG_TEST_HEC_TOKEN', ack: { enabled: true, timeout_ms: 30_000 }, request_timeout_ms: 30_000 }, 'o.'),
    ).toThrow(/below request_timeout_ms/);
    const s = resolveSplunkHecSettings({ url: url + '/', token_env: 'LKRG_TEST_HEC_TOKEN' }, 'o.');
    expect(s).toMatchObject({ url, compression: true, eventFormat: 'cim', sourcetype: 'lkrg:cim:{dataset_kind}', tls: { verify: true } });
  });

  it('builds a config from a --output URL; a token in the URL goes to a private env variable, never into the config', () => {
    expect(splunkHecUrlToConfig(new URL('splunk-hec+https://splunk.example:8088?index=sec&ack=true'))).toEqual({
      type: 'splunk_hec',
      url: 'https://splunk.example:8088',
      index: 'sec',
      ack: { enabled: true },
      token_env: 'SPLUNK_HEC_TOKEN',
    });
    const withToken = splunkHecUrlToConfig(new URL(`splunk+http://${TOKEN}@h:8088`));
    expect(JSON.stringify(withToken)).not.toContain(TOKEN);
    expect(process.env[withToken.token_env as string]).toBe(TOKEN);
    expect(withToken).toMatchObject({ type: 'splunk_hec', url: 'http://h:8088' });
    expect(() => splunkHecUrlToConfig(new URL('splunk-hec+http://h:8088?token=abc'))).toThrow(/unknown query key token/);
  });
});

describe('splunk-hec registration', () => {
  it('is a queued output type with delivery fields, reachable from --output, with defaults filled', async () => {
    const def = outputType('splunk_hec')!;
    expect(def.kind).toBe('queued');
    expect(def.fields).toHaveProperty('batch');
    expect(def.fields).not.toHaveProperty('token');
    const [cfg] = outputsFromFlags(['splunk-hec+http://127.0.0.1:8088?token_env=LKRG_TEST_HEC_TOKEN'], 'ecs');
    expect(cfg).toMatchObject({ type: 'splunk_hec', name: 'splunk_hec', url: 'http://127.0.0.1:8088', compression: true, event_format: 'cim', ack: { enabled: false } });
    // the printed config holds only the variable name, never the token
    process.env.LKRG_TEST_HEC_TOKEN = TOKEN;
    expect(JSON.stringify(redact(def.fields, cfg!))).not.toContain(TOKEN);
    const d = await def.createDriver!(cfg!, 'splunk_hec');
    expect(d.type).toBe('splunk_hec');
    drivers.push(d as SplunkHecOutput);
  });
});
