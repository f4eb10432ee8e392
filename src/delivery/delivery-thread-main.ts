/**
 * Entry of a delivery thread (see delivery-thread.ts): builds one output's driver from its
 * validated config section, opens its own connection to the state file and runs the output's
 * DeliveryWorker, driven by messages from the main thread. Everything the worker decides is
 * in the state file; the main thread only mirrors status and queue depth for `status`,
 * back-pressure and the exit code.
 */
import { parentPort, workerData } from 'node:worker_threads';
import '../../outputs/index.js';
import { outputType } from '../../outputs/output-registry.js';
import { ConfigError } from '../core/types.js';
import { StateStore } from '../state/state-store.js';
import { DeliveryWorker, type DeliverySettings } from './delivery-worker.js';
import type { FromThread, ToThread, ThreadInit } from './delivery-thread.js';

const port = parentPort!;
const init = workerData as ThreadInit;
const post = (m: FromThread): void => port.postMessage(m);
const log = (level: 'info' | 'warn' | 'error', message: string): void => post({ t: 'log', level, message });

let worker: DeliveryWorker | undefined;
let store: StateStore | undefined;

function snapshot(w: DeliveryWorker): { status: DeliveryWorker['status']; settled: { events: number; bytes: number } } {
  return { status: { ...w.status }, settled: { ...w.settled } };
}

async function main(): Promise<void> {
  try {
    const type = outputType(init.cfg.type as string);
    if (!type?.createDriver) throw new Error(`output type ${String(init.cfg.type)} has no driver`);
    const driver = await type.createDriver(init.cfg, init.name, log);
    store = new StateStore(init.statePath);
    worker = new DeliveryWorker(store, driver, init.cfg as unknown as DeliverySettings, log, init.fatalProbeMs, init.depth);
  } catch (err) {
    store?.close();
    post({
      t: 'failed',
      error:
        err instanceof ConfigError
          ? { config: true, key: err.key, value: err.value, fix: err.fix, message: err.message }
          : { config: false, message: err instanceof Error ? (err.stack ?? err.message) : String(err) },
    });
    port.close();
    return;
  }
  const w = worker;
  w.onChange = () => post({ t: 'status', ...snapshot(w) });
  // Messages the main thread posted while the driver was being built ('queued', 'start', even
  // 'stop') waited in the port; they are delivered, in order, from here on.
  port.on('message', (m: ToThread) => {
    switch (m.t) {
      case 'start':
        w.start();
        break;
      case 'queued':
        w.notifyQueued(m.count, m.bytes);
        break;
      case 'drain':
        w.drain().then(
          () => post({ t: 'drained', id: m.id }),
          (err: unknown) => post({ t: 'drained', id: m.id, error: String(err) }),
        );
        break;
      case 'stop':
        w.stop(m.deadlineMs).then(
          () => {
            store?.close();
            store = undefined;
            post({ ...snapshot(w), t: 'stopped' });
            port.close();
          },
          (err: unknown) => {
            store?.close();
            store = undefined;
            post({ ...snapshot(w), t: 'stopped', error: String(err) });
            port.close();
          },
        );
        break;
    }
  });
  post({ t: 'ready', ...snapshot(w) });
}

void main();
