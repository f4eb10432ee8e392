/**
 * SHA-256 of a string (UTF-8) as lower-case hex, through Node's one-shot `crypto.hash` when the
 * runtime has it (Node >= 20.12: no Hash object per call, several times cheaper for the short
 * keys of event and boot ids), else through createHash. Same digest either way.
 */
import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: string, outputEncoding: 'hex') => string;

const oneShot: OneShot | undefined =
  typeof (crypto as { hash?: unknown }).hash === 'function' ? ((crypto as unknown as { hash: OneShot }).hash) : undefined;

/** Hex SHA-256 of `s` (UTF-8). Used for event ids and boot ids on the hot path. */
export function sha256Hex(s: string): string {
  return oneShot !== undefined ? oneShot('sha256', s, 'hex') : crypto.createHash('sha256').update(s).digest('hex');
}
