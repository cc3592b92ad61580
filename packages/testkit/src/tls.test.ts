import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { createTestCA, loadTestCA } from './tls.ts';

async function handshake(
  port: number,
  options: { ca: string; servername?: string; host?: string },
): Promise<TLSSocket> {
  const socket = connect({ port, host: options.host ?? '127.0.0.1', ca: options.ca, servername: options.servername });
  await Promise.race([
    once(socket, 'secureConnect'),
    once(socket, 'error').then(([e]) => {
      throw e;
    }),
  ]);
  return socket;
}

describe('createTestCA', () => {
  it('issues server certificates a client trusting the CA accepts, for DNS names and IPs', async () => {
    const ca = await createTestCA();
    const leaf = await ca.issue(['localhost', '127.0.0.1']);
    const server = createServer({ cert: leaf.cert, key: leaf.key }, (s) => s.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      (await handshake(port, { ca: ca.caCert, servername: 'localhost' })).destroy();
      (await handshake(port, { ca: ca.caCert })).destroy(); // IP SAN checked against 127.0.0.1
      await expect(handshake(port, { ca: ca.caCert, servername: 'other.example' })).rejects.toThrow(
        /altnames|Hostname/i,
      );
      const other = await createTestCA('Other CA');
      await expect(handshake(port, { ca: other.caCert, servername: 'localhost' })).rejects.toThrow(/certificate/i);
    } finally {
      server.close();
    }
  });

  it('issues client certificates for mutual TLS', async () => {
    const ca = await createTestCA();
    const leaf = await ca.issue(['localhost']);
    const client = await ca.issueClient('robot');
    const server = createServer(
      { cert: leaf.cert, key: leaf.key, ca: ca.caCert, requestCert: true, rejectUnauthorized: true },
      (s) => {
        s.end(String((s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN));
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const socket = connect({
        port,
        host: '127.0.0.1',
        servername: 'localhost',
        ca: ca.caCert,
        cert: client.cert,
        key: client.key,
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      await once(socket, 'end');
      expect(Buffer.concat(chunks).toString()).toBe('robot');
    } finally {
      server.close();
    }
  });

  it("reloaded from its PEMs, a CA issues certificates that the first copy's clients trust; lifetimes are chosen", async () => {
    const first = await createTestCA('Kept CA', { caDays: 3650 });
    const again = loadTestCA({ caCert: first.caCert, caKey: first.caKey }, { leafDays: 365 });
    const leaf = await again.issue(['gatehouse.localhost']);
    const days = (pem: string) => {
      const c = new X509Certificate(pem);
      return Math.round((Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000);
    };
    expect(days(first.caCert)).toBe(3651); // one day back for clock skew
    expect(days(leaf.cert)).toBe(366);
    expect(new X509Certificate(leaf.cert).checkIssued(new X509Certificate(first.caCert))).toBe(true);
    const server = createServer({ cert: leaf.cert, key: leaf.key }, (s) => s.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      (await handshake(port, { ca: first.caCert, servername: 'gatehouse.localhost' })).destroy();
    } finally {
      server.close();
    }
  });
});
