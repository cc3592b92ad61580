/**
 * Refresh-token reuse window (Dex's `reuseInterval`): a rotated token presented again inside the
 * window yields the SAME successor (one token family, never two live chains), also when the
 * presentations race; outside the window it is a replay and revokes the whole family.
 */
import { describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { authorize, redeem, shortExpiry, useIssuer } from './helpers.ts';

const REUSE_SECONDS = 1;

describe('refresh token reuse window', () => {
  const env = useIssuer({ overrides: { expiry: shortExpiry({ reuseInterval: REUSE_SECONDS }) } });

  const pastWindow = () => new Promise((r) => setTimeout(r, (REUSE_SECONDS + 1.2) * 1000));

  it('a reuse inside the window returns the same successor, and the superseded token later revokes the family', async () => {
    const tokens = await redeem(env.config, await authorize(env.config, 'openid offline_access'));
    const rt0 = tokens.refresh_token!;
    const first = await client.refreshTokenGrant(env.config, rt0);
    const again = await client.refreshTokenGrant(env.config, rt0);
    expect(first.refresh_token).toBeTruthy();
    expect(again.refresh_token).toBe(first.refresh_token);
    expect(again.access_token).toBeTruthy();

    await pastWindow();
    // The stolen/superseded RT0 outside the window is a replay: the family dies.
    await expect(client.refreshTokenGrant(env.config, rt0)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(env.config, first.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('parallel refreshes of one token do not fork the family', async () => {
    const tokens = await redeem(env.config, await authorize(env.config, 'openid offline_access'));
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => client.refreshTokenGrant(env.config, tokens.refresh_token!)),
    );
    const ok = results.filter(
      (r): r is PromiseFulfilledResult<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers> =>
        r.status === 'fulfilled',
    );
    expect(ok.length).toBeGreaterThan(0);
    const successors = new Set(ok.map((r) => r.value.refresh_token));
    expect(successors.size).toBe(1);
    // The one successor keeps the family alive.
    const next = await client.refreshTokenGrant(env.config, [...successors][0]!);
    expect(next.refresh_token).toBeTruthy();
  });

  it('a reuse after the successor was itself rotated follows the chain to the live token', async () => {
    const tokens = await redeem(env.config, await authorize(env.config, 'openid offline_access'));
    const r1 = await client.refreshTokenGrant(env.config, tokens.refresh_token!);
    const r2 = await client.refreshTokenGrant(env.config, r1.refresh_token!);
    const late = await client.refreshTokenGrant(env.config, tokens.refresh_token!);
    expect(late.refresh_token).toBe(r2.refresh_token);
  });
});
