/**
 * The `yaml` package, loaded on first use. Most runs never parse YAML (mapping tables come
 * from their build-time JSON form, replays take no config file), and loading the package costs
 * about 50 ms of start-up. Callers: the mapping loader (on a cache miss), the config loader
 * and the CLI's YAML printing. Throws only if the package is not installed.
 */
import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');
let mod: YamlModule | undefined;

/** The loaded `yaml` module (CommonJS build, so it loads synchronously). */
export function yamlModule(): YamlModule {
  return (mod ??= createRequire(import.meta.url)('yaml') as YamlModule);
}
