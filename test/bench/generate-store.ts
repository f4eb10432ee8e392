/**
 * Generates a realistic multi-host lkrg-logger store for the benchmark: `hosts` files named
 * by IPv4, `records` records in total, about `lkrgShare` of them LKRG lines (taken from the
 * sample kernel lines: every current ALERT/STATE/lifecycle template), the rest ordinary kernel
 * noise, with consistent seq/uptime/send times, a reboot and a gap per host.
 */
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const NOISE = [
  'audit: type=1400 audit(1728892710.521:42): apparmor="STATUS" operation="profile_load" profile="unconfined" name="nginx" pid=951 comm="apparmor_parser"',
  'TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.',
  'EXT4-fs (vda1): re-mounted 4f1c2a9e-0d6b-4b7e-a3c5-8e2d91f07a64 r/w. Quota mode: none.',
  'docker0: port 1(veth3f2a9c1) entered forwarding state',
  'nf_conntrack: nf_conntrack: table full, dropping packet',
  'IPv6: ADDRCONF(NETDEV_CHANGE): veth3f2a9c1: link becomes ready',
  'systemd-journald[412]: Time spent on flushing to /var/log/journal/a8d3f1c94e2b47d0b61e5c7f20394ad1 is 12.512ms for 1103 entries.',
  'usb 1-1: new high-speed USB device number 2 using xhci_hcd',
];

function lkrgLines(sharedSamples: string): string[] {
  const p = join(sharedSamples, 'samples-kernel-lines.txt');
  const lines = existsSync(p) ? readFileSync(p, 'utf8').split('\n') : [];
  const lk = lines.filter((l) => l.startsWith('LKRG: '));
  return lk.length ? lk : ['LKRG: ALERT: DETECT: Task: euid corruption (expected 1000 vs. actual 0) for pid 4242, name exploit'];
}

function escapeKmsg(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b < 0x20 || b >= 0x7f || b === 0x5c ? '\\x' + b.toString(16).padStart(2, '0') : String.fromCharCode(b);
  return out;
}

/** Writes the store; returns the file paths and the number of LKRG records. */
export function generateStore(dir: string, opts: { records: number; hosts: number; lkrgShare: number; sharedSamples: string }): { files: string[]; lkrg: number; bytes: number } {
  mkdirSync(dir, { recursive: true });
  const lk = lkrgLines(opts.sharedSamples).map(escapeKmsg);
  const noise = NOISE.map(escapeKmsg);
  const per = Math.ceil(opts.records / opts.hosts);
  const files: string[] = [];
  let lkrg = 0;
  let bytes = 0;
  let rnd = 12345;
  const rand = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let h = 0; h < opts.hosts; h++) {
    const path = join(dir, `10.77.${Math.floor(h / 250)}.${(h % 250) + 1}`);
    files.push(path);
    const fd = openSync(path, 'w');
    let boot = 1_728_000_000_000_000 + h * 1_000_000_000;
    let uptime = 4_000_000;
    let seq = 1000;
    const chunk: string[] = [];
    for (let i = 0; i < per; i++) {
      if (i === Math.floor(per / 2)) {
        boot += uptime + 60_000_000; // reboot
        uptime = 4_000_000;
        seq = 1000;
      }
      if (i === Math.floor(per / 3)) seq += 17; // a gap
      uptime += 1 + Math.floor(rand() * 50_000);
      seq += 1;
      const isLkrg = rand() < opts.lkrgShare;
      const msg = isLkrg ? lk[Math.floor(rand() * lk.length)]! : noise[Math.floor(rand() * noise.length)]!;
      if (isLkrg) lkrg++;
      const prio = isLkrg ? (msg.startsWith('LKRG: ALERT') ? 2 : 5) : 6;
      const sendUp = uptime + 120;
      const send = boot + sendUp;
      chunk.push(`${send + 2000},${send},${sendUp},${prio},${seq},${uptime},-;${msg}`);
      if (chunk.length >= 10_000) {
        const s = chunk.join('\n') + '\n';
        bytes += writeSync(fd, s);
        chunk.length = 0;
      }
    }
    if (chunk.length) bytes += writeSync(fd, chunk.join('\n') + '\n');
    closeSync(fd);
  }
  return { files, lkrg, bytes };
}
