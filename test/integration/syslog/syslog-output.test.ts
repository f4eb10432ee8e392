/**
 * syslog output against Debian's rsyslog (test/peers/syslog.mjs): UDP, TCP with octet
 * counting and LF framing, TLS with the generated CA. Every received raw message is parsed
 * (strict RFC 5424 / 3164 header regex + the strict CEF parser) and compared field by field:
 * one line per event, no header, field or line injection.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputError, type QueuedEvent } from '../../../src/core/output.js';
import { replaceControls } from '../../../src/normalize/cef-encoder.js';
import { createSyslogOutput, type SyslogOutput } from '../../../outputs/syslog/syslog-output.js';
import { parseCefStrict, type CefParsed } from '../../support/cef-strict-parser.js';
import { peerForSuite } from '../../support/peers.js';
import { hostileDoc, newRunId, queued } from '../gelf/hostile-events.js';

const RFC5424 = /^<(\d{1,3})>1 (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) - ([\x21-\x7e]{1,32}) - (CEF:0\|.*)$/;
const RFC3164 = /^<(\d{1,3})>([A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) ([\x21-\x7e]{1,255}) ([A-Za-z0-9_.-]{1,32}): (CEF:0\|.*)$/;

interface Line {
  pri: number;
  host: string;
  app: string;
  msgId?: string;
  time: string;
  cef: CefParsed;
}

function parseLine(raw: string, format: 'rfc5424' | 'rfc3164'): Line {
  if (format === 'rfc5424') {
    const m = RFC5424.exec(raw);
    if (!m) throw new Error(`not a strict RFC 5424 CEF message: ${JSON.stringify(raw)}`);
    return { pri: Number(m[1]), time: m[2]!, host: m[3]!, app: m[4]!, msgId: m[5]!, cef: parseCefStrict(m[6]!) };
  }
  const m = RFC3164.exec(raw);
  if (!m) throw new Error(`not a strict RFC 3164 CEF message: ${JSON.stringify(raw)}`);
  return { pri: Number(m[1]), time: m[2]!, host: m[3]!, app: m[4]!, cef: parseCefStrict(m[5]!) };
}

/** Lines of this run (the run id is in every CEF externalId), parsed strictly. */
function received(file: string, runId: string, format: 'rfc5424' | 'rfc3164'): Map<string, Line> {
  const out = new Map<string, Line>();
  // rsyslog may be writing a line right now: only complete (newline-terminated) lines count
  const text = readFileSync(file, 'utf8');
  for (const raw of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    if (!raw.includes(runId)) continue;
    const line = parseLine(raw, format); // a fragment of an injected line would throw here
    const id = line.cef.extension.get('externalId')!;
    expect(out.has(id), `duplicate line for ${id}`).toBe(false);
    out.set(id, line);
  }
  return out;
}

async function waitFor(file: string, runId: string, format: 'rfc5424' | 'rfc3164', n: number): Promise<Map<string, Line>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const got = received(file, runId, format);
    if (got.size >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectedHost(ev: QueuedEvent, fallback: string): string {
  const h = ev.doc.host as { name: string; hostname: string };
  const v = (h.name.trim() || h.hostname.trim() || fallback).trim();
  return v.replace(/[^\x21-\x7e]/g, '_');
}

function cefText(s: string): string {
  return replaceControls(s).trim();
}

function check(ev: QueuedEvent, line: Line, format: 'rfc5424' | 'rfc3164'): void {
  const d = ev.doc as Record<string, any>;
  expect(line.pri).toBe(d.log.syslog.facility.code * 8 + d.log.syslog.severity.code);
  expect(line.host).toBe(expectedHost(ev, 'fallback-host'));
  expect(line.app).toBe('lkrg');
  if (format === 'rfc5424') {
    expect(line.time).toBe(d['@timestamp']);
    expect(line.msgId).toBe(ev.dataset);
  } else {
    const t = new Date(d['@timestamp']);
    expect(line.time.slice(-8)).toBe(t.toISOString().slice(11, 19));
  }
  const c = line.cef;
  expect([c.vendor, c.product, c.signatureId, c.name, c.severity]).toEqual(['Openwall', 'LKRG', d.rule.id, d.rule.name, String(d.event.severity)]);
  const x = c.extension;
  expect(x.get('externalId')).toBe(ev.id);
  expect(x.get('sproc')).toBe(cefText(d.process.name) || undefined);
  expect(x.get('filePath')).toBe(cefText(d.process.executable));
  expect(x.get('msg')).toBe(cefText(d.message));
  expect(x.get('reason')).toBe(cefText(d.event.reason));
  expect(x.get('spid')).toBe(String(d.process.pid));
  expect(x.get('rt')).toBe(String(Date.parse(d['@timestamp'])));
  if (d.host.name.trim()) expect(x.get('dvchost')).toBe(cefText(d.host.name));
}

describe('syslog output against rsyslog', () => {
  const peer = peerForSuite('syslog');
  const outputs: SyslogOutput[] = [];
  const make = (url: string, extra: Record<string, unknown>, name = 'syslog-test'): SyslogOutput => {
    const u = new URL(url);
    const o = createSyslogOutput({ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port), hostname: 'fallback-host', ...extra }, name);
    outputs.push(o);
    return o;
  };
  afterAll(async () => {
    for (const o of outputs) await o.close();
  });

  const cases = [
    { title: 'TCP, octet counting, RFC 5424', url: 'SYSLOG_URL', cfg: { transport: 'tcp', framing: 'octet_counting', format: 'rfc5424' }, n: 300 },
    { title: 'TCP, LF framing, RFC 5424', url: 'SYSLOG_URL', cfg: { transport: 'tcp', framing: 'lf', format: 'rfc5424' }, n: 300 },
    { title: 'TCP, LF framing, RFC 3164', url: 'SYSLOG_URL', cfg: { transport: 'tcp', framing: 'lf', format: 'rfc3164' }, n: 100 },
    { title: 'UDP, RFC 5424', url: 'SYSLOG_UDP_URL', cfg: { transport: 'udp', format: 'rfc5424' }, n: 200 },
    { title: 'UDP over IPv6, RFC 3164', url: 'SYSLOG_UDP6_URL', cfg: { transport: 'udp', format: 'rfc3164' }, n: 50 },
    { title: 'TLS with the generated CA, RFC 5424', url: 'SYSLOG_TLS_URL', cfg: { transport: 'tls', format: 'rfc5424' }, n: 300, tls: true },
  ] as const;

  for (const tc of cases) {
    it(`${tc.title}: every event arrives once, fields intact, no injection`, async () => {
      const runId = newRunId('s');
      const events = Array.from({ length: tc.n }, (_, i) => queued(hostileDoc(i, runId)));
      const out = make(peer.env[tc.url]!, { ...tc.cfg, ...('tls' in tc ? { tls: { ca_file: peer.env.SYSLOG_CA_FILE } } : {}) });
      await out.start(AbortSignal.timeout(5000));
      for (let i = 0; i < events.length; i += 50) {
        const res = await out.send(events.slice(i, i + 50), AbortSignal.timeout(10_000));
        expect(res.filter((r) => r.status !== 'delivered')).toEqual([]);
        if (tc.cfg.transport === 'udp') await new Promise((r) => setTimeout(r, 20));
      }
      const got = await waitFor(peer.env.SYSLOG_RECEIVED!, runId, tc.cfg.format, tc.n);
      expect(got.size).toBe(tc.n);
      for (const ev of events) check(ev, got.get(ev.id)!, tc.cfg.format);
      // the raw file has exactly one line per event of this run (no line injection)
      const lines = readFileSync(peer.env.SYSLOG_RECEIVED!, 'utf8').split('\n').filter((l) => l.includes(runId));
      expect(lines.length).toBe(tc.n);
      expect(lines.filter((l) => l.includes('forged') && !l.includes('CEF:0|Openwall')).length).toBe(0);
    });
  }

  it('TLS with the wrong CA: fatal error naming the output', async () => {
    const out = make(peer.env.SYSLOG_TLS_URL!, { transport: 'tls', tls: { ca_file: peer.env.SYSLOG_UNTRUSTED_CA_FILE } }, 'siem-syslog-tls');
    const err = await out.start(AbortSignal.timeout(5000)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).fatal).toBe(true);
    expect((err as OutputError).retriable).toBe(false);
    expect((err as OutputError).message).toMatch(/^siem-syslog-tls: TLS to the server failed/);
    // send without start fails the same way
    const again = await out.send([queued(hostileDoc(0, 'x'))], AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(again).toMatchObject({ fatal: true });
  });

  it('TCP: a receiver that closed the connection is reconnected on the next send', async () => {
    const runId = newRunId('rc');
    const out = make(peer.env.SYSLOG_URL!, { transport: 'tcp' });
    const a = await out.send([queued(hostileDoc(0, runId))], AbortSignal.timeout(5000));
    expect(a).toEqual([{ status: 'delivered' }]);
    await out.close(); // connection gone
    const b = await out.send([queued(hostileDoc(1, runId))], AbortSignal.timeout(5000));
    expect(b).toEqual([{ status: 'delivered' }]);
    expect((await waitFor(peer.env.SYSLOG_RECEIVED!, runId, 'rfc5424', 2)).size).toBe(2);
  });
});
