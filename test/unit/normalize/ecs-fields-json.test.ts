/**
 * mappings/ecs-fields/ecs-fields.json is derived data: exactly what ecs_flat.yml says, in the
 * compact form the normalizer loads at start-up (a JSON parse instead of a ~2 s YAML parse).
 * `UPDATE_ECS_FIELDS=1` regenerates it.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveEcsFieldsJson, type EcsFieldsJson } from '../../../src/normalize/mapping-loader.js';

const dir = join(import.meta.dirname, '..', '..', '..', 'mappings', 'ecs-fields');

describe('ecs-fields.json', () => {
  it('is derived from the ecs_flat.yml beside it', () => {
    const yml = join(dir, 'ecs_flat.yml');
    const derived = deriveEcsFieldsJson(yml, readFileSync(yml, 'utf8'));
    const path = join(dir, 'ecs-fields.json');
    if (process.env.UPDATE_ECS_FIELDS === '1') writeFileSync(path, JSON.stringify(derived) + '\n');
    expect(existsSync(path)).toBe(true);
    const stored = JSON.parse(readFileSync(path, 'utf8')) as EcsFieldsJson;
    expect(stored).toEqual(derived);
    expect(Object.keys(stored.fields).length).toBe(2605);
    expect(stored.fields['event.kind']!.allowed).toContain('alert');
    expect(stored.fields['host.ip']).toEqual({ type: 'ip', normalize: ['array'] });
  }, 60_000);
});
