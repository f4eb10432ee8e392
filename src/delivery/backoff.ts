/**
 * Exponential backoff with full jitter: a delay drawn uniformly from
 * [0, min(max_backoff_ms, initial_backoff_ms * 2^(attempt-1))]. Called by the delivery
 * worker for each retried event (the server's Retry-After wins when it is longer).
 */
export function backoffDelay(
  attempt: number,
  retry: { readonly initial_backoff_ms: number; readonly max_backoff_ms: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(retry.max_backoff_ms, retry.initial_backoff_ms * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.floor(random() * exp);
}
