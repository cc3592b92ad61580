/** Pure parts: names, labels and the record codecs' validation (no API server needed). */
import { describe, expect, it } from 'vitest';
import { labelFor, nameFor, sameHash, sha256Hex } from './names.ts';
import { clientCodec, connectorCodec, passwordCodec } from './record-stores.ts';
import { crdManifests } from './crds.ts';
import { allKinds, MODEL_KINDS } from './kinds.ts';
import { MODEL_NAMES } from '@gatehouse/storage';

describe('names', () => {
  it('are 40 lowercase hex chars whatever the id (DNS-1123, bounded, not reversible)', () => {
    for (const id of ['', 'a', 'A'.repeat(10_000), '../../etc/passwd', 'ünï\u0000cødé', 'x'.repeat(253)]) {
      expect(nameFor(id)).toMatch(/^[0-9a-f]{40}$/);
      expect(labelFor(id)).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(nameFor('a')).not.toBe(nameFor('A'));
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sameHash(sha256Hex('x'), sha256Hex('x'))).toBe(true);
    expect(sameHash(sha256Hex('x'), sha256Hex('y'))).toBe(false);
    expect(sameHash(sha256Hex('x'), 'short')).toBe(false);
  });
});

describe('client codec', () => {
  const ok = { id: 'app', redirectURIs: ['https://app.example.com/cb', 'com.example.app:/oauth'] };

  it('accepts https and native-app custom schemes, keeps only known fields', () => {
    const parsed = clientCodec.parse({ ...ok, public: true, name: 'App', unknown: 'x' });
    expect(parsed).toEqual({ ok: true, record: { ...ok, public: true, name: 'App' } });
  });

  it('keeps allowedConnectors both ways (spec → record → spec)', () => {
    const parsed = clientCodec.parse({ ...ok, allowedConnectors: ['ldap', 'github'] });
    expect(parsed).toEqual({ ok: true, record: { ...ok, allowedConnectors: ['ldap', 'github'] } });
    expect(clientCodec.toSpec({ ...ok, allowedConnectors: ['ldap'] })).toEqual({ ...ok, allowedConnectors: ['ldap'] });
  });

  it.each([
    [{ ...ok, id: '' }, 'id must be a non-empty string'],
    [{ ...ok, redirectURIs: 'https://x' }, 'redirectURIs must be a list of strings'],
    [{ ...ok, redirectURIs: ['not a url'] }, 'not an absolute URI'],
    [{ ...ok, redirectURIs: ['https://x.example.com/cb#f'] }, 'must not contain a fragment'],
    [{ ...ok, redirectURIs: ['javascript:alert(1)'] }, 'forbidden scheme'],
    [{ ...ok, postLogoutRedirectURIs: ['/relative'] }, 'post-logout redirect URI'],
    [{ ...ok, public: 'yes' }, 'public must be a boolean'],
    [{ ...ok, secret: 42 }, 'secret must be a string'],
    [{ ...ok, allowedConnectors: 'ldap' }, 'allowedConnectors must be a list'],
    [{ ...ok, allowedConnectors: ['ldap', ''] }, 'allowedConnectors must be a list'],
    [{ ...ok, allowedConnectors: [7] }, 'allowedConnectors must be a list'],
    [null, 'id must be a non-empty string'],
  ])('rejects %j', (spec, reason) => {
    const parsed = clientCodec.parse(spec);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });
});

describe('connector and password codecs', () => {
  it('connector ids must be URL-safe; config must be an object', () => {
    expect(connectorCodec.parse({ id: 'ldap-1', type: 'ldap', name: 'LDAP', config: {} }).ok).toBe(true);
    expect(connectorCodec.parse({ id: 'a b', type: 'ldap', name: 'x' }).ok).toBe(false);
    expect(connectorCodec.parse({ id: 'a', type: '', name: 'x' }).ok).toBe(false);
    expect(connectorCodec.parse({ id: 'a', type: 't', name: 'x', config: [1] }).ok).toBe(false);
  });

  it('password users are keyed by lower-cased email', () => {
    expect(passwordCodec.normaliseKey('A@Example.COM')).toBe('a@example.com');
    expect(passwordCodec.toSpec({ email: 'A@B.C', hash: 'h', username: 'u', userId: 'i' }).email).toBe('a@b.c');
    expect(passwordCodec.parse({ email: 'a@b.c', hash: 'h', username: 'u' }).ok).toBe(false);
  });
});

describe('CRDs', () => {
  it('one namespaced gatehouse.dev/v1 CRD per model and record kind, authcodes for codes, unique plurals', () => {
    const manifests = crdManifests();
    expect(manifests).toHaveLength(MODEL_NAMES.length + 5);
    expect(new Set(allKinds().map((k) => k.plural)).size).toBe(allKinds().length);
    expect(MODEL_KINDS.AuthorizationCode.plural).toBe('authcodes');
    for (const { manifest } of manifests) {
      const spec = manifest.spec as {
        group: string;
        scope: string;
        versions: Array<{ name: string; additionalPrinterColumns: unknown[] }>;
      };
      expect(spec.group).toBe('gatehouse.dev');
      expect(spec.scope).toBe('Namespaced');
      expect(spec.versions[0]?.name).toBe('v1');
      expect(spec.versions[0]?.additionalPrinterColumns.length).toBeGreaterThan(0);
    }
  });
});
