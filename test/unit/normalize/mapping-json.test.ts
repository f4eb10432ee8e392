/**
 * The build-time JSON form of the YAML mapping tables (dist/mappings-json/): the same
 * documents as the YAML, used only while the YAML text is unchanged.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadMappings, MAPPING_YAML_FILES, MappingError, writeMappingJson } from '../../../src/normalize/mapping-loader.js';

const DIR = fileURLToPath(new URL('../../../mappings/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lkrg-mapping-json-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Stored {
  source_sha256: string;
  doc: Record<string, unknown>;
}
const read = (dir: string, name: string): Stored => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Stored;

describe('mapping JSON form', () => {
  const out = join(work, 'json');
  const written = writeMappingJson(DIR, out);

  it('is written for every YAML table and holds exactly the YAML document', () => {
    expect(written).toEqual([...MAPPING_YAML_FILES]);
    for (const name of MAPPING_YAML_FILES) {
      const yaml = parseYaml(readFileSync(join(DIR, name), 'utf8'), { uniqueKeys: true, maxAliasCount: 1000 }) as unknown;
      expect(read(out, name).doc).toEqual(yaml);
      expect(read(out, name).source_sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('is what the loader reads when its sha256 matches the YAML text', () => {
    const dir = join(work, 'tampered');
    writeMappingJson(DIR, dir);
    const j = read(dir, 'ecs.yaml');
    writeFileSync(join(dir, 'ecs.yaml.json'), JSON.stringify({ ...j, doc: { ...j.doc, ecs_version: '9.9.9' } }));
    // the JSON form was used: the tampered version is refused as if the YAML said it
    expect(() => loadMappings({ dir: DIR, jsonCacheDir: dir })).toThrow(MappingError);
    expect(() => loadMappings({ dir: DIR, jsonCacheDir: dir })).toThrow(/ecs_version: must be "9.4.0".*got "9.9.9"/);
    // the same JSON with another sha256 (an edited YAML) is ignored: the YAML is parsed
    writeFileSync(join(dir, 'ecs.yaml.json'), JSON.stringify({ source_sha256: '0'.repeat(64), doc: { ...j.doc, ecs_version: '9.9.9' } }));
    expect(loadMappings({ dir: DIR, jsonCacheDir: dir }).ecsVersion).toBe('9.4.0');
    // so is an unreadable one
    writeFileSync(join(dir, 'ecs.yaml.json'), '{not json');
    expect(loadMappings({ dir: DIR, jsonCacheDir: dir }).ecsVersion).toBe('9.4.0');
  });

  it('compiles to the same plans as the YAML', () => {
    const fromJson = loadMappings({ dir: DIR, jsonCacheDir: out });
    const fromYaml = loadMappings({ dir: DIR, jsonCacheDir: null });
    expect(fromJson.templates.size).toBe(fromYaml.templates.size);
    // plans hold functions and frozen arrays; their data must be equal
    expect(JSON.stringify([...fromJson.templates])).toBe(JSON.stringify([...fromYaml.templates]));
    expect(JSON.stringify(fromJson.cef)).toBe(JSON.stringify(fromYaml.cef));
  });

  it('is not written for a table whose YAML does not parse (the load then reports the YAML error)', () => {
    const bad = join(work, 'bad-mappings');
    const dir = join(work, 'bad-json');
    // a copy of the tables with a duplicate top-level key in cef.yaml
    cpSync(DIR, bad, { recursive: true });
    writeFileSync(join(bad, 'cef.yaml'), readFileSync(join(DIR, 'cef.yaml'), 'utf8') + '\nheader: {}\n');
    expect(writeMappingJson(bad, dir)).toEqual(['ecs.yaml', 'cef-keys.yaml']);
    expect(() => loadMappings({ dir: bad, jsonCacheDir: dir })).toThrow(/mappings\/cef\.yaml: \(syntax\)/);
  });
});
