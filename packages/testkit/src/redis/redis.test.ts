import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startRedis } from './index.ts';

/** One RESP command over a plain socket (the testkit has no Redis client of its own). */
function command(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let out = '';
    s.on('data', (d) => {
      out += d.toString('utf8');
      if (out.endsWith('\r\n')) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('error', reject);
    s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

describe('startRedis', () => {
  it('serves on a free port, keeps its data across pause/start, and removes its directory on stop', async () => {
    const redis = await startRedis();
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await command(redis.port, 'SET', 'k', 'v')).toBe('+OK\r\n');
      await redis.pause();
      await expect(command(redis.port, 'PING')).rejects.toThrow();
      await redis.start();
      expect(await command(redis.port, 'GET', 'k')).toBe('$1\r\nv\r\n');
    } finally {
      await redis.stop();
    }
    expect(existsSync(redis.dir)).toBe(false);
  });

  it('requires AUTH when given a password', async () => {
    const redis = await startRedis({ password: 'p@ss' });
    try {
      expect(redis.url).toBe(`redis://:p%40ss@127.0.0.1:${redis.port}`);
      expect(await command(redis.port, 'GET', 'k')).toMatch(/^-NOAUTH/);
    } finally {
      await redis.stop();
    }
  });
});
