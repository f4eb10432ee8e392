/**
 * Record batch compression codecs of the kafka output, in the formats every Kafka client reads:
 *
 * - gzip: zlib at level 1 (kafkajs's own codec uses level 6; level 1 costs a third of the CPU
 *   for LKRG's repetitive JSON at a slightly larger size). Runs in libuv's thread pool.
 * - snappy: the Java client's framing (snappy-java `SnappyOutputStream`: an 8-byte magic, two
 *   version words, then blocks of at most 32 KiB, each a big-endian length and a raw Snappy
 *   block). Java, librdkafka and Go clients read it. Decoding also accepts a bare Snappy block,
 *   which librdkafka and kafkajs-snappy producers write.
 * - lz4: the LZ4 frame format (what KIP-57 settled for Kafka 0.10+) with independent blocks,
 *   compressed off the JavaScript thread. lz4_flex declares a 4 MiB maximum block size; Kafka's
 *   readers accept 64 KiB to 4 MiB, and a batch is at most max_message_bytes anyway.
 *
 * Snappy and LZ4 come from `snappy` (napi-rs) and `lz4-napi`, prebuilt native packages from the
 * npm registry. They are loaded on the first batch that uses them, so a run with gzip or none
 * never loads them. Imported by kafka-output.ts, which registers {@link registerKafkaCodecs}
 * with kafkajs (also for reading back, as the tests do). Errors: a corrupt snappy frame throws
 * an Error naming what is wrong; native codec errors are passed through.
 */
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { KafkaCompression } from './kafka-output-spec.js';

/**
 * kafkajs's codec shape, called by kafkajs for every compressed record batch it writes
 * (`compress`, with its encoder: `{ buffer }`) or reads (`decompress`). A rejected promise fails
 * that send (classified by classify-kafka-error.ts like any other send error) or that fetch.
 */
export interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const require = createRequire(import.meta.url);

interface SnappyModule {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Buffer, opts?: { asBuffer?: boolean }): Buffer | string;
}
interface Lz4Module {
  compressFrame(data: Uint8Array): Promise<Buffer>;
  decompressFrame(data: Uint8Array): Promise<Buffer>;
}
let snappyModule: SnappyModule | undefined;
let lz4Module: Lz4Module | undefined;
const snappy = (): SnappyModule => (snappyModule ??= require('snappy') as SnappyModule);
const lz4 = (): Lz4Module => (lz4Module ??= require('lz4-napi') as Lz4Module);

const gzipAsync = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.gzip);
const unzipAsync = promisify<zlib.InputType, Buffer>(zlib.unzip);

/** snappy-java's stream header: `\x82SNAPPY\0`, then version 1 and compatible version 1. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
/** snappy-java's default block size (uncompressed bytes per block). */
const XERIAL_BLOCK_BYTES = 32 * 1024;

/** `data` in the snappy-java framing, each block compressed by `block`. */
export function xerialSnappyEncode(data: Buffer, block: (chunk: Buffer) => Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts: Buffer[] = [header];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const c = block(data.subarray(at, Math.min(data.length, at + XERIAL_BLOCK_BYTES)));
    const len = Buffer.alloc(4);
    len.writeInt32BE(c.length, 0);
    parts.push(len, c);
  }
  return Buffer.concat(parts);
}

/** True when `data` starts with the snappy-java stream header. */
export function isXerialSnappy(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/**
 * Decodes the snappy-java framing (blocks by `block`); a buffer without its header is one bare
 * Snappy block. Throws an Error for a block length that runs past the end of the frame.
 */
export function xerialSnappyDecode(data: Buffer, block: (chunk: Buffer) => Buffer): Buffer {
  if (!isXerialSnappy(data)) return block(data);
  const parts: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error(`snappy frame: truncated block length at byte ${at}`);
    const len = data.readInt32BE(at);
    at += 4;
    if (len < 0 || at + len > data.length) throw new Error(`snappy frame: block of ${len} bytes at byte ${at} runs past the end (${data.length} bytes)`);
    parts.push(block(data.subarray(at, at + len)));
    at += len;
  }
  return Buffer.concat(parts);
}

const snappyBlockCompress = (chunk: Buffer): Buffer => snappy().compressSync(chunk);
const snappyBlockUncompress = (chunk: Buffer): Buffer => snappy().uncompressSync(chunk, { asBuffer: true }) as Buffer;

/** The codecs by name (kafkajs calls these for every compressed batch it writes or reads). */
export const KAFKA_CODECS: Readonly<Record<Exclude<KafkaCompression, 'none'>, KafkajsCodec>> = {
  gzip: {
    compress: (encoder) => gzipAsync(encoder.buffer, { level: 1 }),
    decompress: (buffer) => unzipAsync(buffer),
  },
  snappy: {
    compress: async (encoder) => xerialSnappyEncode(encoder.buffer, snappyBlockCompress),
    decompress: async (buffer) => xerialSnappyDecode(buffer, snappyBlockUncompress),
  },
  lz4: {
    compress: (encoder) => lz4().compressFrame(encoder.buffer),
    decompress: (buffer) => lz4().decompressFrame(buffer),
  },
};

/** kafkajs's CompressionTypes and CompressionCodecs (passed in: kafkajs is loaded by the caller). */
interface KafkajsCompression {
  readonly CompressionTypes: { readonly GZIP: number; readonly Snappy: number; readonly LZ4: number; readonly None: number };
  readonly CompressionCodecs: Record<number, () => KafkajsCodec>;
}

/** Installs the codecs into kafkajs (process-wide, idempotent). Called once by kafka-output.ts. */
export function registerKafkaCodecs(kafkajs: KafkajsCompression): void {
  const { CompressionTypes: T, CompressionCodecs: C } = kafkajs;
  C[T.GZIP] = () => KAFKA_CODECS.gzip;
  C[T.Snappy] = () => KAFKA_CODECS.snappy;
  C[T.LZ4] = () => KAFKA_CODECS.lz4;
}

/** kafkajs's compression type number for a `compression` value. */
export function compressionType(kafkajs: KafkajsCompression, c: KafkaCompression): number {
  const T = kafkajs.CompressionTypes;
  return c === 'gzip' ? T.GZIP : c === 'snappy' ? T.Snappy : c === 'lz4' ? T.LZ4 : T.None;
}
