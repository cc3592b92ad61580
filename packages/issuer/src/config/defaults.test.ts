import { describe, expect, it } from 'vitest';
import { createRegistry } from '../connectors/registry.ts';
import { configDefaults } from './defaults.ts';
import { loadConfig } from './load.ts';

describe('configDefaults', () => {
  it('is what the loader makes of a file that sets only the required keys', async () => {
    const r = await loadConfig(
      'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nweb: {http: "127.0.0.1:5556"}\nenablePasswordDB: true\n',
      {
        env: {},
        registry: createRegistry(),
      },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { issuer: _issuer, storage: _storage, ...loaded } = r.config;
    const defaults = configDefaults();
    expect({ ...loaded, web: { ...loaded.web, http: undefined }, enablePasswordDB: false }).toEqual(defaults);
  });

  it('returns a fresh copy each time', () => {
    const a = configDefaults();
    a.web.trustedProxies.push('10.0.0.0/8');
    a.expiry.refreshTokens.reuseInterval = 0;
    expect(configDefaults().web.trustedProxies).toEqual([]);
    expect(configDefaults().expiry.refreshTokens.reuseInterval).toBe(3);
  });
});
