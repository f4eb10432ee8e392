import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildSyslogMessage, frameSyslog, headerToken, syslogPri } from '../../../../outputs/syslog/syslog-message.js';
import { createSyslogOutput, resolveSyslogConfig, syslogUrlToConfig } from '../../../../outputs/syslog/syslog-output.js';
import { ConfigError } from '../../../../src/core/types.js';

const opts = { format: 'rfc5424' as const, defaultFacility: 1, defaultSeverity: 5, appName: 'lkrg', fallbackHost: 'me' };
const doc = {
  '@timestamp': '2026-07-01T10:00:00.123456Z',
  host: { name: 'web01' },
  log: { syslog: { facility: { code: 4 }, severity: { code: 2 } } },
};

describe('buildSyslogMessage', () => {
  it('RFC 5424 and RFC 3164 headers', () => {
    expect(buildSyslogMessage(doc, 'CEF:0|a|b|c|d|e|9|', 'lkrg.alert', opts)).toBe(
      '<34>1 2026-07-01T10:00:00.123456Z web01 lkrg - lkrg.alert - CEF:0|a|b|c|d|e|9|',
    );
    expect(buildSyslogMessage({ ...doc, '@timestamp': '2026-07-05T01:02:03Z' }, 'CEF:0|x', 'm', { ...opts, format: 'rfc3164' })).toBe(
      '<34>Jul  5 01:02:03 web01 lkrg: CEF:0|x',
    );
  });

  it('PRI from the event, else the defaults', () => {
    expect(syslogPri(doc, opts)).toBe(34);
    expect(syslogPri({}, opts)).toBe(13);
    expect(syslogPri({ log: { syslog: { facility: { code: 99 }, severity: { code: -1 } } } }, opts)).toBe(13);
  });

  it('hostile host names cannot add header fields; the body never splits a line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (host, body) => {
        const m = buildSyslogMessage({ host: { name: host } }, 'CEF:0|' + body, 'lkrg.alert', opts);
        expect(m).not.toMatch(/[\r\n\0]/);
        const parts = m.split(' ');
        expect(parts[2]).toMatch(/^[\x21-\x7e]{1,255}$/);
        expect(parts[3]).toBe('lkrg');
        expect(parts[4]).toBe('-');
        expect(parts[5]).toBe('lkrg.alert');
        expect(parts[6]).toBe('-');
      }),
    );
    expect(headerToken('edge 03\n<13>x', 255, '-')).toBe('edge_03_<13>x');
  });

  it('frames with octet counting (bytes, not characters) or LF', () => {
    expect(frameSyslog('ünï', 'octet_counting').toString()).toBe('5 ünï');
    expect(frameSyslog('abc', 'lf').toString()).toBe('abc\n');
  });
});

describe('syslog config', () => {
  it('resolves facility names, ports per transport, refuses bad values', () => {
    const c = resolveSyslogConfig({ host: 'h', transport: 'tls', facility: 'local4', severity: 'warning' }, 's');
    expect([c.port, c.header.defaultFacility, c.header.defaultSeverity, c.tls?.verify]).toEqual([6514, 20, 4, true]);
    expect(resolveSyslogConfig({ host: 'h', transport: 'udp' }, 's').port).toBe(514);
    expect(() => resolveSyslogConfig({ host: 'h', facility: 'nope' }, 's')).toThrow(ConfigError);
    expect(() => resolveSyslogConfig({ host: 'h', transport: 'tls', tls: { ca_file: '/nonexistent/ca.pem' } }, 's')).toThrow(/outputs\.s\.tls\.ca_file/);
  });

  it('URLs', () => {
    expect(syslogUrlToConfig(new URL('syslog+tcp://[::1]:1514?framing=lf&format=rfc3164'))).toEqual({
      type: 'syslog', transport: 'tcp', host: '::1', port: 1514, framing: 'lf', format: 'rfc3164',
    });
    expect(createSyslogOutput({ host: '127.0.0.1', transport: 'udp' }, 's').type).toBe('syslog');
  });
});
