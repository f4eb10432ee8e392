import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Normalizer } from '../../../src/normalize/normalizer.js';
import { isoFromMicros } from '../../../src/normalize/ecs-normalizer.js';
import { makeEvent, type EventSpec } from './sample-events.js';

let n: Normalizer;
beforeAll(() => {
  n = new Normalizer({ agent: { type: 'lkrg-siem', name: 'c1', version: '0.1.0' }, namespace: 'prod' });
});
type Doc = Record<string, any>;
const ecs = (s: EventSpec): Doc => n.toEcs(makeEvent(s)) as Doc;
const task = (id: string, fields: Record<string, string>, text = 'LKRG: ALERT: DETECT: Task: x'): Doc =>
  ecs({ text, templateId: id, level: 'ALERT', action: 'DETECT', category: 'Task', fields, record: { seq: 77, facility: 0, severity: 2, timeUs: 1_728_892_706_217_351, host: { name: 'web01', bootId: 'b1', ip: '10.0.0.5' } } });
const state = (id: string, fields: Record<string, string> = {}): Doc => ecs({ text: 'LKRG: STATE: x', templateId: id, level: 'STATE', category: 'Config', fields });

describe('ALERT documents', () => {
  it('euid corruption: ids as strings, legitimate vs assumed identity, ATT&CK', () => {
    const d = task('task.cred_corruption.euid', { expected: '1000', actual: '0', pid: '4242', process_name: 'exploit' });
    expect(d.event).toMatchObject({ kind: 'alert', category: ['intrusion_detection', 'process'], type: ['info'], action: 'lkrg-task-credential-corruption', code: 'task.cred_corruption.euid', severity: 8, sequence: 77, module: 'lkrg', dataset: 'lkrg.alert', provider: 'kernel', reason: 'euid corruption (expected 1000 vs. actual 0)' });
    expect(d.event.outcome).toBeUndefined();
    expect(d.process).toEqual({ pid: 4242, name: 'exploit', user: { id: '0' } });
    expect(d.user).toEqual({ id: '1000', effective: { id: '0' } });
    expect(d.related).toEqual({ user: ['1000', '0'], hosts: ['web01'], ip: ['10.0.0.5'] });
    expect(d.rule).toEqual({ id: 'task.cred_corruption.euid', name: 'Task credential corruption (euid)', category: 'Task', ruleset: 'lkrg' });
    expect(d.threat).toEqual({
      framework: 'MITRE ATT&CK',
      tactic: { id: ['TA0004'], name: ['Privilege Escalation'], reference: ['https://attack.mitre.org/tactics/TA0004/'] },
      technique: { id: ['T1068'], name: ['Exploitation for Privilege Escalation'], reference: ['https://attack.mitre.org/techniques/T1068/'] },
    });
    expect(d.log).toEqual({ level: 'crit', syslog: { facility: { code: 0, name: 'kern' }, severity: { code: 2, name: 'Critical' }, priority: 2 } });
    expect(d.lkrg).toMatchObject({ level: 'ALERT', action: 'DETECT', category: 'Task', template_id: 'task.cred_corruption.euid', legacy: false, forged: false, expected: '1000', actual: '0', cred: { name: 'euid' } });
    expect(d['@timestamp']).toBe('2024-10-14T07:58:26.217351Z');
    expect(d.data_stream).toEqual({ type: 'logs', dataset: 'lkrg.alert', namespace: 'prod' });
    expect(d.ecs).toEqual({ version: '9.4.0' });
  });

  it('gid and fsuid corruption', () => {
    const g = task('task.cred_corruption.sgid', { expected: '100', actual: '0', pid: '1', process_name: 'a' });
    expect(g.process).toEqual({ pid: 1, name: 'a', saved_group: { id: '0' } });
    expect(g.group).toEqual({ id: '100' });
    expect(g.user).toEqual({ effective: { group: { id: '0' } } });
    const f = task('task.cred_corruption.fsuid', { expected: '1000', actual: '0', pid: '1', process_name: 'a' });
    expect(f.process).toEqual({ pid: 1, name: 'a' }); // fsuid has no ECS process field
    expect(f.user).toEqual({ id: '1000', effective: { id: '0' } });
  });

  it('sub-techniques keep their parent technique (T1547.006)', () => {
    const d = ecs({ text: 'x', templateId: 'kernel.hidden_module', level: 'ALERT', action: 'DETECT', category: 'Kernel', fields: { missing_count: '1', module_list_count: '80', kobj_count: '81', module_name: 'diamorphine' } });
    expect(d.threat.technique.id).toEqual(['T1014', 'T1547']);
    expect(d.threat.technique.name).toEqual(['Rootkit', 'Boot or Logon Autostart Execution']);
    expect(d.threat.technique.subtechnique).toEqual({ id: ['T1547.006'], name: ['Kernel Modules and Extensions'], reference: ['https://attack.mitre.org/techniques/T1547/006/'] });
    expect(d.threat.tactic.id).toEqual(['TA0005', 'TA0003', 'TA0004']);
    expect(d.event.category).toEqual(['intrusion_detection', 'driver']);
    expect(d.lkrg.module).toEqual({ name: 'diamorphine' });
    expect(d.lkrg.modules).toEqual({ missing_count: 1, module_list_count: 80, kobj_count: 81 });
  });

  it('inode isolation: file.inode and file.mode are strings', () => {
    const d = ecs({ text: 'x', templateId: 'task.inode_isolate', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { inode: '1835012', mode: '104755' } }); // the catalog regex captures the digits after the leading 0
    expect(d.file).toEqual({ inode: '1835012', mode: '0104755' });
    expect(d.event).toMatchObject({ category: ['intrusion_detection', 'file'], type: ['denied', 'change'], outcome: 'success', reason: 'inode 1835012 mode 0104755 reset to 0, uid/gid to 65534' });
  });

  it('UMH path goes to process.executable and lkrg.umh.path', () => {
    const d = ecs({ text: 'x', templateId: 'umh.block', level: 'ALERT', action: 'BLOCK', category: 'UMH', fields: { umh_path: '/tmp/.x/p' } });
    expect(d.process).toEqual({ executable: '/tmp/.x/p' });
    expect(d.lkrg.umh).toEqual({ path: '/tmp/.x/p' });
    expect(d.event).toMatchObject({ type: ['denied'], outcome: 'success', action: 'lkrg-umh-blocked' });
  });

  it('hidden module on load: name comes from the companion block, originals joined with \\n', () => {
    const main = 'LKRG: ALERT: DETECT: Newly loaded module entering LIVE state is hidden!';
    const d = ecs({
      text: main, templateId: 'module.hidden_on_load', level: 'ALERT', action: 'DETECT', category: 'Module',
      record: { original: `[ 9.1] ${main}` },
      companions: [{ text: 'Hidden module:', original: '[ 9.1] Hidden module:' }, { text: '\tName: [diamorphine]', original: '[ 9.1] \tName: [diamorphine]' }, { text: '\tState: [0: New module is LIVE]', original: '[ 9.1] \tState: [0: New module is LIVE]' }],
    });
    expect(d.lkrg.module).toEqual({ name: 'diamorphine', state: 0, state_text: 'New module is LIVE' });
    expect(d.event.original).toBe(`[ 9.1] ${main}\n[ 9.1] Hidden module:\n[ 9.1] \tName: [diamorphine]\n[ 9.1] \tState: [0: New module is LIVE]`);
    expect(d.message).toBe(`${main}\nHidden module:\n\tName: [diamorphine]\n\tState: [0: New module is LIVE]`);
    expect(d.event.severity).toBe(10);
  });

  it('a field that is not a number stays as text under lkrg.fields', () => {
    const d = task('task.kill', { pid: '99999999999999999999', process_name: 'a' });
    expect(d.process).toEqual({ name: 'a' });
    expect(d.lkrg.fields).toEqual({ pid: '99999999999999999999' });
  });
});

describe('STATE documents', () => {
  it('lowering an enforce knob is an alert with catalog severity', () => {
    const d = state('state.kint_enforce', { old_value: '2', old_label: 'PANIC', new_value: '0', new_label: 'LOG & ACCEPT' });
    expect(d.event).toMatchObject({ kind: 'alert', category: ['configuration'], type: ['change'], outcome: 'success', action: 'lkrg-config-weakened', severity: 8, dataset: 'lkrg.log', reason: "'kint_enforce' changed from 2 (PANIC) to 0 (LOG & ACCEPT)" });
    expect(d.tags).toEqual(['lkrg', 'lkrg-config-weakened']);
    expect(d.lkrg.setting).toEqual({ name: 'kint_enforce', old_value: 2, old_label: 'PANIC', new_value: 0, new_label: 'LOG & ACCEPT' });
    expect(d.lkrg.setting_weakened).toBe(true);
    expect(d.threat.technique.subtechnique.id).toEqual(['T1562.001']);
  });
  it('raising it is an ordinary low-severity event', () => {
    const d = state('state.kint_enforce', { old_value: '0', old_label: 'LOG & ACCEPT', new_value: '2', new_label: 'PANIC' });
    expect(d.event).toMatchObject({ kind: 'event', action: 'lkrg-config-changed', severity: 2 });
    expect(d.tags).toEqual(['lkrg']);
  });
  it('log_level lowered to 0 is an alert', () => {
    expect(state('state.log_level', { old_value: '3', old_label: 'ISSUE', new_value: '0', new_label: 'ALERT' }).event.kind).toBe('alert');
  });
  it('a longer interval weakens but stays an event', () => {
    const d = state('state.interval', { old_value: '15', new_value: '1800' });
    expect(d.event).toMatchObject({ kind: 'event', action: 'lkrg-config-weakened', severity: 5, reason: "'interval' changed from 15 to 1800" });
  });
  it('Disabling block_modules is an alert, Enabling is not; constants fill lkrg.setting', () => {
    const off = state('state.block_modules.disable');
    expect(off.event).toMatchObject({ kind: 'alert', reason: "'block_modules' disabled", severity: 8 });
    expect(off.lkrg.setting).toEqual({ name: 'block_modules', new_value: 0 });
    const on = state('state.block_modules.enable');
    expect(on.event).toMatchObject({ kind: 'event', action: 'lkrg-config-changed' });
    expect(on.lkrg.setting).toEqual({ name: 'block_modules', new_value: 1 });
  });
  it('a legacy change without the old value cannot be judged: event, catalog severity', () => {
    const d = ecs({ text: '[p_lkrg] New log level => 0 (ALERT)', templateId: 'legacy.state.log_level', style: 'legacy', level: 'CRIT', category: 'Config', fields: { new_value: '0', new_label: 'ALERT' } });
    expect(d.event).toMatchObject({ kind: 'event', action: 'lkrg-config-changed', severity: 8 });
    expect(d.lkrg).toMatchObject({ legacy: true, maps_to: 'state.log_level', setting: { name: 'log_level', new_value: 0, new_label: 'ALERT' } });
    expect(d.lkrg.setting_weakened).toBeUndefined();
    expect(d.tags).toEqual(['lkrg', 'lkrg-legacy']);
  });
});

describe('legacy, lifecycle, forged, unknown, kernel lines', () => {
  it('legacy alert inherits the current mapping and is in lkrg.alert', () => {
    const d = ecs({ text: '[p_lkrg] x', templateId: 'legacy.task.cred.euid', style: 'legacy', level: 'CRIT', action: 'DETECT', category: 'Task', fields: { pid: '5', process_name: 'p', expected: '1000', actual: '0' } });
    expect(d.event).toMatchObject({ kind: 'alert', action: 'lkrg-task-credential-corruption', dataset: 'lkrg.alert', code: 'legacy.task.cred.euid' });
    expect(d.process.user).toEqual({ id: '0' });
    expect(d.rule.name).toBe('Task credential corruption (euid)');
    expect(d.lkrg).toMatchObject({ legacy: true, maps_to: 'task.cred_corruption.euid', level: 'CRIT' });
  });
  it('ALIVE/DYING lifecycle', () => {
    expect(ecs({ text: 'LKRG: ALIVE: Loading LKRG', templateId: 'lifecycle.loading', level: 'ALIVE', category: 'Lifecycle' }).event).toMatchObject({ kind: 'event', category: ['driver'], type: ['start'], outcome: 'success', action: 'lkrg-loading', severity: 1, dataset: 'lkrg.log' });
    expect(ecs({ text: 'LKRG: DYING: Unloading LKRG', templateId: 'lifecycle.unloading', level: 'DYING', category: 'Lifecycle' }).event).toMatchObject({ kind: 'event', category: ['driver'], type: ['end'], action: 'lkrg-unloading', severity: 5 });
    const hb = ecs({ text: 'LKRG: ALIVE: System is clean', templateId: 'lifecycle.heartbeat.system', level: 'ALIVE', category: 'Heartbeat' });
    expect(hb.event).toMatchObject({ category: ['host'], type: ['info'] });
    expect(hb.event.outcome).toBeUndefined();
  });
  it('forged line: alert, claimed fields only under lkrg.fields', () => {
    const d = ecs({ text: 'LKRG: ALERT: BLOCK: Task: Killing pid 1, name init', templateId: 'task.kill', level: 'ALERT', action: 'BLOCK', category: 'Task', fields: { pid: '1', process_name: 'init' }, forged: true, record: { facility: 1, severity: 4 } });
    expect(d.event).toMatchObject({ kind: 'alert', action: 'lkrg-forged-message', severity: 7, dataset: 'lkrg.alert', code: 'task.kill' });
    expect(d.rule).toMatchObject({ id: 'lkrg.forged', name: 'Forged LKRG kernel message' });
    expect(d.process).toBeUndefined();
    expect(d.threat).toBeUndefined();
    expect(d.lkrg).toMatchObject({ forged: true, template_id: 'task.kill', fields: { pid: '1', process_name: 'init' } });
    expect(d.tags).toEqual(['lkrg', 'lkrg-forged']);
    expect(d.log).toEqual({ level: 'warning', syslog: { facility: { code: 1, name: 'user' }, severity: { code: 4, name: 'Warning' }, priority: 12 } });
  });
  it('unknown LKRG line keeps its level semantics', () => {
    const d = ecs({ text: 'LKRG: ALERT: BLOCK: Kernel: something new', templateId: 'unknown', level: 'ALERT', action: 'BLOCK', category: 'Kernel' });
    expect(d.event).toMatchObject({ kind: 'alert', type: ['denied'], action: 'lkrg-violation-blocked', severity: 8, dataset: 'lkrg.alert', code: 'unknown' });
    expect(d.rule).toEqual({ id: 'lkrg.unknown', name: 'Unrecognised LKRG ALERT message', category: 'Kernel', ruleset: 'lkrg' });
    expect(d.tags).toEqual(['lkrg', 'lkrg-unknown-template']);
  });
  it('non-LKRG kernel line: plain event, no rule, threat or lkrg', () => {
    const d = ecs({ text: 'usb 1-1: new high-speed USB device', templateId: null, isLkrg: false, record: { severity: 6, facility: 0 } });
    expect(d.event).toMatchObject({ kind: 'event', category: ['host'], type: ['info'], action: 'kernel-message', severity: 1, dataset: 'lkrg.log' });
    expect(d.rule).toBeUndefined();
    expect(d.threat).toBeUndefined();
    expect(d.lkrg).toBeUndefined();
    expect(d.tags).toEqual(['kernel']);
  });
  it('gap notice', () => {
    const d = ecs({ text: '', templateId: null, isLkrg: false, record: { notice: { type: 'gap', missing: 137, fromSeq: 1200, toSeq: 1338, detail: '137 kernel records missing between seq 1200 and 1338' } } });
    expect(d.message).toBe('137 kernel records missing between seq 1200 and 1338');
    expect(d.event).toMatchObject({ kind: 'event', category: ['host'], action: 'lkrg-sequence-gap', code: 'notice.gap', severity: 5 });
    expect(d.lkrg.notice).toEqual({ type: 'gap', missing: 137, from_seq: 1200, to_seq: 1338, origin: 'test' });
  });
});

describe('times, options, hostile text', () => {
  it('@timestamp falls back to receivedUs, then readAt; created prefers receivedUs', () => {
    expect(isoFromMicros(1_728_892_706_000_007)).toBe('2024-10-14T07:58:26.000007Z');
    const a = ecs({ text: 'x', templateId: null, isLkrg: false, record: { timeUs: null, receivedUs: 1_728_892_706_123_456 } });
    expect([a['@timestamp'], a.event.created]).toEqual(['2024-10-14T07:58:26.123456Z', '2024-10-14T07:58:26.123456Z']);
    const b = ecs({ text: 'x', templateId: null, isLkrg: false, readAtMs: 1_728_892_800_123 });
    expect([b['@timestamp'], b.event.created]).toEqual(['2024-10-14T08:00:00.123000Z', '2024-10-14T08:00:00.123000Z']);
  });
  it('keepOriginal false drops event.original', () => {
    const m = new Normalizer({ agent: { type: 'lkrg-siem' }, keepOriginal: false });
    expect((m.toEcs(makeEvent({ text: 'x', templateId: null, isLkrg: false })) as Doc).event.original).toBeUndefined();
  });
  it('hostile names stay inside their JSON strings (one NDJSON line, exact round trip)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (name) => {
        const text = `LKRG: ALERT: BLOCK: Task: Killing pid 7, name ${name}`;
        const d = task('task.kill', { pid: '7', process_name: name }, text);
        const json = JSON.stringify(d);
        expect(json).not.toMatch(/[\n\r]/);
        const back = JSON.parse(json);
        expect(back.process.name).toBe(name);
        expect(back.message).toBe(text);
        expect(Object.keys(back.process)).toEqual(['pid', 'name']);
      }),
      { numRuns: 300 },
    );
  });
});

describe('isoFromMicros', () => {
  it('agrees with Date#toISOString (+ µs) over a wide range', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (us) => {
        const ms = Math.floor(us / 1000);
        const want = new Date(ms).toISOString().slice(0, -1) + String(us - ms * 1000).padStart(3, '0') + 'Z';
        expect(isoFromMicros(us)).toBe(want);
      }),
      { numRuns: 5000 },
    );
    expect(isoFromMicros(0)).toBe('1970-01-01T00:00:00.000000Z');
    expect(isoFromMicros(951_782_400_000_001)).toBe('2000-02-29T00:00:00.000001Z');
  });
});
