/**
 * Vitest global setup: after the whole run, stop every peer server the suites started
 * (`npm run peers -- down`), so a test run leaves no JVM or receiver behind. Logs stay in .peers/.
 * Only when LKRG_SIEM_STOP_PEERS=1 (set by `npm test`): a single suite run during development
 * keeps the peers up for the next run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  return () => {
    if (process.env.LKRG_SIEM_STOP_PEERS !== '1') return;
    const cli = fileURLToPath(new URL('./peers/peers.mjs', import.meta.url));
    spawnSync(process.execPath, [cli, 'down'], { stdio: 'inherit', timeout: 120_000 });
  };
}
