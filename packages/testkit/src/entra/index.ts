/**
 * `@gatehouse/testkit/entra`: a fake Microsoft Entra ID (v2.0 endpoints) and Microsoft Graph
 * (v1.0 `/me`, `getMemberGroups`, `getByIds`) on a loopback HTTPS port, to the documented wire
 * contracts, so the real `@azure/msal-node` and `fetch` can talk to it.
 *
 * HTTPS because msal-node refuses an `http:` authority (`authority_uri_insecure`).
 * Trust the fake's CA with `trustInThisProcess()` (in-process clients) or by writing
 * `caCert` to a file for `NODE_EXTRA_CA_CERTS` (child processes); Chromium takes `chromiumArgs`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { exportJWK, generateKeyPair } from 'jose';
import { createTestCA, spkiHash } from '../tls.ts';
import { Directory } from './directory.ts';
import { createHandler } from './handler.ts';
import type { FakeEntra, FakeEntraFault, FakeEntraOptions, RecordedRequest } from './types.ts';

export type * from './types.ts';

/** Starts the fake on `127.0.0.1` with a fresh CA, signing key and directory. */
export async function startFakeEntra(options: FakeEntraOptions): Promise<FakeEntra> {
  const directory = new Directory(options);
  const ca = await createTestCA('Fake Entra Test CA');
  const leaf = await ca.issue(['127.0.0.1', 'localhost']);
  const caDir = await mkdtemp(join(tmpdir(), 'fake-entra-'));
  const caFile = join(caDir, 'ca.pem');
  await writeFile(caFile, ca.caCert);
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = createHash('sha256')
    .update(String(Date.now() + Math.random()))
    .digest('base64url')
    .slice(0, 16);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };

  const faults: Array<FakeEntraFault & { remaining: number }> = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let url = '';
  const nextLinkOrigin: { value: string | undefined } = { value: undefined };

  const handler = createHandler({
    directory,
    signingKey: privateKey,
    kid,
    publicJwk,
    baseURL: () => url,
    faults,
    requests,
    graphPageSize: options.graphPageSize ?? 100,
    accessTokenSeconds: options.accessTokenSeconds ?? 3600,
    nextLinkOrigin,
  });

  let server: Server = createServer({ cert: leaf.cert, key: leaf.key });
  const attach = (s: Server) => {
    // The handler answers its own errors; a failure while answering one only drops that socket.
    s.on('request', (req: IncomingMessage, res: ServerResponse) => {
      handler(req, res).catch(() => res.destroy());
    });
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    s.on('tlsClientError', () => undefined);
  };
  attach(server);
  const listen = (s: Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  url = `https://127.0.0.1:${port}`;
  let listening = true;

  const stopListening = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };

  const leafHash = spkiHash(leaf.cert);

  const fake: FakeEntra = {
    url,
    authority: `${url}/${directory.tenantId}`,
    graphURL: url,
    tenantId: directory.tenantId,
    caCert: ca.caCert,
    caFile,
    chromiumArgs: [`--ignore-certificate-errors-spki-list=${leafHash}`],
    requests,
    issuerFor: (tid) => `${url}/${tid}/v2.0`,
    trustInThisProcess() {
      const current = tls.getCACertificates('default');
      if (!current.includes(ca.caCert)) tls.setDefaultCACertificates([...current, ca.caCert]);
    },
    oidOf(userPrincipalName) {
      const user = directory.findByLogin(userPrincipalName);
      if (!user) throw new Error(`no user ${userPrincipalName}`);
      return user.oid;
    },
    setFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults.length = 0;
      nextLinkOrigin.value = undefined;
    },
    setNextLinkOrigin(origin) {
      nextLinkOrigin.value = origin;
    },
    async setDown(down) {
      if (down) return stopListening();
      if (listening) return;
      server = createServer({ cert: leaf.cert, key: leaf.key });
      attach(server);
      await listen(server, port);
      listening = true;
    },
    revokeTokens(oid) {
      directory.revoke(oid);
    },
    removeUser(oid) {
      const user = directory.users.get(oid);
      if (!user) throw new Error(`no user ${oid}`);
      directory.users.delete(oid);
      return () => void directory.users.set(oid, user);
    },
    setUserGroups(oid, groupIds) {
      const user = directory.users.get(oid);
      if (!user) throw new Error(`no user ${oid}`);
      user.groups = [...groupIds];
    },
    registerClient(client) {
      directory.clients.set(client.clientId, { ...client, redirectUris: [...client.redirectUris] });
    },
    addGroups(groups) {
      directory.addGroups(groups);
    },
    signIn: (loginURL, credentials) => signIn(loginURL, credentials),
    async close() {
      await stopListening();
      await rm(caDir, { recursive: true, force: true });
    },
  };
  return fake;
}

/** Extracts the hidden `ctx` and the form action from the fake's login page. */
function parseLoginForm(html: string, base: string): { action: URL; ctx: string } | undefined {
  const action = /<form method="post" action="([^"]+)" id="loginForm">/.exec(html)?.[1];
  const ctx = /name="ctx" value="([^"]+)"/.exec(html)?.[1];
  if (action === undefined || ctx === undefined) return undefined;
  return { action: new URL(action.replace(/&#38;/g, '&'), base), ctx };
}

function textOf(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Drives the login form like a browser would (the process must trust the fake's CA). */
export async function signIn(loginURL: string, credentials: { username: string; password: string }): Promise<URL> {
  const first = await fetch(loginURL, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  if (first.status >= 300 && first.status < 400) return new URL(first.headers.get('location') ?? '', loginURL);
  const html = await first.text();
  const form = parseLoginForm(html, loginURL);
  if (!form)
    throw new Error(`no login form at the authorize URL (HTTP ${first.status}): ${textOf(html).slice(0, 300)}`);
  const body = new URLSearchParams({ ctx: form.ctx, loginfmt: credentials.username, passwd: credentials.password });
  const second = await fetch(form.action, {
    method: 'POST',
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const location = second.headers.get('location');
  if (second.status >= 300 && second.status < 400 && location) return new URL(location, form.action);
  const text = textOf(await second.text());
  throw new Error(`sign-in did not redirect (HTTP ${second.status}): ${text.slice(0, 300)}`);
}
