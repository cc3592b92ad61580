import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createForwardAuthHandler } from '../router.ts';
import { forwardAuthTestConfig, sealTestSession } from './index.ts';

describe('@gatehouse/forward-auth/testing', () => {
  it('builds a valid config and seals sessions the handler accepts', async () => {
    const h = createForwardAuthHandler(forwardAuthTestConfig({ issuerURL: 'http://127.0.0.1:9/dex', port: 4180 }));
    const cookie = sealTestSession(h, { user: 'u1', email: 'jane@example.com', groups: ['a', 'b'] });
    const r = await request(h).get('/oauth2/auth').set('Cookie', cookie);
    expect(r.status).toBe(202);
    expect(r.headers['x-auth-request-groups']).toBe('a,b');
    expect(
      (
        await request(h)
          .get('/oauth2/auth')
          .set('Cookie', sealTestSession(h, { user: 'u1' }, -1))
      ).status,
    ).toBe(401);
  });
});
