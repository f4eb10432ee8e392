/**
 * Maps a failure without an HTTP answer (thrown by the npm clients) to an OutputError:
 * TLS trust / host-name failures are fatal (configuration), everything else (refused,
 * reset, DNS, timeout, abort) is retriable. Used by both product transports.
 */
import { OutputError } from '../../src/core/output.js';

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO',
]);
const TLS_TEXT = /self[- ]signed certificate|unable to verify|certificate has expired|altnames|does not match certificate|unable to get (local )?issuer|wrong version number/i;

/** Error codes along the cause chain (err.code, err.cause.code, ...). */
function codes(err: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && typeof cur === 'object' && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') out.push(code);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

function messages(err: unknown): string {
  const out: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && typeof cur === 'object' && depth < 6; depth++) {
    const m = (cur as { message?: unknown }).message;
    if (typeof m === 'string' && m && !out.includes(m)) out.push(m);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out.join(': ') || String(err);
}

/**
 * The OutputError for `err` thrown while talking to `urls`. `signal` tells an abort by the
 * delivery layer (timeout or shutdown) from other failures.
 */
export function transportFailure(output: string, what: string, err: unknown, signal: AbortSignal): OutputError {
  if (err instanceof OutputError) return err;
  const text = messages(err);
  if (signal.aborted) {
    return new OutputError(`${output}: ${what} aborted (request timeout or shutdown): ${text}`, { retriable: true, cause: err });
  }
  if (codes(err).some((c) => TLS_CODES.has(c)) || TLS_TEXT.test(text)) {
    return new OutputError(
      `${output}: TLS to the server failed (${text}): set tls.ca_file to the CA that signed the server certificate, or fix the host name in urls`,
      { retriable: false, fatal: true, cause: err },
    );
  }
  return new OutputError(`${output}: ${what} failed: ${text}`, { retriable: true, cause: err });
}
