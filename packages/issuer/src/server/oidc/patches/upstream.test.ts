/**
 * Guard tests of the patches in this folder: each describes the oidc-provider behaviour a patch
 * replaces or relies on, checked on an UNPATCHED provider, then what the patch changes. When an
 * upgrade changes that behaviour, the guard fails and names the patch to revisit.
 */
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import Provider, { type Adapter, type KoaContextWithOIDC } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '@gatehouse/storage';
import { GrantIdentities } from '../../grants/accounts.ts';
import { RefreshPolicy } from '../../grants/refresh-policy.ts';
import { Rotation } from '../../grants/refresh-rotation.ts';
import { KeyManager } from '../../keys/key-manager.ts';
import { ANY_LOOPBACK } from '../clients.ts';
import { patchExactRedirects, type RedirectChecks } from './exact-redirects.ts';
import { directFormPost, providerWithFormPost, UPSTREAM_TITLE, type AutoSubmitForm } from './form-post.ts';
import { patchIdTokenAudience, withClientId, type IssuingIdToken } from './id-token-audience.ts';
import { WRITTEN_AGAINST } from './index.ts';
import { patchRefreshTokenRotation, type RotatingRefreshToken } from './refresh-token-rotation.ts';
import { patchRetiredKeyHints, type ValidatingIdToken } from './retired-key-hints.ts';
import { patchUnsavedSessions, type PersistingSession } from './unsaved-session.ts';

const ISSUER = 'http://issuer.test';
const NATIVE = {
  client_id: 'cli',
  token_endpoint_auth_method: 'none',
  application_type: 'native' as const,
  redirect_uris: ['http://127.0.0.1:8000/cb'],
};
const WEB = {
  client_id: 'app',
  client_secret: 'secret',
  redirect_uris: ['https://app.test/cb'],
  post_logout_redirect_uris: ['https://app.test/bye'],
};

/** Records adapter calls, so a guard can see what upstream asks the store. */
function recordingAdapter(calls: string[]): (name: string) => Adapter {
  return (name) => ({
    upsert: async (id) => void calls.push(`${name}.upsert ${id}`),
    find: async () => undefined,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async (id) => void calls.push(`${name}.consume ${id}`),
    destroy: async () => undefined,
    revokeByGrantId: async () => undefined,
  });
}

async function unpatched(calls: string[] = []): Promise<Provider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'current', alg: 'RS256', use: 'sig' };
  return new Provider(ISSUER, {
    clients: [NATIVE, WEB] as never,
    jwks: { keys: [jwk] } as never,
    adapter: recordingAdapter(calls),
    features: { devInteractions: { enabled: false } },
    ttl: { IdToken: 60, RefreshToken: 60 },
  });
}

it(`oidc-provider is the version the patches were written against (${WRITTEN_AGAINST}): on an upgrade, re-read each patch's upstream code`, () => {
  const version = (createRequire(import.meta.url)('oidc-provider/package.json') as { version: string }).version;
  expect(version).toBe(WRITTEN_AGAINST);
});

describe('unsaved-session.ts: Session.prototype.persist', () => {
  it('upstream throws for a session never saved; patched, such a session is skipped and a saved one still persists', async () => {
    const calls: string[] = [];
    const provider = await unpatched(calls);
    const proto = provider.Session.prototype as unknown as PersistingSession;
    expect(proto.persist).toBeTypeOf('function');
    expect(proto.persist.length).toBe(0);
    const fresh = () =>
      new (provider.Session as unknown as new (p: object) => PersistingSession)({
        jti: 'never-saved',
      }) as unknown as PersistingSession;
    await expect(fresh().persist()).rejects.toThrow(TypeError);

    patchUnsavedSessions(provider);
    await expect(fresh().persist()).resolves.toBeUndefined();
    const saved = new (provider.Session as unknown as new (p: object) => PersistingSession)({
      jti: 'saved',
    }) as unknown as PersistingSession;
    saved.exp = Math.floor(Date.now() / 1000) + 60;
    await saved.persist();
    expect(calls).toEqual(['Session.upsert saved']);
  });
});

describe('id-token-audience.ts: IdToken.prototype.issue', () => {
  it("upstream signs aud = this.client.clientId as read when issue starts; patched, a grant's audiences join it", async () => {
    const provider = await unpatched();
    const proto = (provider.IdToken as unknown as { prototype: IssuingIdToken }).prototype;
    expect(proto.issue).toBeTypeOf('function');
    const client = await provider.Client.find('app');
    const token = (c: object) => {
      const t = new provider.IdToken({ sub: 'user' }, { client: c as never }) as unknown as IssuingIdToken & {
        scope: string;
      };
      t.scope = 'openid';
      return t;
    };
    // The assumption the patch rests on: a client whose clientId is a list gives aud = that list.
    const listed = decodeJwt(await token(withClientId(client as object, ['peer', 'app'])).issue({ use: 'idtoken' }));
    expect(listed.aud).toEqual(['peer', 'app']);
    expect(decodeJwt(await token(client as object).issue({ use: 'idtoken' })).aud).toBe('app');

    const store = new MemoryStore();
    await store.model('Grant').upsert('g1', { jti: 'g1', gatehouse: { audience: ['peer'] } }, 60);
    patchIdTokenAudience(provider, new GrantIdentities(store));
    const patched = token(client as object);
    patched.ctx = { oidc: { entities: { Grant: { jti: 'g1' } } } };
    const claims = decodeJwt(await patched.issue({ use: 'idtoken' }));
    expect(claims.aud).toEqual(['peer', 'app']);
    expect(claims.azp).toBe('app');
  });
});

describe('retired-key-hints.ts: IdToken.validate', () => {
  it('upstream refuses a hint signed by a key it does not sign with; patched, a retired key still published verifies it', async () => {
    const provider = await unpatched();
    const IdToken = provider.IdToken as unknown as ValidatingIdToken;
    expect(IdToken.validate).toBeTypeOf('function');
    expect(IdToken.validate.length).toBe(2);
    const store = new MemoryStore();
    const keys = new KeyManager({
      store: store.keys,
      algorithms: ['RS256'],
      rotationPeriod: 3600,
      verificationPeriod: 3600,
    });
    await keys.refresh();
    const signing = keys.providerJWKS().keys[0] as { kid: string } & Record<string, unknown>;
    const hint = await new SignJWT({ sub: 'user' })
      .setProtectedHeader({ alg: 'RS256', kid: signing.kid })
      .setIssuer(ISSUER)
      .setAudience('app')
      .setIssuedAt()
      .sign(await importJWK(signing as never, 'RS256'));
    const client = { clientId: 'app', idTokenSignedResponseAlg: 'RS256' };
    await expect(IdToken.validate(hint, client)).rejects.toThrow();

    await keys.rotate();
    patchRetiredKeyHints(provider, keys);
    const verified = await IdToken.validate(hint, client);
    expect(verified.payload.sub).toBe('user');
    await expect(IdToken.validate(hint, { ...client, clientId: 'other' })).rejects.toThrow();
  });
});

type Client = {
  redirectUriAllowed(value: string): boolean;
  postLogoutRedirectUriAllowed(value: string): boolean;
} & Record<string, unknown>;

describe('exact-redirects.ts: Client.prototype.redirectUriAllowed / postLogoutRedirectUriAllowed', () => {
  it("upstream lets a native client's loopback redirect match on any port; patched, matching is exact", async () => {
    const provider = await unpatched();
    const proto = provider.Client.prototype as unknown as RedirectChecks;
    expect(proto.redirectUriAllowed.length).toBe(1);
    expect(proto.postLogoutRedirectUriAllowed.length).toBe(1);
    const native = (await provider.Client.find('cli')) as unknown as Client;
    expect(native.redirectUriAllowed('http://127.0.0.1:9999/cb')).toBe(true);

    patchExactRedirects(provider);
    expect(native.redirectUriAllowed('http://127.0.0.1:9999/cb')).toBe(false);
    expect(native.redirectUriAllowed('http://127.0.0.1:8000/cb')).toBe(true);
    native[ANY_LOOPBACK] = true;
    expect(native.redirectUriAllowed('http://localhost:1234/any')).toBe(true);
    const web = (await provider.Client.find('app')) as unknown as Client;
    expect(web.postLogoutRedirectUriAllowed('https://app.test/bye')).toBe(true);
    expect(web.postLogoutRedirectUriAllowed('https://app.test/bye/')).toBe(false);
  });
});

describe('refresh-token-rotation.ts: RefreshToken.prototype.consume / save', () => {
  it('upstream consume asks the adapter once and emits consumed; a new token has no jti until save; patched, the Rotation decides', async () => {
    const calls: string[] = [];
    const provider = await unpatched(calls);
    const proto = provider.RefreshToken.prototype as unknown as RotatingRefreshToken;
    expect(proto.consume).toBeTypeOf('function');
    expect(proto.save).toBeTypeOf('function');
    const client = await provider.Client.find('app');
    const fresh = () =>
      new provider.RefreshToken({
        accountId: 'user',
        client: client as never,
        grantId: 'g1',
        gty: 'refresh_token',
        scope: 'openid',
      } as never) as unknown as RotatingRefreshToken;
    const token = fresh();
    expect(token.jti).toBeUndefined();
    const id = await token.save();
    expect(token.jti).toBe(id);
    const events: string[] = [];
    provider.once('refresh_token.consumed', () => events.push('consumed'));
    await token.consume();
    expect(calls).toEqual([`RefreshToken.upsert ${id}`, `RefreshToken.consume ${id}`]);
    expect(events).toEqual(['consumed']);

    const store = new MemoryStore();
    await store.model('RefreshToken').upsert('rt-0', { jti: 'rt-0' }, 60);
    patchRefreshTokenRotation(
      provider,
      new Rotation({
        store,
        policy: new RefreshPolicy({
          idTokens: 60,
          authCodes: 60,
          refreshTokens: { disableRotation: false, reuseInterval: 0, absoluteLifetime: 0, validIfNotUsedFor: 0 },
        }),
      }),
    );
    const stored = fresh();
    stored.jti = 'rt-0';
    await stored.consume();
    // Consumed in OUR store (the Rotation's), not through the adapter; a second consume is a replay.
    expect(calls).toHaveLength(2);
    expect((await store.model('RefreshToken').find('rt-0'))?.consumed).toBeTruthy();
    await expect(stored.consume()).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('form-post.ts: the form_post response mode and the direct callers of form_post.js', () => {
  type ProviderClass = new (issuer: string, configuration: ConstructorParameters<typeof Provider>[1]) => Provider;
  async function build(Class: ProviderClass): Promise<Provider> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'current', alg: 'RS256', use: 'sig' };
    return new Class(ISSUER, {
      clients: [NATIVE, WEB] as never,
      jwks: { keys: [jwk] } as never,
      adapter: recordingAdapter([]),
      features: { devInteractions: { enabled: false }, deviceFlow: { enabled: true } },
      ttl: { Session: 60 },
    });
  }
  /** GETs `path` from the provider, as a browser would (no redirects followed). */
  async function get(provider: Provider, path: string): Promise<{ status: number; body: string }> {
    const server = provider.listen(0);
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: 'manual' });
      return { status: res.status, body: await res.text() };
    } finally {
      server.close();
    }
  }
  const decode = (v: string) =>
    v
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  /** Upstream's auto-submitting page read back, to compare with what the patch rebuilds. */
  const upstreamForm = (body: string): AutoSubmitForm => ({
    action: decode(/<form method="post" action="([^"]*)">/.exec(body)![1]!),
    fields: [...body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g)].map((m): [string, string] => [
      decode(m[1]!),
      decode(m[2]!),
    ]),
  });
  const promptNone = `/auth?client_id=app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(WEB.redirect_uris[0]!)}&prompt=none&response_mode=form_post&state=s%22`;

  it('upstream registers form_post while constructing, first-wins, and renders it with an inline script', async () => {
    const provider = await build(Provider);
    provider.registerResponseMode('form_post', () => {
      throw new Error('a registration after construction is never used');
    });
    const res = await get(provider, promptNone);
    expect(res.status).toBe(400);
    expect(res.body).toContain(UPSTREAM_TITLE);
    expect(res.body).toMatch(/<script>/);
    expect(upstreamForm(res.body)).toEqual({
      action: WEB.redirect_uris[0],
      fields: [
        ['error', 'login_required'],
        ['error_description', 'End-User authentication is required'],
        ['state', 's"'],
        ['iss', ISSUER],
      ],
    });
  });

  it("patched, the subclass renders form_post from the values (status as upstream), never upstream's page", async () => {
    const rendered: AutoSubmitForm[] = [];
    const provider = await build(
      providerWithFormPost((ctx, form) => {
        rendered.push(form);
        ctx.type = 'html';
        ctx.body = 'ours';
      }),
    );
    const res = await get(provider, promptNone);
    expect(res).toEqual({ status: 400, body: 'ours' });
    expect(rendered).toEqual([
      {
        action: WEB.redirect_uris[0],
        fields: [
          ['error', 'login_required'],
          ['error_description', 'End-User authentication is required'],
          ['state', 's"'],
          ['iss', ISSUER],
        ],
      },
    ]);
  });

  it('a logout without a session and GET /device?user_code= call form_post.js directly; the patch rebuilds the same form', async () => {
    const provider = await build(Provider);
    const rebuilt: Array<AutoSubmitForm | undefined> = [];
    provider.use(async (ctx, next) => {
      await next();
      rebuilt.push(directFormPost(ctx as KoaContextWithOIDC));
    });
    for (const path of ['/session/end', '/device?user_code=%22%3E%3Cx%3E']) {
      rebuilt.length = 0;
      const res = await get(provider, path);
      expect(res.status, path).toBe(200);
      expect(res.body, path).toContain(UPSTREAM_TITLE);
      expect(rebuilt, path).toEqual([upstreamForm(res.body)]);
    }
    expect(rebuilt[0]?.fields.find(([k]) => k === 'user_code')).toEqual(['user_code', '"><x>']);
  });
});
