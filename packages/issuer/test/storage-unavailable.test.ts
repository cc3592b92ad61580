// A store that stops answering (StoreError 'unavailable': a database restart, an API-server outage) is a
// retryable 503 everywhere: temporarily_unavailable on the token endpoint, a "try again" page with
// Retry-After on the login pages, never a 500 or a "login expired" that would send the user back to start.
import { describe, expect, it } from 'vitest';
import { MemoryStore, StoreError, type ModelName, type ModelStore } from '@gatehouse/storage';
import { ForwardingStore } from '@gatehouse/storage';
import {
  browse,
  CookieJar,
  loginForCode,
  TEST_CODE_CLIENT,
  tokenRequest,
  withTestIssuer,
} from '../src/testing/index.ts';

/** A MemoryStore whose model calls fail with StoreError('unavailable') while `down` is set. */
class FlakyStore extends ForwardingStore {
  down = false;
  override model(name: ModelName): ModelStore {
    const inner = super.model(name);
    const check = () => {
      if (this.down) throw new StoreError('unavailable', 'database is restarting');
    };
    return {
      upsert: async (...a) => (check(), inner.upsert(...a)),
      find: async (id) => (check(), inner.find(id)),
      findByUid: async (uid) => (check(), inner.findByUid(uid)),
      findByUserCode: async (c) => (check(), inner.findByUserCode(c)),
      consume: async (id) => (check(), inner.consume(id)),
      destroy: async (id) => (check(), inner.destroy(id)),
      revokeByGrantId: async (g) => (check(), inner.revokeByGrantId(g)),
    };
  }
}

describe('the store unavailable', () => {
  it('token endpoint: 503 temporarily_unavailable; the same code works once the store is back', async () => {
    const store = new FlakyStore(new MemoryStore());
    await withTestIssuer({ store }, async (issuer) => {
      const c = await loginForCode(issuer.issuerURL);
      const form = {
        grant_type: 'authorization_code',
        code: c.code,
        redirect_uri: TEST_CODE_CLIENT.redirect,
        code_verifier: c.verifier,
      };
      store.down = true;
      const res = await tokenRequest(`${issuer.issuerURL}/token`, TEST_CODE_CLIENT, form);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      store.down = false;
      expect((await tokenRequest(`${issuer.issuerURL}/token`, TEST_CODE_CLIENT, form)).status).toBe(200);
    });
    await store.close();
  });

  it('login pages: a 503 "try again" page with Retry-After, not "login expired"; the login then finishes', async () => {
    const store = new FlakyStore(new MemoryStore());
    await withTestIssuer({ store }, async (issuer) => {
      const jar = new CookieJar();
      const auth = `${issuer.issuerURL}/auth?${new URLSearchParams({ client_id: TEST_CODE_CLIENT.id, response_type: 'code', scope: 'openid', redirect_uri: TEST_CODE_CLIENT.redirect, state: 's' })}`;
      const half = await browse(jar, auth, { stopAt: `${issuer.issuerURL}/callback` });
      expect(half.location).toBeDefined();
      store.down = true;
      const failed = await browse(jar, half.location!, { stopAt: TEST_CODE_CLIENT.redirect });
      expect(failed.status).toBe(503);
      expect(failed.response.headers.get('retry-after')).toBe('5');
      expect(failed.body).toContain('Temporarily unavailable');
      store.down = false;
      const done = await browse(jar, half.location!, { stopAt: TEST_CODE_CLIENT.redirect });
      expect(done.location).toContain('code=');
    });
    await store.close();
  });
});
