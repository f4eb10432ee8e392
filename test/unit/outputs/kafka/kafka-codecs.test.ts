/**
 * outputs/kafka/kafka-codecs.ts: the byte formats other Kafka clients read (snappy-java framing,
 * LZ4 frame, gzip), round trips through the real native codecs, and the kafkajs registration.
 * The real broker and kcat read these back in test/integration/kafka.
 */
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  KAFKA_CODECS,
  compressionType,
  isXerialSnappy,
  registerKafkaCodecs,
  type KafkajsCodec,
  xerialSnappyDecode,
  xerialSnappyEncode,
} from '../../../../outputs/kafka/kafka-codecs.js';
import { KAFKA_COMPRESSIONS } from '../../../../outputs/kafka/kafka-output-spec.js';

const require = createRequire(import.meta.url);
const snappy = require('snappy') as { compressSync(b: Buffer): Buffer; uncompressSync(b: Buffer, o: { asBuffer: true }): Buffer };

/** LKRG-like JSON lines: repetitive, as real batches are. */
function payload(n: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ message: `LKRG: ALERT: DETECT: Task: euid corruption for pid ${1000 + i}, name x${i}`, seq: i }));
  return Buffer.from(lines.join('\n'));
}

describe('snappy (snappy-java framing)', () => {
  const block = (b: Buffer) => snappy.compressSync(b);
  const unblock = (b: Buffer) => snappy.uncompressSync(b, { asBuffer: true });

  it('writes the snappy-java header, then 32 KiB blocks with big-endian lengths', () => {
    const data = payload(2000); // well over 32 KiB
    expect(data.length).toBeGreaterThan(3 * 32 * 1024);
    const framed = xerialSnappyEncode(data, block);
    expect([...framed.subarray(0, 8)]).toEqual([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
    expect(framed.readInt32BE(8)).toBe(1);
    expect(framed.readInt32BE(12)).toBe(1);
    // walk the blocks: each decompresses to 32 KiB but the last
    let at = 16;
    const sizes: number[] = [];
    while (at < framed.length) {
      const len = framed.readInt32BE(at);
      sizes.push(unblock(framed.subarray(at + 4, at + 4 + len)).length);
      at += 4 + len;
    }
    expect(at).toBe(framed.length);
    expect(sizes.slice(0, -1).every((s) => s === 32 * 1024)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(framed.length).toBeLessThan(data.length / 2);
    expect(xerialSnappyDecode(framed, unblock).equals(data)).toBe(true);
  });

  it('reads a bare Snappy block (librdkafka and kafkajs-snappy producers) and an empty frame', () => {
    const data = payload(50);
    const bare = snappy.compressSync(data);
    expect(isXerialSnappy(bare)).toBe(false);
    expect(xerialSnappyDecode(bare, unblock).equals(data)).toBe(true);
    const empty = xerialSnappyEncode(Buffer.alloc(0), block);
    expect(empty.length).toBe(16);
    expect(xerialSnappyDecode(empty, unblock).length).toBe(0);
  });

  it('names a truncated or overrunning frame', () => {
    const framed = xerialSnappyEncode(payload(100), block);
    expect(() => xerialSnappyDecode(framed.subarray(0, framed.length - 3), unblock)).toThrow(/snappy frame: block of \d+ bytes at byte 20 runs past the end/);
    expect(() => xerialSnappyDecode(Buffer.concat([framed, Buffer.from([0, 0])]), unblock)).toThrow(/snappy frame: truncated block length/);
  });

  it('the kafkajs codec round-trips through the native package', async () => {
    const data = payload(500);
    const c = await KAFKA_CODECS.snappy.compress({ buffer: data });
    expect(isXerialSnappy(c)).toBe(true);
    expect((await KAFKA_CODECS.snappy.decompress(c)).equals(data)).toBe(true);
  });
});

describe('lz4 (LZ4 frame)', () => {
  it('writes an LZ4 frame with independent blocks that round-trips', async () => {
    const data = payload(3000);
    const c = await KAFKA_CODECS.lz4.compress({ buffer: data });
    expect(c.readUInt32LE(0)).toBe(0x184d2204); // frame magic
    const flg = c[4]!;
    expect(flg >> 6).toBe(1); // version 01
    expect((flg >> 5) & 1).toBe(1); // block independence (Kafka reads no linked blocks)
    // BD: the maximum block size lz4_flex declares (4 MiB); Kafka's readers accept 64 KiB to 4 MiB
    expect((c[5]! >> 4) & 7).toBe(7);
    expect(c.length).toBeLessThan(data.length / 2);
    expect((await KAFKA_CODECS.lz4.decompress(c)).equals(data)).toBe(true);
  });
});

describe('gzip', () => {
  it('writes ordinary gzip that round-trips', async () => {
    const data = payload(200);
    const c = await KAFKA_CODECS.gzip.compress({ buffer: data });
    expect([c[0], c[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(c).equals(data)).toBe(true);
    expect((await KAFKA_CODECS.gzip.decompress(c)).equals(data)).toBe(true);
  });
});

describe('kafkajs registration', () => {
  it('installs every codec and maps each compression value to its kafkajs type', () => {
    const codecs: Record<number, () => KafkajsCodec> = {};
    const fake = { CompressionTypes: kafkajs.CompressionTypes, CompressionCodecs: codecs };
    registerKafkaCodecs(fake);
    expect(codecs[kafkajs.CompressionTypes.GZIP]!()).toBe(KAFKA_CODECS.gzip);
    expect(codecs[kafkajs.CompressionTypes.Snappy]!()).toBe(KAFKA_CODECS.snappy);
    expect(codecs[kafkajs.CompressionTypes.LZ4]!()).toBe(KAFKA_CODECS.lz4);
    expect(KAFKA_COMPRESSIONS.map((c) => compressionType(fake, c))).toEqual([
      kafkajs.CompressionTypes.GZIP,
      kafkajs.CompressionTypes.Snappy,
      kafkajs.CompressionTypes.LZ4,
      kafkajs.CompressionTypes.None,
    ]);
  });
});
