import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineConnector, isCompatibleKitVersion, parseConnectorConfig } from './define.ts';
import { CONNECTOR_KIT_VERSION } from './types.ts';

const schema = z.object({ url: z.string(), list: z.array(z.string()).default([]) }).strict();
const open = () => ({ kind: 'password' as const, prompt: 'User', login: async () => ({ ok: false as const }) });

describe('defineConnector', () => {
  it('stamps the kit version and keeps the definition', () => {
    const f = defineConnector({ type: 'demo', configSchema: schema, open });
    expect(f.kitVersion).toBe(CONNECTOR_KIT_VERSION);
    expect(f.type).toBe('demo');
    expect(Object.isFrozen(f)).toBe(true);
    expect(f.warnings).toBeUndefined();
  });

  it('refuses a type name with spaces or starting with a digit', () => {
    expect(() => defineConnector({ type: 'has space', configSchema: schema, open })).toThrow(/not a valid type name/);
    expect(() => defineConnector({ type: '1abc', configSchema: schema, open })).toThrow(/not a valid type name/);
    expect(defineConnector({ type: '@acme/gatehouse-connector-x', configSchema: schema, open }).type).toBe(
      '@acme/gatehouse-connector-x',
    );
  });
});

describe('isCompatibleKitVersion', () => {
  it('accepts the same major version only', () => {
    const [major] = CONNECTOR_KIT_VERSION.split('.');
    expect(isCompatibleKitVersion(CONNECTOR_KIT_VERSION)).toBe(true);
    expect(isCompatibleKitVersion(`${major}.99.3`)).toBe(true);
    expect(isCompatibleKitVersion(`${Number(major) + 1}.0.0`)).toBe(false);
    expect(isCompatibleKitVersion('banana')).toBe(false);
    expect(isCompatibleKitVersion(undefined)).toBe(false);
  });
});

describe('parseConnectorConfig', () => {
  const f = defineConnector({ type: 'demo', configSchema: schema, open });
  it('returns the parsed config with defaults', () => {
    expect(parseConnectorConfig(f, { url: 'x' })).toEqual({ ok: true, config: { url: 'x', list: [] } });
  });
  it('reports every issue with its key path at once', () => {
    const r = parseConnectorConfig(f, { list: ['a', 2], nope: true });
    expect(r.ok).toBe(false);
    const paths = r.ok ? [] : r.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['url', 'list[1]', '']));
  });
});
