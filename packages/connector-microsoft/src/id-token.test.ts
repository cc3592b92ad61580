import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { timingSafeEqual } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { configSchema } from './config.ts';
import { verifyIdToken } from './id-token.ts';
import type { KeySet } from './id-token.ts';

// The real timingSafeEqual, watched: the nonce check must go through it.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const API = 'https://login.microsoftonline.com';
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TID = '0e1c1c3a-1111-4222-8333-944444444444';
const CLIENT = 'client-id-1';

let signingKey: PrivateKey;
let otherKey: PrivateKey;
let keys: KeySet;
let publicJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  keys = createLocalJWKSet({ keys: [publicJwk] }) as unknown as KeySet;
});

const config = (extra: Record<string, unknown> = {}) =>
  configSchema.parse({ clientID: CLIENT, clientSecret: 's', tenant: TID, ...extra });

function token(claims: Record<string, unknown> = {}, opts: { key?: PrivateKey; exp?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ oid: 'oid-1', tid: TID, nonce: 'n-1', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(`${API}/${(claims.tid as string | undefined) ?? TID}/v2.0`)
    .setAudience(CLIENT)
    .setIssuedAt(now - 10)
    .setExpirationTime(opts.exp ?? now + 600)
    .sign(opts.key ?? signingKey);
}

const single = { tenantIssuer: `${API}/${TID}/v2.0`, nonce: 'n-1' };
const multi = { tenantIssuer: `${API}/{tenantid}/v2.0`, nonce: 'n-1' };

describe('verifyIdToken', () => {
  it('accepts a good token and returns oid/tid', async () => {
    const claims = await verifyIdToken(await token(), config(), keys, single);
    expect(claims).toMatchObject({ oid: 'oid-1', tid: TID });
  });

  it('rejects a token signed by another key', async () => {
    await expect(verifyIdToken(await token({}, { key: otherKey }), config(), keys, single)).rejects.toMatchObject({
      code: 'upstream_error',
    });
  });

  it('rejects a token for another audience', async () => {
    const t = await new SignJWT({ oid: 'o', tid: TID, nonce: 'n-1' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(`${API}/${TID}/v2.0`)
      .setAudience('someone-else')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(signingKey);
    await expect(verifyIdToken(t, config(), keys, single)).rejects.toMatchObject({ code: 'upstream_error' });
  });

  it('rejects a token from another issuer', async () => {
    const t = await new SignJWT({ oid: 'o', tid: TID, nonce: 'n-1' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(`https://evil.example/${TID}/v2.0`)
      .setAudience(CLIENT)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(signingKey);
    await expect(verifyIdToken(t, config(), keys, single)).rejects.toMatchObject({ code: 'upstream_error' });
  });

  it('rejects a token of another tenant in single-tenant mode', async () => {
    await expect(verifyIdToken(await token({ tid: OTHER_TID }), config(), keys, single)).rejects.toMatchObject({
      code: 'upstream_error',
    });
  });

  it('rejects a wrong or missing nonce with invalid_state', async () => {
    await expect(verifyIdToken(await token({ nonce: 'other' }), config(), keys, single)).rejects.toMatchObject({
      code: 'invalid_state',
    });
    await expect(verifyIdToken(await token({ nonce: undefined }), config(), keys, single)).rejects.toMatchObject({
      code: 'invalid_state',
    });
    await expect(verifyIdToken(await token({ nonce: ['n-1'] }), config(), keys, single)).rejects.toMatchObject({
      code: 'invalid_state',
    });
    await expect(verifyIdToken(await token({ nonce: 'n-2' }), config(), keys, single)).rejects.toMatchObject({
      code: 'invalid_state',
    });
  });

  it('compares the nonce in constant time', async () => {
    const spy = vi.mocked(timingSafeEqual);
    spy.mockClear();
    await expect(verifyIdToken(await token({ nonce: 'n-1' }), config(), keys, single)).resolves.toMatchObject({
      nonce: 'n-1',
    });
    expect(spy).toHaveBeenCalledWith(Buffer.from('n-1'), Buffer.from('n-1'));
    spy.mockClear();
    await expect(verifyIdToken(await token({ nonce: 'n-9' }), config(), keys, single)).rejects.toMatchObject({
      code: 'invalid_state',
    });
    expect(spy).toHaveBeenCalledWith(Buffer.from('n-9'), Buffer.from('n-1'));
  });

  it('rejects an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await expect(verifyIdToken(await token({}, { exp: past }), config(), keys, single)).rejects.toMatchObject({
      code: 'upstream_error',
    });
  });

  it('rejects alg none', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ oid: 'o', tid: TID, nonce: 'n-1', iss: `${API}/${TID}/v2.0`, aud: CLIENT, iat: now, exp: now + 600 })}.`;
    await expect(verifyIdToken(unsigned, config(), keys, single)).rejects.toMatchObject({ code: 'upstream_error' });
  });

  it('rejects HS256 signed with the public key as secret (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const t = await new SignJWT({ oid: 'o', tid: TID, nonce: 'n-1' })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(`${API}/${TID}/v2.0`)
      .setAudience(CLIENT)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(secret);
    await expect(verifyIdToken(t, config(), keys, single)).rejects.toMatchObject({ code: 'upstream_error' });
  });

  it('rejects a token without oid or tid', async () => {
    await expect(verifyIdToken(await token({ oid: undefined }), config(), keys, single)).rejects.toMatchObject({
      code: 'upstream_error',
    });
  });

  describe('multi-tenant (common / organizations)', () => {
    it('accepts any tenant whose issuer matches its tid when allowedTenants is empty', async () => {
      const claims = await verifyIdToken(await token({ tid: OTHER_TID }), config({ tenant: 'common' }), keys, multi);
      expect(claims.tid).toBe(OTHER_TID);
    });

    it('rejects an issuer naming another tenant than tid', async () => {
      const t = await new SignJWT({ oid: 'o', tid: OTHER_TID, nonce: 'n-1' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(`${API}/${TID}/v2.0`)
        .setAudience(CLIENT)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(signingKey);
      await expect(verifyIdToken(t, config({ tenant: 'common' }), keys, multi)).rejects.toMatchObject({
        code: 'upstream_error',
      });
    });

    it('enforces allowedTenants with access_denied', async () => {
      const cfg = config({ tenant: 'organizations', allowedTenants: [TID.toUpperCase()] });
      await expect(verifyIdToken(await token({ tid: TID }), cfg, keys, multi)).resolves.toMatchObject({ tid: TID });
      await expect(verifyIdToken(await token({ tid: OTHER_TID }), cfg, keys, multi)).rejects.toMatchObject({
        code: 'access_denied',
      });
    });

    it('consumers accepts only the personal-account tenant', async () => {
      await expect(
        verifyIdToken(await token({ tid: TID }), config({ tenant: 'consumers' }), keys, multi),
      ).rejects.toMatchObject({ code: 'upstream_error' });
    });
  });
});
