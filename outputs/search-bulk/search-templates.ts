/**
 * Index templates the Elasticsearch and OpenSearch outputs install at start when
 * `install_templates: true`: the official ECS 9.4.0 component templates of the field sets
 * lkrg-siem emits (copied verbatim in outputs/elasticsearch/templates/ecs/), an `lkrg`
 * component for the custom lkrg.* fields, and one composable index template with
 * `data_stream: {}` for the output's targets (`logs-lkrg.*-*` by default), priority above
 * the built-in `logs` template (100).
 *
 * Servers differ in the field types they know (an Elasticsearch node without x-pack has no
 * wildcard / constant_keyword; OpenSearch names flattened `flat_object`; older servers reject
 * `synthetic_source_keep`). {@link MappingCompat} rewrites a mapping after the server named
 * what it does not know, so the same files install everywhere; substitutions are reported.
 */
import agent from '../elasticsearch/templates/ecs/agent.json' with { type: 'json' };
import base from '../elasticsearch/templates/ecs/base.json' with { type: 'json' };
import dataStream from '../elasticsearch/templates/ecs/data_stream.json' with { type: 'json' };
import ecs from '../elasticsearch/templates/ecs/ecs.json' with { type: 'json' };
import error from '../elasticsearch/templates/ecs/error.json' with { type: 'json' };
import event from '../elasticsearch/templates/ecs/event.json' with { type: 'json' };
import file from '../elasticsearch/templates/ecs/file.json' with { type: 'json' };
import group from '../elasticsearch/templates/ecs/group.json' with { type: 'json' };
import host from '../elasticsearch/templates/ecs/host.json' with { type: 'json' };
import log from '../elasticsearch/templates/ecs/log.json' with { type: 'json' };
import processSet from '../elasticsearch/templates/ecs/process.json' with { type: 'json' };
import related from '../elasticsearch/templates/ecs/related.json' with { type: 'json' };
import rule from '../elasticsearch/templates/ecs/rule.json' with { type: 'json' };
import threat from '../elasticsearch/templates/ecs/threat.json' with { type: 'json' };
import user from '../elasticsearch/templates/ecs/user.json' with { type: 'json' };
import { renderIndex } from './bulk-protocol.js';

export const ECS_VERSION = '9.4.0';

/** ECS field sets lkrg-siem emits, by component suffix. */
export const ECS_COMPONENTS: Readonly<Record<string, unknown>> = {
  base, agent, data_stream: dataStream, ecs, error, event, file, group, host, log,
  process: processSet, related, rule, threat, user,
};

/** lkrg.* numeric fields (mappings/ecs.yaml `type: long`); every other lkrg.* string is keyword. */
const LKRG_LONG_FIELDS = [
  'off_flag.depth', 'module.state', 'checksums.count', 'modules.missing_count', 'modules.module_list_count',
  'modules.kobj_count', 'setting.old_value', 'setting.new_value', 'errno',
];
/** lkrg.* fields whose values may look numeric in one event and hexadecimal in the next. */
const LKRG_KEYWORD_FIELDS = ['expected', 'actual', 'class', 'subsystem', 'cred.name', 'pointer.name', 'cpu.feature', 'setting.name'];

/** The `lkrg` component: custom fields, keyword by default, numbers as long, no date detection. */
export function lkrgComponent(): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  const put = (dotted: string, mapping: Record<string, unknown>): void => {
    const parts = dotted.split('.');
    let cur = props;
    for (const p of parts.slice(0, -1)) {
      const next = (cur[p] ??= { properties: {} }) as { properties: Record<string, unknown> };
      cur = next.properties;
    }
    cur[parts.at(-1)!] = mapping;
  };
  for (const f of LKRG_LONG_FIELDS) put(f, { type: 'long' });
  for (const f of LKRG_KEYWORD_FIELDS) put(f, { type: 'keyword', ignore_above: 1024 });
  return {
    _meta: { description: 'lkrg.* custom fields of lkrg-siem', managed_by: 'lkrg-siem' },
    template: {
      mappings: {
        date_detection: false,
        dynamic_templates: [
          { lkrg_numbers: { path_match: 'lkrg.*', match_mapping_type: 'long', mapping: { type: 'long' } } },
          { strings_as_keyword: { match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 1024 } } },
        ],
        properties: { lkrg: { properties: props } },
      },
    },
  };
}

/** Everything to install: component templates by name, then the index template. */
export interface TemplateSet {
  readonly components: ReadonlyArray<{ readonly name: string; readonly body: Record<string, unknown> }>;
  readonly indexTemplate: { readonly name: string; readonly body: Record<string, unknown> };
}

/**
 * Builds the templates for one output. `prefix` names them (`<prefix>@ecs-host`, `<prefix>`),
 * `indexTemplate` is the output's `index` setting (its pattern is the template's target),
 * `elastic` adds Elasticsearch's optional hooks (`logs@settings` for the built-in lifecycle,
 * `<prefix>@custom` for site changes) as ignore-missing components; OpenSearch has no such list.
 */
export function buildTemplates(opts: { prefix: string; index: string; priority: number; elastic: boolean }): TemplateSet {
  const components = Object.entries(ECS_COMPONENTS).map(([set, body]) => ({
    name: `${opts.prefix}@ecs-${set}`,
    body: structuredClone(body) as Record<string, unknown>,
  }));
  components.push({ name: `${opts.prefix}@lkrg`, body: lkrgComponent() });
  const pattern = renderIndex(opts.index, 'lkrg.*', '*');
  const optional = opts.elastic ? ['logs@settings', `${opts.prefix}@custom`] : [];
  const body: Record<string, unknown> = {
    index_patterns: [pattern],
    data_stream: {},
    priority: opts.priority,
    composed_of: [...optional.slice(0, 1), ...components.map((c) => c.name), ...optional.slice(1)],
    template: { settings: { index: { mapping: { total_fields: { limit: 3000 } } } } },
    _meta: { description: 'lkrg-siem: LKRG events in ECS', managed_by: 'lkrg-siem', ecs_version: ECS_VERSION },
  };
  if (opts.elastic) body.ignore_missing_component_templates = optional;
  return { components, indexTemplate: { name: opts.prefix, body } };
}

/** Replacement types, in order of preference, for field types a server does not know. */
const TYPE_FALLBACKS: Readonly<Record<string, readonly string[]>> = {
  match_only_text: ['text'],
  wildcard: ['keyword'],
  constant_keyword: ['keyword'],
  flattened: ['flat_object', 'object'],
  scaled_float: ['double'],
  flat_object: ['object'],
};
/** Parameters kept when a field's type is replaced. */
const KEEP_PARAMS: Readonly<Record<string, readonly string[]>> = {
  text: ['fields', 'norms', 'index', 'analyzer'],
  keyword: ['ignore_above', 'fields', 'index', 'doc_values'],
  double: ['index', 'doc_values'],
  flat_object: [],
  object: [],
};

/**
 * Learns, from a server's errors, which field types and mapping parameters it lacks, and
 * rewrites mappings accordingly. One instance per output start; shared by all components.
 */
export class MappingCompat {
  private readonly replaced = new Map<string, string>();
  private readonly stripped = new Set<string>();

  /** Human-readable list of substitutions made so far (for the start-up log). */
  describe(): string[] {
    return [
      ...[...this.replaced].map(([from, to]) => `${from} -> ${to === 'object' ? 'object (not indexed)' : to}`),
      ...[...this.stripped].map((p) => `parameter ${p} removed`),
    ];
  }

  /**
   * Updates the rules from a failed install; returns false when the error is not about an
   * unknown type or parameter (or nothing is left to try).
   */
  learn(errorText: string): boolean {
    // OpenSearch: "No handler for type [x] declared on field [f]"; Elasticsearch 9: "The mapper type [x] declared on field [f] does not exist"
    const type = /(?:no handler for type|the mapper type) \[([^\]]+)\]/i.exec(errorText)?.[1];
    if (type) {
      const options = TYPE_FALLBACKS[type] ?? ['keyword'];
      // a replacement that failed too: move to the next one in its chain
      const original = [...this.replaced].find(([, to]) => to === type)?.[0];
      if (original) {
        const chain = TYPE_FALLBACKS[original] ?? [];
        const next = chain[chain.indexOf(type) + 1];
        if (!next) return false;
        this.replaced.set(original, next);
        return true;
      }
      if (this.replaced.has(type)) return false;
      this.replaced.set(type, options[0]!);
      return true;
    }
    // OpenSearch's constant_keyword insists on a fixed `value`, which ECS leaves open
    if (/missing required parameter \[value\]/i.test(errorText) && !this.replaced.has('constant_keyword')) {
      this.replaced.set('constant_keyword', 'keyword');
      return true;
    }
    const param = /unknown parameter \[([^\]]+)\]/i.exec(errorText)?.[1];
    if (param && !this.stripped.has(param)) {
      this.stripped.add(param);
      return true;
    }
    return false;
  }

  /** A rewritten deep copy of a component template body. */
  apply(body: Record<string, unknown>): Record<string, unknown> {
    if (this.replaced.size === 0 && this.stripped.size === 0) return body;
    return this.rewrite(structuredClone(body)) as Record<string, unknown>;
  }

  private rewrite(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.rewrite(n));
    if (node === null || typeof node !== 'object') return node;
    const obj = node as Record<string, unknown>;
    for (const p of this.stripped) delete obj[p];
    const type = obj.type;
    if (typeof type === 'string' && this.replaced.has(type)) {
      const to = this.replaced.get(type)!;
      const keep = KEEP_PARAMS[to] ?? [];
      for (const key of Object.keys(obj)) if (key !== 'type' && !keep.includes(key)) delete obj[key];
      obj.type = to;
      if (to === 'object') obj.enabled = false;
    }
    for (const [k, v] of Object.entries(obj)) obj[k] = this.rewrite(v);
    return obj;
  }
}
