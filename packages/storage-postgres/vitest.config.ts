import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'storage-postgres',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Each file starts its own PostgreSQL cluster (about a second); some start issuer processes too.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
