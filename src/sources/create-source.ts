/**
 * Factory the CLI and the pipeline use to build a {@link Source} from a spec.
 *
 * - `logger-store`: {@link LoggerStoreSourceOptions} (paths, mode live|replay, pollIntervalMs …)
 * - `text`: {@link TextSourceOptions} (paths, input shape, year …)
 * - `journald`: {@link JournaldSourceOptions} (mode, files, directory, journalctlPath, matches, units …)
 * - `stdin`: {@link StdinSourceOptions} (stream, input auto|logger|journal-json|text …)
 *
 * Common options: `prefilter` (cheap LKRG-ness test on the decoded text; records failing it
 * are not yielded, but still feed boot/gap tracking and cursor advance) and
 * `includeNonLkrg` (yield everything). Errors: a ConfigError for an unusable spec.
 */
import { ConfigError, type Source } from '../core/types.js';
import { JournaldSource, type JournaldSourceOptions } from './journald-source.js';
import { LoggerStoreSource, type LoggerStoreSourceOptions } from './logger-store-source.js';
import { StdinSource, type StdinSourceOptions } from './stdin-source.js';
import { TextSource, type TextSourceOptions } from './text-source.js';

/** A source spec, discriminated by `kind`. */
export type SourceSpec =
  | ({ readonly kind: 'logger-store' } & LoggerStoreSourceOptions)
  | ({ readonly kind: 'text' } & TextSourceOptions)
  | ({ readonly kind: 'journald' } & JournaldSourceOptions)
  | ({ readonly kind: 'stdin' } & StdinSourceOptions);

/** Builds the source for `spec`. Throws ConfigError for an unknown kind or bad options. */
export function createSource(spec: SourceSpec): Source {
  switch (spec.kind) {
    case 'logger-store':
      if (spec.mode !== 'live' && spec.mode !== 'replay') throw new ConfigError('sources[].mode', spec.mode, "use 'live' or 'replay'");
      return new LoggerStoreSource(spec);
    case 'text':
      return new TextSource(spec);
    case 'journald':
      return new JournaldSource(spec);
    case 'stdin':
      return new StdinSource(spec);
    default:
      throw new ConfigError('sources[].type', (spec as { kind?: unknown }).kind, 'use logger-store, text, journald or stdin');
  }
}
