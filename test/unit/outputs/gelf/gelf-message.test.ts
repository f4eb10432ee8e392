import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkGelf, gelfFieldName, toGelf } from '../../../../outputs/graylog-gelf/gelf-message.js';
import { createGelfOutput, gelfUrlToConfig, resolveGelfConfig } from '../../../../outputs/graylog-gelf/graylog-gelf-output.js';
import { ConfigError } from '../../../../src/core/types.js';

const opts = { defaultLevel: 6, fallbackHost: 'fallback' };

describe('toGelf', () => {
  it('maps the GELF header fields and flattens the document', () => {
    const m = toGelf(
      {
        '@timestamp': '2026-07-01T10:00:00.123Z',
        message: 'ALERT: x',
        id: 'x',
        event: { original: 'raw line', category: ['a', 'b'], id: 'e1', severity: 9 },
        host: { name: 'web01' },
        log: { syslog: { severity: { code: 2 } } },
        process: { pid: 42, name: 'a"}b' },
        weird: [{ a: 1 }],
        flag: true,
        nothing: null,
        'gl2_x': 'y',
      },
      'key',
      opts,
    );
    expect(m).toEqual({
      version: '1.1',
      host: 'web01',
      short_message: 'ALERT: x',
      full_message: 'raw line',
      timestamp: 1782900000.123,
      level: 2,
      _ecs_timestamp: '2026-07-01T10:00:00.123Z',
      _ecs_id: 'x',
      _event_category: 'a,b',
      _event_id: 'e1',
      _event_severity: 9,
      _host_name: 'web01',
      _log_syslog_severity_code: 2,
      _process_pid: 42,
      _process_name: 'a"}b',
      _weird: '[{"a":1}]',
      _flag: 'true',
      _ecs_gl2_x: 'y',
    });
  });

  it('never leaves host or short_message blank and defaults the level', () => {
    const m = toGelf({ host: { name: '  ' } }, '', opts);
    expect(m).toMatchObject({ host: 'fallback', short_message: 'LKRG event', level: 6 });
    expect(toGelf({ host: {} }, '10.0.0.1', opts).host).toBe('10.0.0.1');
  });

  it('field names: valid for Graylog, never _id, for any key', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 4 }), fc.string(), (path, value) => {
        const doc: Record<string, unknown> = {};
        let o = doc;
        path.forEach((k, i) => {
          if (i === path.length - 1) o[k] = value;
          else o = (o[k] = {}) as Record<string, unknown>;
        });
        const m = toGelf(doc, 'k', opts);
        const json = JSON.stringify(m);
        expect(json.includes('\0')).toBe(false);
        const back = JSON.parse(json) as Record<string, unknown>;
        for (const k of Object.keys(back)) {
          if (k.startsWith('_')) {
            expect(k).toMatch(/^_[\w.-]+$/);
            expect(k).not.toBe('_id');
          }
        }
        expect(back).toEqual(m);
      }),
    );
    expect(gelfFieldName('_id')).toBe('ecs_id');
    expect(gelfFieldName('@timestamp')).toBe('ecs_timestamp');
    expect(gelfFieldName('a b|c.d')).toBe('a_b_c_d');
  });
});

describe('chunkGelf', () => {
  it('sends small payloads unchunked and splits large ones with a shared id, 12-byte headers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20_000 }), fc.integer({ min: 512, max: 2000 }), (bytes, size) => {
        const payload = Buffer.from(bytes);
        const chunks = chunkGelf(payload, size)!;
        if (payload.length <= size) {
          expect(chunks).toEqual([payload]);
          return;
        }
        const id = chunks[0]!.subarray(2, 10);
        chunks.forEach((c, i) => {
          expect(c.length).toBeLessThanOrEqual(size);
          expect([c[0], c[1], c[10], c[11]]).toEqual([0x1e, 0x0f, i, chunks.length]);
          expect(c.subarray(2, 10)).toEqual(id);
        });
        expect(Buffer.concat(chunks.map((c) => c.subarray(12)))).toEqual(payload);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses more than 128 chunks', () => {
    expect(chunkGelf(Buffer.alloc(128 * 1408), 1420)).toHaveLength(128);
    expect(chunkGelf(Buffer.alloc(128 * 1408 + 1), 1420)).toBeUndefined();
  });
});

describe('graylog_gelf config', () => {
  it('defaults compression per transport and refuses compressed TCP', () => {
    expect(resolveGelfConfig({ host: 'h', transport: 'udp' }, 'g').compression).toBe('gzip');
    expect(resolveGelfConfig({ host: 'h', transport: 'tcp' }, 'g').compression).toBe('none');
    expect(() => resolveGelfConfig({ host: 'h', transport: 'tcp', compression: 'gzip' }, 'g')).toThrow(ConfigError);
    expect(() => resolveGelfConfig({ host: 'h', transport: 'udp', tls: { enabled: true } }, 'g')).toThrow(/outputs\.g\.tls\.enabled/);
  });

  it('turns URLs into config sections (IPv6 too)', () => {
    expect(gelfUrlToConfig(new URL('gelf+udp://[::1]:12201?compression=zlib&chunk_size=8154'))).toEqual({
      type: 'graylog_gelf', transport: 'udp', host: '::1', port: 12201, compression: 'zlib', chunk_size: 8154,
    });
    expect(gelfUrlToConfig(new URL('gelf+https://graylog:12202/gelf?ca_file=/ca.pem'))).toMatchObject({
      transport: 'http', tls: { enabled: true, ca_file: '/ca.pem' },
    });
    expect(createGelfOutput({ host: '::1', transport: 'tcp' }, 'g').maxInFlight).toBe(1);
  });
});
