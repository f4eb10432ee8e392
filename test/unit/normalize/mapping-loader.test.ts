import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEcsFields, loadMappings, MappingError, type CatalogInfo } from '../../../src/normalize/mapping-loader.js';

const DIR = fileURLToPath(new URL('../../../mappings/', import.meta.url));
const ecsYaml = readFileSync(DIR + 'ecs.yaml', 'utf8');
const cefYaml = readFileSync(DIR + 'cef.yaml', 'utf8');
const cefKeysYaml = readFileSync(DIR + 'cef-keys.yaml', 'utf8');
const catalog = JSON.parse(readFileSync(DIR + 'lkrg-catalog.json', 'utf8')) as CatalogInfo;
const ecsFields = loadEcsFields(DIR + 'ecs-fields/ecs_flat.yml');
const base = { dir: DIR, ecsYaml, cefYaml, cefKeysYaml, catalog, ecsFields };

function replaced(text: string, from: string, to: string): string {
  expect(text.includes(from), `fixture text not found: ${from}`).toBe(true);
  return text.replace(from, to);
}
function loadError(over: Partial<typeof base>): MappingError {
  try {
    loadMappings({ ...base, ...over });
  } catch (e) {
    expect(e).toBeInstanceOf(MappingError);
    return e as MappingError;
  }
  throw new Error('loadMappings accepted a broken table');
}

describe('mapping loader', () => {
  it('accepts the shipped tables and compiles a plan for every catalog template', () => {
    const m = loadMappings(base);
    expect(m.templates.size).toBe(catalog.templates.length);
    expect(m.cef.rows.length).toBeGreaterThan(20);
    // dictionary keys first, labelled slots after
    const firstLabelled = m.cef.rows.findIndex((r) => r.labelPair);
    expect(m.cef.rows.slice(firstLabelled).every((r) => r.labelPair)).toBe(true);
  });

  it.each([
    ['unknown template id', { ecsYaml: replaced(ecsYaml, '  kernel.ex_table: {rule_name:', '  kernel.ex_tablez: {rule_name:') }, 'mappings/ecs.yaml', 'templates.kernel.ex_tablez', 'unknown template id'],
    ['unknown family', { ecsYaml: replaced(ecsYaml, '  cpu.wp: {rule_name:', '  cpu.wpx: {rule_name:') }, 'mappings/ecs.yaml', 'families.cpu.wpx', 'no catalog template has this family'],
    ['ECS field that does not exist', { ecsYaml: replaced(ecsYaml, 'pid: [{to: process.pid, type: long}]', 'pid: [{to: process.pidd, type: long}]') }, 'mappings/ecs.yaml', 'fields.pid -> process.pidd', 'not an ECS 9.4 field'],
    ['long into a keyword field', { ecsYaml: replaced(ecsYaml, 'pid: [{to: process.pid, type: long}]', 'pid: [{to: process.name, type: long}]') }, 'mappings/ecs.yaml', 'fields.pid -> process.name', 'cannot hold a long'],
    ['disallowed category', { ecsYaml: replaced(ecsYaml, '"ALERT * Task": {category: [intrusion_detection, process]}', '"ALERT * Task": {category: [intrusion_detection, processes]}') }, 'mappings/ecs.yaml', 'classes."ALERT * Task"', "event.category 'processes' is not allowed"],
    ['event.kind signal', { ecsYaml: replaced(ecsYaml, 'forged:\n  kind: alert', 'forged:\n  kind: signal') }, 'mappings/ecs.yaml', 'forged', 'reserved'],
    ['type not expected for the categories', { ecsYaml: replaced(ecsYaml, '  "STATE * *":\n    kind: event\n    category: [configuration]\n    type: [change]', '  "STATE * *":\n    kind: event\n    category: [configuration]\n    type: [denied]') }, 'mappings/ecs.yaml', 'template state.kint_validate', "event.type 'denied' is not an expected type"],
    ['typo in a property', { ecsYaml: replaced(ecsYaml, 'task.frame_pointer: {action: lkrg-task-stack-violation, rule_name:', 'task.frame_pointer: {action: lkrg-task-stack-violation, rule_nmae:') }, 'mappings/ecs.yaml', 'templates.task.frame_pointer', "unknown property 'rule_nmae'"],
    ['action not kebab-case', { ecsYaml: replaced(ecsYaml, 'task.kill: {type: [denied, end], action: lkrg-process-killed', 'task.kill: {type: [denied, end], action: LKRG_Killed') }, 'mappings/ecs.yaml', 'templates.task.kill', 'kebab-case'],
    ['ALERT template without a rule name', { ecsYaml: replaced(ecsYaml, '  kernel.stext: {rule_name: "Kernel text (_stext) modified"}\n', '') }, 'mappings/ecs.yaml', 'template kernel.stext', 'need their own rule_name'],
    ['technique without tactic', { ecsYaml: replaced(ecsYaml, '    T1014: [TA0005]\n', '') }, 'mappings/ecs.yaml', 'template cpu.wp.panic', 'T1014 has no tactic'],
    ['unknown tactic id', { ecsYaml: replaced(ecsYaml, 'T1068: [TA0004]', 'T1068: [TA0099]') }, 'mappings/ecs.yaml', 'attack.techniques.T1068', 'TA0099 is not in attack.tactics'],
    ['bad class key', { ecsYaml: replaced(ecsYaml, '"ALERT DETECT Kernel":', '"ALRET DETECT Kernel":') }, 'mappings/ecs.yaml', 'classes."ALRET DETECT Kernel"', "unknown level 'ALRET'"],
    ['placeholder of an unknown field', { ecsYaml: replaced(ecsYaml, 'reason: "unexpected \'off\' flag depth {depth}"', 'reason: "unexpected \'off\' flag depth {deepth}"') }, 'mappings/ecs.yaml', 'templates.task.off_flag_depth', '{deepth}'],
    ['severity out of range', { ecsYaml: replaced(ecsYaml, 'reboot: {category: [host], type: [start], action: lkrg-host-reboot, severity: 3', 'reboot: {category: [host], type: [start], action: lkrg-host-reboot, severity: 11') }, 'mappings/ecs.yaml', 'notices.reboot', 'integer 0-10'],
    ['YAML syntax error', { ecsYaml: ecsYaml + '\n  bad: [unclosed\n' }, 'mappings/ecs.yaml', '(syntax)', ''],
    ['duplicate YAML key', { ecsYaml: replaced(ecsYaml, '  task.kill_gamble:', '  task.kill: {rule_name: x}\n  task.kill_gamble:') }, 'mappings/ecs.yaml', '(syntax)', 'unique'],
    ['unknown CEF key', { cefYaml: cefYaml + '  - {key: lkrgModule, from: [lkrg.module.name]}\n' }, 'mappings/cef.yaml', 'extension[30] (lkrgModule)', 'not a CEF dictionary key'],
    ['duplicate csN slot', { cefYaml: cefYaml + '  - {key: cs1, label: other, from: [message]}\n' }, 'mappings/cef.yaml', 'extension[30] (cs1)', "duplicate key 'cs1'"],
    ['custom slot without label', { cefYaml: replaced(cefYaml, '{key: cs4, label: hostBootId, from: [host.boot.id]}', '{key: cs4, from: [host.boot.id]}') }, 'mappings/cef.yaml', 'extension[22] (cs4)', 'needs a label'],
    ['CEF from a non-ECS field', { cefYaml: replaced(cefYaml, '{key: sproc, from: [process.name]}', '{key: sproc, from: [process.comm]}') }, 'mappings/cef.yaml', 'extension[10] (sproc)', "'process.comm' is not an ECS 9.4 field"],
    ['transform that does not fit the key type', { cefYaml: replaced(cefYaml, '{key: sproc, from: [process.name]}', '{key: sproc, from: [process.name], as: epoch_ms}') }, 'mappings/cef.yaml', 'extension[10] (sproc)', 'does not fit key type string'],
    ['label key used as a value key', { cefYaml: cefYaml + '  - {key: cs1Label, from: [message]}\n' }, 'mappings/cef.yaml', 'extension[30] (cs1Label)', 'not a CEF dictionary key'],
    ['vendor with a pipe', { cefYaml: replaced(cefYaml, 'vendor: Openwall', 'vendor: "Open|wall"') }, 'mappings/cef.yaml', 'header.vendor', 'without |'],
  ] as const)('rejects %s', (_what, over, file, entry, reason) => {
    const e = loadError(over as Partial<typeof base>);
    expect(e.file).toBe(file);
    expect(e.entry).toBe(entry);
    expect(e.message).toContain(reason);
  });
});
