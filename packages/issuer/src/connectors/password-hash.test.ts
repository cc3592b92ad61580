import bcryptjs from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { BcryptPool, verifyPassword } from './password-hash.ts';

// bcryptjs is an independent implementation: hashes it makes must verify exactly as they did.
const ASCII = 'password';
const UNICODE = 'pässwörd ☃';
const LONG = 'é'.repeat(50); // 100 UTF-8 bytes: bcrypt (Go's too) reads the first 72
const hashes = {
  ascii: bcryptjs.hashSync(ASCII, 10),
  unicode: bcryptjs.hashSync(UNICODE, 10),
  long: bcryptjs.hashSync(LONG, 10),
};
const as = (hash: string, version: string) => hash.replace(/^\$2[abxy]\$/, `$${version}$`);

describe('verifyPassword', () => {
  it("verifies Dex's example hash of 'password'", async () => {
    const dex = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
    expect(await verifyPassword('password', dex)).toEqual({ ok: true, match: true });
    expect(await verifyPassword('Password', dex)).toEqual({ ok: true, match: false });
  });

  for (const version of ['2a', '2b', '2y', '2x']) {
    it(`verifies $${version}$ hashes as Go's CompareHashAndPassword does (same algorithm for every minor version)`, async () => {
      for (const [password, hash] of [
        [ASCII, hashes.ascii],
        [UNICODE, hashes.unicode],
        [LONG, hashes.long],
      ] as const) {
        expect(await verifyPassword(password, as(hash, version))).toEqual({ ok: true, match: true });
        expect(await verifyPassword(`x${password}`, as(hash, version))).toEqual({ ok: true, match: false });
      }
    });
  }

  it('reads the UTF-8 bytes, and only the first 72 of them', async () => {
    expect(await verifyPassword(`${LONG.slice(0, 36)}anything after byte 72`, hashes.long)).toEqual({
      ok: true,
      match: true,
    });
    expect(await verifyPassword(LONG.slice(0, 35), hashes.long)).toEqual({ ok: true, match: false });
    expect(await verifyPassword(UNICODE.normalize('NFD'), hashes.unicode)).toEqual({ ok: true, match: false });
  });

  it('reports a hash Dex would refuse instead of comparing (no throw, no hang on cost 31)', async () => {
    const body = hashes.ascii.slice(7);
    for (const bad of [
      '',
      'plain',
      '$2a$10$short',
      `$2a$31$${body}`,
      `$2a$09$${body}`,
      `$2c$10$${body}`,
      `$3a$10$${body}`,
      ` ${hashes.ascii}`,
      `${hashes.ascii}\n`,
    ]) {
      const t0 = performance.now();
      expect(await verifyPassword(ASCII, bad), JSON.stringify(bad)).toEqual({ ok: false, code: 'malformed_hash' });
      expect(performance.now() - t0).toBeLessThan(50);
    }
  });

  it('leaves the event loop free while 8 comparisons run', async () => {
    await Promise.all(Array.from({ length: 8 }, () => verifyPassword(ASCII, hashes.ascii))); // threads started
    const gaps: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 2);
    try {
      const results = await Promise.all(Array.from({ length: 8 }, () => verifyPassword(ASCII, hashes.ascii)));
      expect(results.every((r) => r.ok && r.match)).toBe(true);
    } finally {
      clearInterval(timer);
    }
    // bcryptjs held this thread ~50 ms per hash, so most gaps were that long; a busy machine adds a few spikes.
    const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
    expect(gaps.length).toBeGreaterThan(20);
    expect(median).toBeLessThan(15);
  });
});

describe('BcryptPool', () => {
  it('runs at most `size` comparisons at once and answers each job with its own result', async () => {
    const pool = new BcryptPool(2);
    const jobs = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0 ? pool.verify('wrong', hashes.ascii) : pool.verify(ASCII, hashes.ascii),
    );
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 12 }, (_, i) => i % 3 !== 0));
  });

  it('keeps working after a thread dies mid-job (that job fails, the next ones pass)', async () => {
    const pool = new BcryptPool(1);
    expect(await pool.verify(ASCII, hashes.ascii)).toBe(true);
    const worker = (pool as unknown as { idle: Array<{ terminate(): Promise<number> }> }).idle[0]!;
    const pending = pool.verify(ASCII, hashes.ascii);
    await worker.terminate();
    await expect(pending).rejects.toThrow(/exited/);
    expect(await verifyPassword(ASCII, hashes.ascii, pool)).toEqual({ ok: true, match: true });
  });
});
