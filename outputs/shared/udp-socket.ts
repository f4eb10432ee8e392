/**
 * A UDP socket for fire-and-forget outputs (GELF, syslog): resolves the host once, picks udp4 or
 * udp6 by the address, never keeps the process alive. Errors: a resolution failure becomes the
 * output's retriable transport error (`transportFailure`).
 */
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import net from 'node:net';
import { transportFailure } from './transport-errors.js';

export async function openUdpSocket(output: string, host: string, signal: AbortSignal): Promise<{ sock: dgram.Socket; address: string }> {
  let address = host;
  if (!net.isIP(address)) {
    try {
      address = (await dns.lookup(address)).address;
    } catch (err) {
      throw transportFailure(output, `resolve ${host}`, err, signal);
    }
  }
  const sock = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  sock.on('error', () => undefined); // send errors arrive through the send callbacks
  sock.unref();
  return { sock, address };
}
