/**
 * Keeps README.md true: the configuration reference between the config-reference markers is
 * exactly what the spec generates (`UPDATE_README=1` rewrites it), its configuration example is
 * valid, its systemd unit passes systemd-analyze verify, and the version matches.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
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

  it('shows a systemd unit that systemd-analyze verify accepts without a warning', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Running as a service'));
    const unit = /```ini\n([\s\S]*?)```/.exec(section)![1]!;
    expect(unit).toContain('ExecStart=/usr/local/bin/lkrg-siem run --config /etc/lkrg-siem/lkrg-siem.yaml');
    expect(unit).toContain('RestartPreventExitStatus=2');
    // verify checks that the commands exist: point them at an executable stand-in
    const dir = mkdtempSync(join(tmpdir(), 'lkrg-unit-'));
    try {
      const bin = join(dir, 'lkrg-siem');
      writeFileSync(bin, '#!/bin/sh\nexit 0\n');
      chmodSync(bin, 0o755);
      writeFileSync(join(dir, 'lkrg-siem.service'), unit.replaceAll('/usr/local/bin/lkrg-siem', bin));
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'lkrg-siem.service')], { encoding: 'utf8' });
      expect(r.error, 'systemd-analyze (Debian package systemd) must be installed: test/setup/provision.sh').toBeUndefined();
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      // and it does complain about a key it does not know (the check is real)
      writeFileSync(join(dir, 'lkrg-siem.service'), unit.replaceAll('/usr/local/bin/lkrg-siem', bin).replace('[Service]\n', '[Service]\nMemoryMaxx=1G\n'));
      const bad = spawnSync('systemd-analyze', ['verify', join(dir, 'lkrg-siem.service')], { encoding: 'utf8' });
      expect(bad.stderr).toContain("Unknown key 'MemoryMaxx'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the version package.json has', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
