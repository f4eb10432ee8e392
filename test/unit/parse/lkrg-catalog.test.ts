import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildLkrgCatalog,
  CatalogError,
  defaultCatalogPath,
  loadLkrgCatalog,
  matchesTemplateRef,
  namedGroups,
  packageRoot,
} from '../../../src/parse/lkrg-catalog.js';

const sharedJson = JSON.parse(readFileSync('/work/shared/samples/catalog.json', 'utf8')) as {
  templates: Record<string, unknown>[];
  counts: Record<string, number>;
};

function catalogWith(mutate: (templates: Record<string, unknown>[]) => void): unknown {
  const copy = structuredClone(sharedJson);
  mutate(copy.templates);
  return copy;
}

function errorOf(fn: () => unknown): CatalogError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return err as CatalogError;
  }
  throw new Error('expected a CatalogError');
}

describe('loadLkrgCatalog', () => {
  it('finds the package root and the catalog in mappings/', () => {
    expect(existsSync(join(packageRoot(), 'package.json'))).toBe(true);
    expect(defaultCatalogPath()).toBe(join(packageRoot(), 'mappings', 'lkrg-catalog.json'));
  });

  it('loads the package catalog identical to the shared one', () => {
    const c = loadLkrgCatalog();
    expect(c.templates.length).toBe(sharedJson.templates.length);
    const total = Object.values(sharedJson.counts).reduce((a, b) => a + b, 0);
    expect(c.templates.length).toBe(total);
    expect(c.byId.size).toBe(c.templates.length);
    expect(loadLkrgCatalog()).toBe(c); // cached
    expect(c.levels.map((l) => l.name)).toContain('ALERT');
    expect(c.mitreTechniques.T1068).toBe('Exploitation for Privilege Escalation');
  });

  it('exposes the data the normalizer needs', () => {
    const c = loadLkrgCatalog();
    const t = c.byId.get('task.cred_corruption.euid');
    expect(t).toBeDefined();
    expect(t?.family).toBe('task.cred_corruption');
    expect(t?.level).toBe('ALERT');
    expect(t?.action).toBe('DETECT');
    expect(t?.category).toBe('Task');
    expect(t?.fields).toEqual(['expected', 'actual', 'pid', 'process_name']);
    expect(t?.groups).toEqual(['expected', 'actual', 'pid', 'process_name']);
    expect(t?.constants.cred_field).toBe('euid');
    expect(t?.cefSeverity).toBe(8);
    expect(t?.mitre.map((m) => m.id)).toContain('T1068');
    expect(t?.since).toBe('0.9.4');
    expect(t?.until).toBeNull();
    expect(t?.followedBy).toContain('task.kill');

    const umh = c.byId.get('umh.panic');
    expect(umh?.ambiguousWith).toEqual(['umh.block']);
    const state = c.byId.get('state.kint_validate');
    expect(state?.valueLabels?.['0']).toBe('DISABLED');
    expect(state?.direction).toBe('lower value = weaker');
    expect(c.byId.get('task.seccomp_mode.named')?.enums?.expected).toContain('SECCOMP_MODE_FILTER');
    const legacy = c.byId.get('legacy.kernel.hidden_module.detail');
    expect(legacy?.mapsTo).toBe('kernel.hidden_module');
    expect(legacy?.physicalLines?.length).toBe(2);
    expect(legacy?.continuationRegex).toBeInstanceOf(RegExp);
    expect(legacy?.continuationGroups).toContain('module_name');
    expect(c.byId.get('task.kill')?.follows).toContain('task.*');
    expect(c.byId.get('task.inode_isolate')?.meaning).toBeTypeOf('string');
  });

  it('fails on a missing file and on invalid JSON with the file name', () => {
    const e = errorOf(() => loadLkrgCatalog('/nonexistent/catalog.json'));
    expect(e.file).toBe('/nonexistent/catalog.json');
    expect(e.templateId).toBeNull();
    expect(e.message).toContain('/nonexistent/catalog.json');
    const e2 = errorOf(() => buildLkrgCatalog({ templates: [] }, 'x.json'));
    expect(e2.reason).toContain('templates');
  });
});

describe('buildLkrgCatalog checks every entry', () => {
  it('accepts the shared catalog', () => {
    expect(() => buildLkrgCatalog(structuredClone(sharedJson), 'shared.json')).not.toThrow();
  });

  it('rejects a regex that does not compile', () => {
    const e = errorOf(() =>
      buildLkrgCatalog(
        catalogWith((ts) => {
          ts[3]!.regex = '^LKRG: ALERT: (?<pid>\\d+$';
        }),
        'bad.json',
      ),
    );
    expect(e.file).toBe('bad.json');
    expect(e.templateId).toBe(sharedJson.templates[3]!.id);
    expect(e.reason).toContain('does not compile');
  });

  it('rejects duplicate ids', () => {
    const e = errorOf(() =>
      buildLkrgCatalog(
        catalogWith((ts) => {
          ts[5]!.id = ts[4]!.id;
        }),
        'dup.json',
      ),
    );
    expect(e.templateId).toBe(sharedJson.templates[4]!.id);
    expect(e.reason).toContain('duplicate');
  });

  it('rejects fields that do not match the named groups', () => {
    const e = errorOf(() =>
      buildLkrgCatalog(
        catalogWith((ts) => {
          ts[0]!.fields = ['expected', 'actual', 'pid', 'comm'];
        }),
        'fields.json',
      ),
    );
    expect(e.templateId).toBe('task.cred_corruption.uid');
    expect(e.reason).toMatch(/fields .* do not match/);
  });

  it('rejects unanchored regexes, unknown references, levels and actions', () => {
    const cases: [(t: Record<string, unknown>) => void, RegExp][] = [
      [(t) => (t.regex = String(t.regex).slice(1)), /anchored/],
      [(t) => (t.followed_by = ['no.such.template']), /followed_by names unknown/],
      [(t) => (t.level = 'LOUD'), /unknown level/],
      [(t) => (t.action = 'KILL'), /unknown action/],
      [(t) => (t.specificity = 'high'), /specificity/],
      [(t) => delete t.regex, /"regex" is missing/],
    ];
    for (const [mutate, reason] of cases) {
      const e = errorOf(() => buildLkrgCatalog(catalogWith((ts) => mutate(ts[0]!)), 'c.json'));
      expect(e.templateId).toBe('task.cred_corruption.uid');
      expect(e.reason).toMatch(reason);
    }
  });
});

describe('helpers', () => {
  it('namedGroups ignores escaped parens and lookbehinds', () => {
    expect(namedGroups('^a\\(?<x>b(?<=c)(?<y>d)(?<!e)$')).toEqual(['y']);
    expect(namedGroups('^(?<a>1)(?:(?<b>2))$')).toEqual(['a', 'b']);
  });
  it('matchesTemplateRef handles prefix patterns', () => {
    expect(matchesTemplateRef('task.kill', 'task.*')).toBe(true);
    expect(matchesTemplateRef('umh.block', 'task.*')).toBe(false);
    expect(matchesTemplateRef('umh.block', 'umh.block')).toBe(true);
  });
});
