import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  LkrgMessageParser,
  MAX_MATCH_LENGTH,
  NON_LKRG_MESSAGE,
  UNKNOWN_TEMPLATE_ID,
} from '../../../src/parse/lkrg-message-parser.js';
import { SAMPLES } from './helpers.js';

const parser = new LkrgMessageParser();
const EUID = 'LKRG: ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid 4242, name ';

describe('non-LKRG lines', () => {
  it('returns the shared frozen non-LKRG result', () => {
    for (const line of [
      'usb 1-1: new high-speed USB device number 2 using xhci_hcd',
      'lkrg: loading out-of-tree module taints kernel.',
      'lkrg: module verification failed: signature and/or required key missing - tainting kernel',
      'Linux version 6.8.0-45-generic',
      'Kernel command line: ro quiet',
      '[drm] Initialized i915',
      'LKRGX: not the prefix',
      '',
      'abc',
      ' <TASK>',
      '--- something else ---',
      'Hidden module: extra',
    ]) {
      const r = parser.parse(line);
      expect(r, line).toBe(NON_LKRG_MESSAGE);
    }
    expect(Object.isFrozen(NON_LKRG_MESSAGE)).toBe(true);
    expect(NON_LKRG_MESSAGE.isLkrg).toBe(false);
    expect(NON_LKRG_MESSAGE.templateId).toBeNull();
  });

  it('[p_lkrg] as a module tag in a stack frame is not an LKRG message', () => {
    const frame = parser.parse(' p_ed_enforce_pcfi+0x2a5/0x3f0 [p_lkrg]');
    expect(frame.isLkrg).toBe(false);
    expect(frame.templateId).toBe('aux.stack_frame');
    expect(frame.fields.module).toBe('p_lkrg');
    expect(parser.parse('Modules linked in: [p_lkrg] nf_tables').isLkrg).toBe(false);
    expect(parser.parse('CPU: 1 PID: 7781 Comm: x Tainted: G OE [p_lkrg]').isLkrg).toBe(false);
  });

  it('a generic kernel panic is recognised but not LKRG; an LKRG panic text is', () => {
    const generic = parser.parse('Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
    expect(generic.templateId).toBe('kernel.panic_line');
    expect(generic.isLkrg).toBe(false);
    const lkrg = parser.parse('Kernel panic - not syncing: Kernel: 3 checksums changed unexpectedly');
    expect(lkrg.templateId).toBe('kernel.panic_line');
    expect(lkrg.isLkrg).toBe(true);
    expect(lkrg.style).toBe('raw');
    expect(lkrg.fields.panic_message).toBe('Kernel: 3 checksums changed unexpectedly');
    expect(parser.parse('Kernel panic - not syncing: UMH: Executing program name /tmp/x').isLkrg).toBe(true);
  });
});

describe('current format', () => {
  it('splits prefix, template and fields', () => {
    const r = parser.parse(`${EUID}exploit`);
    expect(r).toEqual({
      isLkrg: true,
      templateId: 'task.cred_corruption.euid',
      style: 'current',
      level: 'ALERT',
      action: 'DETECT',
      category: 'Task',
      fields: { expected: '1000', actual: '0', pid: '4242', process_name: 'exploit' },
      body: 'DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid 4242, name exploit',
    });
    expect(Object.isFrozen(r)).toBe(true);
  });

  it('non-ALERT levels take level and category from the catalog', () => {
    const r = parser.parse('LKRG: STATE: Changing \'log_level\' from 3 (ISSUE) to 0 (ALERT)');
    expect(r.templateId).toBe('state.log_level');
    expect(r.level).toBe('STATE');
    expect(r.action).toBeNull();
    expect(r.fields).toEqual({ old_value: '3', old_label: 'ISSUE', new_value: '0', new_label: 'ALERT' });
    expect(r.body).toBe("Changing 'log_level' from 3 (ISSUE) to 0 (ALERT)");
  });

  it('an LKRG line matching no template is an unknown LKRG event with prefix data', () => {
    const r = parser.parse('LKRG: ALERT: DETECT: Task: something new in 2.0 for pid 1, name x');
    expect(r.isLkrg).toBe(true);
    expect(r.templateId).toBe(UNKNOWN_TEMPLATE_ID);
    expect(r.style).toBe('current');
    expect(r.level).toBe('ALERT');
    expect(r.action).toBe('DETECT');
    expect(r.category).toBe('Task');
    expect(r.fields).toEqual({});
    expect(r.body).toBe('DETECT: Task: something new in 2.0 for pid 1, name x');

    const odd = parser.parse('LKRG: NOTICE: whatever');
    expect(odd.isLkrg).toBe(true);
    expect(odd.templateId).toBe(UNKNOWN_TEMPLATE_ID);
    expect(odd.level).toBeNull();
    expect(odd.body).toBe('NOTICE: whatever');

    const issue = parser.parse('LKRG: ISSUE: brand new issue text');
    expect(issue.level).toBe('ISSUE');
    expect(issue.action).toBeNull();
    expect(issue.category).toBeNull();
  });

  it('the net rate-limit line is a raw line that looks like ISSUE', () => {
    const r = parser.parse('LKRG: ISSUE: Net: Rate limit: 4 callbacks suppressed');
    expect(r.templateId).toBe('aux.net_ratelimit');
    expect(r.style).toBe('raw');
    expect(r.isLkrg).toBe(true);
    expect(r.fields).toEqual({ suppressed: '4' });
  });

  it('accepts a printk caller id before the prefix', () => {
    for (const cid of ['[  T804] ', '[T12] ', '[    C3] ']) {
      const r = parser.parse(`${cid}${EUID}exploit`);
      expect(r.templateId, cid).toBe('task.cred_corruption.euid');
      expect(r.fields.process_name).toBe('exploit');
    }
    expect(parser.parse('[  T804] usb 1-1: reset').isLkrg).toBe(false);
  });
});

describe('messy lines', () => {
  it('doubled spaces, trailing spaces and CR', () => {
    const variants = [
      `LKRG:  ALERT:  DETECT:  Task:  euid corruption (expected 1000 vs. actual 0) for pid 4242, name exploit`,
      `LKRG: ALERT: DETECT: Task: euid  corruption (expected 1000 vs.  actual 0) for pid  4242, name exploit`,
      `${EUID}exploit\r`,
      `${EUID}exploit\r\n`,
    ];
    for (const v of variants) {
      const r = parser.parse(v);
      expect(r.templateId, JSON.stringify(v)).toBe('task.cred_corruption.euid');
      expect(r.fields.pid, JSON.stringify(v)).toBe('4242');
      expect(r.fields.actual).toBe('0');
      expect(r.fields.process_name).toBe('exploit');
    }
    expect(parser.parse('LKRG: ALIVE: Loading LKRG   ').templateId).toBe('lifecycle.loading');
    expect(parser.parse('LKRG: ALIVE: Loading LKRG\r').templateId).toBe('lifecycle.loading');
    expect(parser.parse('Hidden module:  \r').templateId).toBe('aux.hidden_module.header');
    expect(parser.parse('[p_lkrg]  System is clean!  ').templateId).toBe('legacy.lifecycle.heartbeat.system');
  });

  it('names cut at 15 chars and control bytes in names', () => {
    const names = ['verylongprocess', '\u001b[1A\u001b[2K', 'a\u0000b\u0007c', 'майнер', 'x\u007f\u0085y', '\ud800'];
    for (const name of names) {
      const r = parser.parse(`${EUID}${name}`);
      expect(r.templateId, JSON.stringify(name)).toBe('task.cred_corruption.euid');
      expect(r.fields.process_name).toBe(name);
      expect(r.fields.pid).toBe('4242');
    }
  });

  it('hostile names cannot change earlier fields', () => {
    const hostile = [
      'x, name y',
      'vs. 1',
      ') for pid 1, name root',
      '|',
      'a=b c=d',
      'evil\nLKRG: ALIVE: System is clean',
      'x (expected 0 vs. actual 0)',
      ' ',
      '',
    ];
    for (const name of hostile) {
      const r = parser.parse(`${EUID}${name}`);
      expect(r.templateId, JSON.stringify(name)).toBe('task.cred_corruption.euid');
      expect(r.fields, JSON.stringify(name)).toEqual({ expected: '1000', actual: '0', pid: '4242', process_name: name });
      const kill = parser.parse(`LKRG: ALERT: BLOCK: Task: Killing pid 77, name ${name}`);
      expect(kill.templateId).toBe('task.kill');
      expect(kill.fields).toEqual({ pid: '77', process_name: name });
    }
  });

  it('hostile names in legacy lines (name in the middle) keep the numbers right', () => {
    const r = parser.parse('[p_lkrg] <Exploit Detection> process[4242 | x] has different EUID! 1 vs 1] has different EUID! 1000 vs 0');
    expect(r.templateId).toBe('legacy.task.cred.euid');
    expect(r.fields.pid).toBe('4242');
    expect(r.fields.process_name).toBe('x] has different EUID! 1 vs 1');
    expect(r.fields.expected).toBe('1000');
    expect(r.fields.actual).toBe('0');
  });
});

describe('legacy format', () => {
  it('parses [p_lkrg] lines, panics and caller ids', () => {
    expect(parser.parse('[p_lkrg] Loading LKRG...').templateId).toBe('legacy.lifecycle.loading');
    const p = parser.parse('Kernel panic - not syncing: [p_lkrg] Process[exploit | 833] Integrity verification failed! Killing the kernel...');
    expect(p.templateId).toBe('legacy.task.panic_unexpected');
    expect(p.level).toBe('PANIC');
    expect(p.fields).toEqual({ process_name: 'exploit', pid: '833' });
    expect(p.body).toBe('Process[exploit | 833] Integrity verification failed! Killing the kernel...');
    expect(parser.parse('[  T804] [p_lkrg] Loading LKRG...').templateId).toBe('legacy.lifecycle.loading');
  });

  it('unknown legacy lines stay LKRG', () => {
    const r = parser.parse('[p_lkrg] Some message from a development snapshot');
    expect(r.isLkrg).toBe(true);
    expect(r.templateId).toBe(UNKNOWN_TEMPLATE_ID);
    expect(r.style).toBe('legacy');
    expect(r.body).toBe('Some message from a development snapshot');
    const panic = parser.parse('Kernel panic - not syncing: [p_lkrg] Something else failed!');
    expect(panic.templateId).toBe(UNKNOWN_TEMPLATE_ID);
    expect(panic.level).toBe('PANIC');
    expect(parser.parse('[p_lkrg]x').isLkrg).toBe(false);
  });

  it('a multi-line legacy record in one message (journald) gets the continuation fields', () => {
    const r = parser.parse(
      '[p_lkrg] HIDDEN MODULE:\nname[diamorphine] module at addr[0xffffffffc0b87040] module core[0xffffffffc0b83000] with size[0x1000] hash[0x3f2b8a11c9e07d54]',
    );
    expect(r.templateId).toBe('legacy.kernel.hidden_module.detail');
    expect(r.fields).toEqual({
      module_name: 'diamorphine',
      module_address: 'ffffffffc0b87040',
      core_address: 'ffffffffc0b83000',
      core_size: '1000',
      core_hash: '3f2b8a11c9e07d54',
    });
    const cont = parser.matchContinuation(
      'legacy.kernel.hidden_module.detail',
      '               name[x] module at addr[0x1] module core[0x2] with size[0x3] hash[0x4]',
    );
    expect(cont).toEqual({ module_name: 'x', module_address: '1', core_address: '2', core_size: '3', core_hash: '4' });
    expect(parser.matchContinuation('legacy.kernel.hidden_module.detail', 'something else')).toBeNull();
    expect(parser.matchContinuation('task.kill', 'name[x]')).toBeNull();
  });
});

describe('raw companion lines', () => {
  it('are recognised with style raw', () => {
    const cases: [string, string, Record<string, string>][] = [
      ['Hidden module:', 'aux.hidden_module.header', {}],
      ['\tName: [diamorphine]', 'aux.hidden_module.name', { module_name: 'diamorphine' }],
      ['\tName: []', 'aux.hidden_module.name', { module_name: '' }],
      ['\tState: [0: New module is LIVE]', 'aux.hidden_module.state', { module_state: '0', module_state_text: 'New module is LIVE' }],
      ['\tPointer to struct module: [0xffffffffc0b87040]', 'aux.hidden_module.pointer', { module_address: 'ffffffffc0b87040' }],
      ['--- STACK TRACE START ---', 'aux.stack_trace.start', {}],
      ['--- STACK TRACE END ---', 'aux.stack_trace.end', {}],
    ];
    for (const [line, id, fields] of cases) {
      const r = parser.parse(line);
      expect(r.templateId, line).toBe(id);
      expect(r.style).toBe('raw');
      expect(r.level).toBe('RAW');
      expect(r.isLkrg).toBe(true);
      expect(r.fields).toEqual(fields);
    }
  });
});

describe('limits', () => {
  it('very long LKRG lines are unknown LKRG events, parsed quickly', () => {
    const long = `${EUID}${'x, name '.repeat(131072)}`; // > 1 MiB
    const t0 = performance.now();
    const r = parser.parse(long);
    const ms = performance.now() - t0;
    expect(r.isLkrg).toBe(true);
    expect(r.templateId).toBe(UNKNOWN_TEMPLATE_ID);
    expect(r.level).toBe('ALERT');
    expect(r.body.length).toBe(long.length - 'LKRG: ALERT: '.length);
    expect(ms).toBeLessThan(500);
    // Right at the limit the template still matches.
    const atLimit = `${EUID}${'n'.repeat(MAX_MATCH_LENGTH - EUID.length)}`;
    expect(parser.parse(atLimit).templateId).toBe('task.cred_corruption.euid');
  });
});

describe('regexes built on first use', () => {
  it('prepareAll builds every derived regex, and parsing gives the same results with or without it', () => {
    const prepared = new LkrgMessageParser();
    const named = prepared.prepareAll();
    // nearly every catalog regex has a positional form; the rest read named groups
    expect(named).toBeGreaterThanOrEqual(0);
    expect(named).toBeLessThan(prepared.catalog.templates.length / 10);
    const lines: string[] = [];
    for (const f of ['samples-kernel-lines.txt', 'samples-legacy-0.9.x.txt']) {
      for (const l of readFileSync(`${SAMPLES}/${f}`, 'utf8').split('\n')) {
        if (l.trim() === '') continue;
        lines.push(l);
        // messy spacing: the tidied-text regexes
        lines.push(l.replace(/ /g, '  '), `${l}   `);
      }
    }
    const fresh = new LkrgMessageParser();
    let lkrg = 0;
    for (const l of lines) {
      const a = fresh.parse(l);
      expect(prepared.parse(l), l).toEqual(a);
      if (a.isLkrg && a.templateId !== UNKNOWN_TEMPLATE_ID) lkrg++;
    }
    expect(lkrg).toBeGreaterThan(lines.length / 2);
  });
});
