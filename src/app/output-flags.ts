/**
 * Turns `replay --output` values into output config sections: `stdout`, `file:PATH` and
 * output URLs registered by queued output types (`kafka://HOST:PORT/TOPIC`,
 * `elasticsearch+http(s)://HOST:PORT`, ...). Throws ConfigError naming the bad value.
 */
import { ConfigError } from '../core/types.js';
import { applySpec } from '../config/config-spec.js';
import { outputType } from '../../outputs/output-registry.js';

/** URL scheme handlers, registered by queued output modules. */
const schemes = new Map<string, (url: URL, format: 'ecs' | 'cef') => Record<string, unknown>>();

export function registerOutputScheme(scheme: string, toConfig: (url: URL, format: 'ecs' | 'cef') => Record<string, unknown>): void {
  schemes.set(scheme, toConfig);
}

export function outputsFromFlags(values: readonly string[], format: 'ecs' | 'cef'): Record<string, unknown>[] {
  const used = new Map<string, number>();
  return values.map((v) => {
    let cfg: Record<string, unknown>;
    if (v === 'stdout' || v === '-') cfg = { type: 'stdout', format };
    else if (v.startsWith('file:')) {
      const path = v.slice(5);
      if (!path) throw new ConfigError('--output', v, 'file: needs a path, e.g. file:./out/lkrg.ndjson');
      cfg = { type: 'file', path, format };
    } else {
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        throw new ConfigError('--output', v, `use stdout, file:PATH or an output URL (${[...schemes.keys()].map((s) => s + '://...').join(', ') || 'none registered'})`);
      }
      const make = schemes.get(url.protocol.replace(/:$/, ''));
      if (!make) throw new ConfigError('--output', v, `unknown scheme; known: ${[...schemes.keys()].join(', ') || 'none'}`);
      cfg = make(url, format);
    }
    const type = cfg.type as string;
    const n = (used.get(type) ?? 0) + 1;
    used.set(type, n);
    const def = outputType(type)!;
    const { type: _t, ...rest } = cfg;
    return { type, ...applySpec(def.fields, { name: n > 1 ? `${type}-${n}` : type, ...rest }, '--output') };
  });
}
