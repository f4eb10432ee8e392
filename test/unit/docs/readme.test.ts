/**
 * Keeps README.md true: the configuration reference between the config-reference markers is
 * exactly what the spec generates (`UPDATE_README=1` rewrites it), its configuration example is
 * valid, and the version matches.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../../outputs/index.js';
import { specToMarkdown } from '../../../src/config/config-spec.js';
import { forwarderSpec, validateConfig } from '../../../src/config/forwarder-config.js';
import { yamlModule } from '../../../src/core/lazy-yaml.js';
import { VERSION } from '../../../src/version.js';

const root = join(import.meta.dirname, '..', '..', '..');

describe('README', () => {
  it('carries the configuration reference generated from the spec', () => {
    const path = join(root, 'README.md');
    const readme = readFileSync(path, 'utf8');
    const table = ['| key | type | default | meaning |', '| --- | --- | --- | --- |', ...specToMarkdown(forwarderSpec)].join('\n');
    const block = `<!-- config-reference:start -->\n${table}\n<!-- config-reference:end -->`;
    const re = /<!-- config-reference:start -->[\s\S]*?<!-- config-reference:end -->/;
    expect(readme).toMatch(re);
    if (process.env.UPDATE_README === '1') writeFileSync(path, readme.replace(re, block));
    else expect(readme.match(re)![0]).toBe(block);
  });

  it('shows a configuration example that check-config accepts', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const cfg = validateConfig(yamlModule().parse(example));
    expect(cfg.sources.map((x) => x.type)).toEqual(['logger_store', 'journald', 'text']);
    expect(cfg.sources[2]!.mode).toBe('live');
  });

  it('names the version package.json has', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
