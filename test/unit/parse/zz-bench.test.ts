import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LkrgMessageParser } from '../../../src/parse/lkrg-message-parser.js';
it('bench', () => {
  const p = new LkrgMessageParser();
  const rows = readFileSync('/work/shared/samples/expected-parse.jsonl','utf8').trim().split('\n').map(l=>JSON.parse(l));
  const lk = rows.filter(r=>r.template && r.message).map(r=>r.message as string);
  const non = rows.filter(r=>!r.template && r.message).map(r=>r.message as string);
  const extra = ['usb 1-1: new high-speed USB device number 2 using xhci_hcd','EXT4-fs (sda1): mounted filesystem with ordered data mode','audit: type=1400 audit(1728896303.519:42): apparmor="DENIED" operation="open"','[drm] Initialized i915 1.6.0','IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',' dump_stack_lvl+0x48/0x70',' <TASK>','RIP: 0010:foo+0x1/0x2','Kernel command line: ro quiet','Lockdown: swapper: hibernation is restricted','  Intel GenuineIntel','--- something','nf_conntrack: default automatic helper assignment has been turned off','systemd[1]: Started Journal Service.', 'L1TF: System has more than MAX_PA/2 memory'];
  const nonAll = [...non, ...extra];
  const N = 2_000_000;
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(i % 20 === 0 ? lk[(i/20) % lk.length]! : nonAll[i % nonAll.length]! + (i%3===0 ? ' ' + i : ''));
  let n = 0;
  for (let k = 0; k < 3; k++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (p.parse(lines[i]!).isLkrg) n++;
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log('lines/s', Math.round(N / dt), n);
  }
  const t0 = process.hrtime.bigint();
  let m=0; for (let i = 0; i < 200000; i++) if (p.parse(lk[i % lk.length]!).isLkrg) m++;
  console.log('lkrg-only lines/s', Math.round(200000 / (Number(process.hrtime.bigint() - t0) / 1e9)));
});
