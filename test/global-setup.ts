/**
 * Vitest global setup: after the whole run, stop every peer server the suites started
 * (`npm run peers -- down`), so a test run leaves no JVM or receiver behind. Logs stay in .peers/.
 * Only when LKRG_SIEM_STOP_PEERS=1 (set by `npm test`): a single suite run during development
 * keeps the peers up for the next run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  return () => {
    if (process.env.LKRG_SIEM_STOP_PEERS !== '1') return;
    const cli = fileURLToPath(new URL('./peers/peers.mjs', import.meta.url));
    // every instance the suites started: base peers (kafka) and suffixed ones (kafka:restart)
    const state = fileURLToPath(new URL('../.peers/', import.meta.url));
    const kinds = readdirSync(fileURLToPath(new URL('./peers/', import.meta.url)))
      .filter((f) => f.endsWith('.mjs') && f !== 'peers.mjs' && f !== 'lib.mjs')
      .map((f) => f.slice(0, -4))
      .sort((a, b) => b.length - a.length); // splunk-hec before a shorter prefix
    const instances: string[] = [];
    for (const d of existsSync(state) ? readdirSync(state) : []) {
      const kind = kinds.find((k) => d === k || d.startsWith(k + '-'));
      if (kind) instances.push(d === kind ? kind : `${kind}:${d.slice(kind.length + 1)}`);
    }
    spawnSync(process.execPath, [cli, 'down', ...instances], { stdio: 'inherit', timeout: 300_000 });
  };
}
