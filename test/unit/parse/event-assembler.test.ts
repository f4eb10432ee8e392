import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { LkrgEvent, RawRecord } from '../../../src/core/types.js';
import { EventAssembler, eventId } from '../../../src/parse/event-assembler.js';
import { expectedRows, rec } from './helpers.js';

function run(a: EventAssembler, records: RawRecord[]): LkrgEvent[] {
  const out: LkrgEvent[] = [];
  for (const r of records) out.push(...a.push(r));
  out.push(...a.flush());
  return out;
}

const UMH = 'LKRG: ALERT: BLOCK: UMH: Executing program name /tmp/.cp';
const UMH_PANIC = 'Kernel panic - not syncing: UMH: Executing program name /tmp/.cp';

describe('EventAssembler basics', () => {
  it('drops non-LKRG lines by default and keeps them with includeNonLkrg', () => {
    const lines = ['usb 1-1: reset', 'LKRG: ALIVE: Loading LKRG', 'EXT4-fs mounted'];
    const quiet = run(new EventAssembler(), lines.map((l) => rec(l)));
    expect(quiet.map((e) => e.parsed.templateId)).toEqual(['lifecycle.loading']);
    const all = run(new EventAssembler({ includeNonLkrg: true }), lines.map((l) => rec(l)));
    expect(all.map((e) => e.record.text)).toEqual(lines);
    expect(all.map((e) => e.parsed.isLkrg)).toEqual([false, true, false]);
  });

  it('synthetic notice records always become events', () => {
    const a = new EventAssembler();
    const notice = rec('', { notice: { type: 'gap', missing: 3, fromSeq: 10, toSeq: 14, detail: '3 records missing' }, seq: 14 });
    const out = run(a, [notice]);
    expect(out).toHaveLength(1);
    expect(out[0]!.parsed.isLkrg).toBe(false);
    expect(out[0]!.parsed.templateId).toBeNull();
    expect(out[0]!.record.notice?.type).toBe('gap');
    expect(out[0]!.forged).toBe(false);
  });

  it('a notice closes the open alert of its stream first (order kept)', () => {
    const a = new EventAssembler();
    const out = run(a, [rec(UMH), rec('', { notice: { type: 'reboot', detail: 'new boot' } }), rec(UMH_PANIC)]);
    expect(out.map((e) => e.parsed.templateId)).toEqual(['umh.block', null, 'kernel.panic_line']);
    expect(out[0]!.companions).toHaveLength(0);
  });

  it('marks forged LKRG lines and only those', () => {
    const out = run(new EventAssembler({ includeNonLkrg: true }), [
      rec('LKRG: ALIVE: System is clean', { kernelOrigin: false }),
      rec('LKRG: ALIVE: System is clean', { kernelOrigin: true }),
      rec('LKRG: ALIVE: System is clean'),
      rec('hello from user space', { kernelOrigin: false }),
    ]);
    expect(out.map((e) => e.forged)).toEqual([true, false, false, false]);
  });

  it('readAtMs comes from the clock once per push', () => {
    let t = 1000;
    const a = new EventAssembler({ now: () => (t += 5) });
    const out = run(a, [rec('LKRG: ALIVE: Loading LKRG'), rec('LKRG: ALIVE: LKRG initialized successfully')]);
    expect(out.map((e) => e.readAtMs)).toEqual([1005, 1010]);
  });

  it('events are frozen', () => {
    const [e] = run(new EventAssembler(), [rec('LKRG: ALIVE: Loading LKRG')]);
    expect(Object.isFrozen(e)).toBe(true);
    expect(Object.isFrozen(e!.companions)).toBe(true);
  });
});

describe('event ids', () => {
  it('use host + boot + seq when known, stream + offset otherwise', () => {
    const withSeq = rec('LKRG: ALIVE: Loading LKRG', { seq: 1130, host: { ip: '10.20.30.41', name: 'h', bootId: 'b1' } });
    // 16 hex of the hash of host + boot, then the seq as 16 hex digits
    const expected = createHash('sha256').update('seq\u000010.20.30.41\u0000b1').digest('hex').slice(0, 16) + (1130).toString(16).padStart(16, '0');
    expect(eventId(withSeq)).toBe(expected);
    expect(eventId(withSeq)).toMatch(/^[0-9a-f]{32}$/);
    // Same record read again from another file or offset: same id (stable across replays).
    expect(eventId({ ...withSeq, streamId: 'other', offset: 9 })).toBe(expected);
    // Host identity: ip, else name, else machine id.
    expect(eventId({ ...withSeq, host: { name: 'h', bootId: 'b1' } })).not.toBe(expected);
    expect(eventId({ ...withSeq, host: { name: 'h', bootId: 'b1' } })).toBe(
      eventId({ ...withSeq, host: { name: 'h', id: 'm', bootId: 'b1' } }),
    );
    expect(eventId({ ...withSeq, seq: 1131 })).not.toBe(expected);
    expect(eventId({ ...withSeq, host: { ip: '10.20.30.41', bootId: 'b2' } })).not.toBe(expected);

    const noSeq = rec('x', { streamId: 'file:1', offset: 4096, host: { name: 'h' } });
    expect(eventId(noSeq)).toBe(createHash('sha256').update('pos\u0000file:1').digest('hex').slice(0, 16) + '0000000000001000');
    expect(eventId({ ...noSeq, offset: 4097 })).not.toBe(eventId(noSeq));
    // No boot id: seq alone is not trusted, position is used.
    expect(eventId({ ...noSeq, seq: 5 })).toBe(eventId(noSeq));
  });

  it('a notice never shares the id of the record at the same position', () => {
    const r = rec('LKRG: ALIVE: Loading LKRG', { seq: 7, host: { name: 'h', bootId: 'b' } });
    const dup = { ...r, notice: { type: 'duplicate' as const, detail: 'resend dropped' } };
    expect(eventId(dup)).not.toBe(eventId(r));
  });

  it('replaying the same records gives the same ids', () => {
    const records = expectedRows()
      .filter((r) => r.file === 'samples-kernel-lines.txt' && r.message !== undefined)
      .map((r) => rec(r.message!, { streamId: 'k', offset: r.line }));
    const ids1 = run(new EventAssembler(), records).map((e) => e.id);
    const ids2 = run(new EventAssembler(), records).map((e) => e.id);
    expect(ids1.length).toBeGreaterThan(100);
    expect(ids2).toEqual(ids1);
    expect(new Set(ids1).size).toBe(ids1.length);
  });
});

describe('companions', () => {
  it('umh.panic when the next record is its kernel panic line', () => {
    const out = run(new EventAssembler(), [rec(UMH), rec(UMH_PANIC)]);
    expect(out).toHaveLength(1);
    expect(out[0]!.parsed.templateId).toBe('umh.panic');
    expect(out[0]!.parsed.fields).toEqual({ umh_path: '/tmp/.cp' });
    expect(out[0]!.companions.map((c) => c.text)).toEqual([UMH_PANIC]);
  });

  it('umh.block when the next record is something else, or the panic text differs', () => {
    const kill = 'LKRG: ALERT: BLOCK: Task: Killing pid 52117, name kworker/u8:1';
    const out = run(new EventAssembler(), [rec(UMH), rec(kill)]);
    expect(out.map((e) => e.parsed.templateId)).toEqual(['umh.block', 'task.kill']);
    const other = run(new EventAssembler(), [rec(UMH), rec('Kernel panic - not syncing: UMH: Executing program name /tmp/.other')]);
    expect(other.map((e) => e.parsed.templateId)).toEqual(['umh.block', 'kernel.panic_line']);
    expect(other[1]!.parsed.isLkrg).toBe(true);
    const alone = run(new EventAssembler(), [rec(UMH)]);
    expect(alone.map((e) => e.parsed.templateId)).toEqual(['umh.block']);
  });

  it('the panic line of another stream, another boot or a forged record is not attached', () => {
    const otherStream = run(new EventAssembler(), [rec(UMH), rec(UMH_PANIC, { streamId: 's2' })]);
    expect(otherStream.map((e) => e.parsed.templateId).sort()).toEqual(['kernel.panic_line', 'umh.block']);
    const otherBoot = run(new EventAssembler(), [rec(UMH), rec(UMH_PANIC, { host: { name: 'host1', bootId: 'boot-2' } })]);
    expect(otherBoot.map((e) => e.parsed.templateId)).toEqual(['umh.block', 'kernel.panic_line']);
    const forged = run(new EventAssembler(), [rec(UMH), rec(UMH_PANIC, { kernelOrigin: false })]);
    expect(forged.map((e) => [e.parsed.templateId, e.forged])).toEqual([
      ['umh.block', false],
      ['kernel.panic_line', true],
    ]);
  });

  it('tolerates a few unrelated kernel lines between alert and companion, keeping order', () => {
    const noise = 'e1000e: eth0 NIC Link is Up';
    const out = run(new EventAssembler({ includeNonLkrg: true }), [rec(UMH), rec(noise), rec(UMH_PANIC), rec(noise)]);
    expect(out.map((e) => e.parsed.templateId ?? e.record.text)).toEqual(['umh.panic', noise, noise]);
    const far = run(new EventAssembler(), [rec(UMH), rec(noise), rec(noise), rec(noise), rec(UMH_PANIC)]);
    expect(far.map((e) => e.parsed.templateId)).toEqual(['umh.block', 'kernel.panic_line']);
  });

  it('every p_panic BLOCK line gets its panic line', () => {
    const pairs = [
      ['LKRG: ALERT: BLOCK: Task: Unexpected changes for pid 48213, name exploit', 'task.panic_unexpected'],
      ['LKRG: ALERT: BLOCK: CPU: SMEP got disabled', 'cpu.smep.panic'],
      ['LKRG: ALERT: BLOCK: Kernel: 3 checksums changed unexpectedly', 'kernel.checksums.panic'],
      ['LKRG: ALERT: BLOCK: SELinux: selinux_state->enforcing corruption (expected 1 vs. actual 0)', 'selinux.enforcing_panic'],
    ] as const;
    for (const [line, id] of pairs) {
      const panic = `Kernel panic - not syncing: ${line.slice('LKRG: ALERT: BLOCK: '.length)}`;
      const out = run(new EventAssembler(), [rec(line), rec(panic)]);
      expect(out.map((e) => e.parsed.templateId), line).toEqual([id]);
      expect(out[0]!.companions.map((c) => c.text)).toEqual([panic]);
    }
  });

  it('attaches the hidden-module block and merges its fields', () => {
    const lines = [
      'LKRG: ALERT: DETECT: Newly loaded module entering LIVE state is hidden!',
      'Hidden module:',
      '\tPointer to struct module: [0xffffffffc0b87040]',
      '\tName: [diamorphine]',
      '\tState: [0: New module is LIVE]',
      'LKRG: ALERT: BLOCK: Kernel: Newly loaded module [name: diamorphine] in LIVE state is hidden!',
      'Kernel panic - not syncing: Kernel: Newly loaded module [name: diamorphine] in LIVE state is hidden!',
    ];
    const out = run(new EventAssembler(), lines.map((l) => rec(l)));
    expect(out.map((e) => e.parsed.templateId)).toEqual(['module.hidden_on_load', 'module.hidden_on_load.panic']);
    expect(out[0]!.companions.map((c) => c.text)).toEqual(lines.slice(1, 5));
    expect(out[0]!.parsed.fields).toEqual({
      module_address: 'ffffffffc0b87040',
      module_name: 'diamorphine',
      module_state: '0',
      module_state_text: 'New module is LIVE',
    });
    expect(out[1]!.companions.map((c) => c.text)).toEqual([lines[6]]);
    expect(out[1]!.parsed.fields).toEqual({ module_name: 'diamorphine' });
  });

  it('a hidden-module block without its alert (prefix filtered) is still an LKRG event', () => {
    const out = run(new EventAssembler(), [rec('Hidden module:'), rec('\tName: []'), rec('\tState: [0: New module is LIVE]')]);
    expect(out).toHaveLength(1);
    expect(out[0]!.parsed.templateId).toBe('aux.hidden_module.header');
    expect(out[0]!.parsed.fields).toEqual({ module_name: '', module_state: '0', module_state_text: 'New module is LIVE' });
    expect(out[0]!.companions).toHaveLength(2);
    const lone = run(new EventAssembler(), [rec('\tName: [rootkit]')]);
    expect(lone.map((e) => [e.parsed.templateId, e.parsed.isLkrg])).toEqual([['aux.hidden_module.name', true]]);
  });

  it('attaches the pCFI stack dump to the WATCH invalid-frame line', () => {
    const lines = [
      'LKRG: ALERT: DETECT: Task: Invalid stack trace for pid 25117, name exploit',
      'LKRG: WATCH: Invalid frame is 3 (0x7ffd5c1e3010) out of 9 for pid 25117, name exploit',
      '--- STACK TRACE START ---',
      ' p_ed_enforce_pcfi+0x1b4/0x3d0 [lkrg]',
      ' kprobe_ftrace_handler+0x10d/0x1b0',
      ' 0x7ffd5c1e3010',
      '--- STACK TRACE END ---',
      'LKRG: ALERT: BLOCK: Task: Killing pid 25117, name exploit',
    ];
    const out = run(new EventAssembler(), lines.map((l) => rec(l)));
    expect(out.map((e) => e.parsed.templateId)).toEqual([
      'task.invalid_stack_trace',
      'watch.invalid_frame_is_0x_out_of_for_pid_name',
      'task.kill',
    ]);
    expect(out[1]!.companions.map((c) => c.text)).toEqual(lines.slice(2, 7));
  });

  it('a stack dump without an anchor groups under its start marker; loose frames are not LKRG', () => {
    const out = run(new EventAssembler(), [
      rec('--- STACK TRACE START ---'),
      rec(' foo+0x1/0x2'),
      rec('--- STACK TRACE END ---'),
      rec(' dump_stack_lvl+0x48/0x70'),
    ]);
    expect(out.map((e) => e.parsed.templateId)).toEqual(['aux.stack_trace.start']);
    expect(out[0]!.companions).toHaveLength(2);
    const all = run(new EventAssembler({ includeNonLkrg: true }), [rec(' dump_stack_lvl+0x48/0x70')]);
    expect(all.map((e) => [e.parsed.templateId, e.parsed.isLkrg])).toEqual([['aux.stack_frame', false]]);
  });

  it('legacy HIDDEN MODULE: gets its continuation line (indented or not)', () => {
    const cont = 'name[diamorphine] module at addr[0xffffffffc0b87040] module core[0xffffffffc0b83000] with size[0x1000] hash[0x3f2b8a11c9e07d54]';
    for (const second of [cont, `               ${cont}`]) {
      const out = run(new EventAssembler(), [
        rec('[p_lkrg] HIDDEN MODULE:'),
        rec(second),
        rec('[p_lkrg] !! MOST LIKELY SYSTEM IS HACKED - MODULE WILL BE DUMPED !! **'),
      ]);
      expect(out).toHaveLength(2);
      expect(out[0]!.parsed.templateId).toBe('legacy.kernel.hidden_module.detail');
      expect(out[0]!.parsed.fields.module_name).toBe('diamorphine');
      expect(out[0]!.parsed.fields.core_hash).toBe('3f2b8a11c9e07d54');
      expect(out[0]!.companions.map((c) => c.text)).toEqual([second]);
    }
  });

  it('legacy pCFI frame line collects the --- . --- dump', () => {
    const out = run(new EventAssembler(), [
      rec('[p_lkrg] <Exploit Detection> Frame[3] nr_entries[9]: [0x7ffd5c1e3010]. Full Stack below:'),
      rec('--- . ---'),
      rec(' p_ed_enforce_pcfi+0x2a5/0x3f0 [p_lkrg]'),
      rec('--- END ---'),
    ]);
    expect(out.map((e) => e.parsed.templateId)).toEqual(['legacy.task.pcfi_frame']);
    expect(out[0]!.companions).toHaveLength(3);
  });

  it('holds nothing across flush', () => {
    const a = new EventAssembler();
    expect(a.push(rec(UMH))).toEqual([]);
    const flushed = a.flush();
    expect(flushed.map((e) => e.parsed.templateId)).toEqual(['umh.block']);
    expect(a.flush()).toEqual([]);
    // The panic line in the next batch is an LKRG event of its own.
    expect(a.push(rec(UMH_PANIC)).map((e) => e.parsed.templateId)).toEqual(['kernel.panic_line']);
  });

  it('streams are independent', () => {
    const a = new EventAssembler();
    const out = run(a, [
      rec(UMH, { streamId: 'a' }),
      rec('LKRG: ALERT: DETECT: Newly loaded module entering LIVE state is hidden!', { streamId: 'b' }),
      rec(UMH_PANIC, { streamId: 'a' }),
      rec('Hidden module:', { streamId: 'b' }),
      rec('\tName: [x]', { streamId: 'b' }),
      rec('\tState: [0: New module is LIVE]', { streamId: 'b' }),
    ]);
    expect(out.map((e) => [e.record.streamId, e.parsed.templateId, e.companions.length])).toEqual([
      ['a', 'umh.panic', 1],
      ['b', 'module.hidden_on_load', 3],
    ]);
  });
});

describe('sample corpora through the assembler', () => {
  const rows = expectedRows();
  const files = [...new Set(rows.map((r) => r.file))];

  it('no LKRG line is lost: each is an event or a companion of one', () => {
    let lkrgRows = 0;
    for (const file of files) {
      const fileRows = rows.filter((r) => r.file === file && r.message !== undefined);
      const records = fileRows.map((r) => rec(r.message!, { streamId: file, offset: r.line, line: r.line }));
      const events = run(new EventAssembler(), records);
      const covered = new Set<number>();
      for (const e of events) {
        expect(e.parsed.isLkrg, `${file}:${e.record.line}`).toBe(true);
        covered.add(e.record.offset);
        for (const c of e.companions) covered.add(c.offset);
      }
      for (const r of fileRows) {
        if (r.template === null) continue;
        lkrgRows++;
        expect(covered.has(r.line), `${file}:${r.line} ${r.template}`).toBe(true);
      }
    }
    expect(lkrgRows).toBe(501);
  });

  it('the kernel-lines corpus attaches the expected companions', () => {
    const fileRows = rows.filter((r) => r.file === 'samples-kernel-lines.txt' && r.message !== undefined);
    const events = run(new EventAssembler(), fileRows.map((r) => rec(r.message!, { streamId: 'k', offset: r.line })));
    const byId = (id: string): LkrgEvent[] => events.filter((e) => e.parsed.templateId === id);
    // Every panic line in the corpus follows its BLOCK line.
    const panicRows = fileRows.filter((r) => r.template === 'kernel.panic_line');
    const attachedPanics = events.flatMap((e) => e.companions).filter((c) => c.text.startsWith('Kernel panic - not syncing: '));
    expect(attachedPanics).toHaveLength(panicRows.length);
    expect(byId('kernel.panic_line')).toHaveLength(0);
    expect(byId('umh.panic')).toHaveLength(1);
    expect(byId('umh.block')).toHaveLength(2);
    expect(byId('module.hidden_on_load').map((e) => e.companions.length)).toEqual([4, 3]);
    expect(byId('aux.hidden_module.header')).toHaveLength(0);
  });

  it('the legacy corpus attaches the dmesg-indented and syslog continuation lines', () => {
    const fileRows = rows.filter((r) => r.file === 'samples-legacy-0.9.x.txt' && r.message !== undefined);
    const events = run(new EventAssembler(), fileRows.map((r) => rec(r.message!, { streamId: 'l', offset: r.line })));
    const hidden = events.filter((e) => e.parsed.templateId === 'legacy.kernel.hidden_module.detail');
    expect(hidden.map((e) => e.parsed.fields.module_name)).toEqual(['diamorphine', 'reptile_module']);
  });
});
