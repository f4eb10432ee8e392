/**
 * Output types known to lkrg-siem: their config spec and how to build them. Two kinds:
 * - `sink`: written inside the pipeline's commit (file, stdout) — exactly once for files;
 * - `queued`: an {@link OutputDriver} fed by the shared delivery layer from a durable queue.
 * The config loader validates `outputs[]` with these specs; the CLI builds outputs with them.
 */
import type { FieldSpec } from '../src/config/config-spec.js';
import type { OutputDriver } from '../src/core/output.js';
import { FileSink, StreamSink, type TransactionalSink } from './file/file-sink.js';
import { deliveryFields } from '../src/config/delivery-fields.js';
import { filterField } from '../src/pipeline/event-filter.js';

/**
 * One output type. `create*` receive the validated config section (defaults filled).
 * `createDriver` is asynchronous: each queued output module registers its type, spec and URL
 * schemes eagerly (cheap), but imports its driver module, and with it the client library
 * (kafkajs, @elastic/elasticsearch, undici, ...), only when an output of that type is created.
 * It rejects with ConfigError for settings a field spec cannot check (secrets, PEM files, ...).
 */
export interface OutputType {
  readonly desc: string;
  readonly kind: 'sink' | 'queued';
  readonly fields: Readonly<Record<string, FieldSpec>>;
  createSink?(cfg: Record<string, unknown>, name: string): TransactionalSink;
  createDriver?(cfg: Record<string, unknown>, name: string, log?: (level: 'info' | 'warn' | 'error', message: string) => void): Promise<OutputDriver>;
}

const common: Record<string, FieldSpec> = {
  name: { kind: 'string', desc: 'Instance name (status, dead letters, queue); defaults to the type.' },
  filter: filterField,
};

const registry = new Map<string, OutputType>();

registry.set('file', {
  desc: 'Append ECS NDJSON or CEF lines to a file; committed with the source position (exactly once across crashes).',
  kind: 'sink',
  fields: {
    ...common,
    path: { kind: 'string', desc: 'Output file.', required: true },
    format: { kind: 'string', desc: 'Line format.', default: 'ecs', enum: ['ecs', 'cef'] },
    fsync: { kind: 'bool', desc: 'fsync the file before each commit (survives power loss, not only crashes).', default: true },
  },
  createSink: (cfg, name) => new FileSink(name, cfg.path as string, cfg.format as 'ecs' | 'cef', cfg.fsync as boolean),
});

registry.set('stdout', {
  desc: 'Write ECS NDJSON or CEF lines to standard output.',
  kind: 'sink',
  fields: { ...common, format: { kind: 'string', desc: 'Line format.', default: 'ecs', enum: ['ecs', 'cef'] } },
  createSink: (cfg, name) => new StreamSink(name, cfg.format as 'ecs' | 'cef'),
});

/**
 * Registers an output type (called by each output module's index). Queued types get the shared
 * delivery keys (`queue`, `batch`, `retry`, `request_timeout_ms`); `batchDefaults` changes the
 * defaults of `batch.*` for this type (e.g. larger batches where only one request may be in flight,
 * or more requests in flight where the server indexes several at once).
 */
export function registerOutputType(
  type: string,
  def: Omit<OutputType, 'fields'> & {
    fields: Record<string, FieldSpec>;
    batchDefaults?: Partial<Record<'max_events' | 'max_bytes' | 'max_wait_ms' | 'max_in_flight', number>>;
  },
): void {
  const { batchDefaults, ...rest } = def;
  let delivery = deliveryFields;
  if (batchDefaults) {
    const batch = deliveryFields.batch as Extract<FieldSpec, { kind: 'object' }>;
    const fields: Record<string, FieldSpec> = { ...batch.fields };
    for (const [k, v] of Object.entries(batchDefaults)) fields[k] = { ...(fields[k] as Extract<FieldSpec, { kind: 'int' }>), default: v };
    delivery = { ...deliveryFields, batch: { ...batch, fields } };
  }
  registry.set(type, { ...rest, fields: def.kind === 'queued' ? { ...common, ...delivery, ...def.fields } : { ...common, ...def.fields } });
}

export function outputType(type: string): OutputType | undefined {
  return registry.get(type);
}

/** Spec variants for the config loader (lazy: the registry is filled at import time). */
export function outputVariants(): Record<string, { desc: string; fields: Readonly<Record<string, FieldSpec>> }> {
  return new Proxy({} as Record<string, { desc: string; fields: Readonly<Record<string, FieldSpec>> }>, {
    get: (_t, p) => (typeof p === 'string' ? registry.get(p) : undefined),
    ownKeys: () => [...registry.keys()],
    getOwnPropertyDescriptor: (_t, p) =>
      typeof p === 'string' && registry.has(p) ? { enumerable: true, configurable: true, value: registry.get(p) } : undefined,
    has: (_t, p) => typeof p === 'string' && registry.has(p),
  });
}
