import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'e2e',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'adversarial/**/*.test.ts'],
    // Sums the attack classes' case counts over the run and prints them at the end (adversarial/tally.ts).
    globalSetup: ['adversarial/tally-global.ts'],
    // Real nginx, Chromium, slapd and (for one file) kube-apiserver + etcd on a shared 2-core machine:
    // generous bounds; nothing waits for them unless something is wrong.
    testTimeout: 60_000,
    hookTimeout: 240_000,
  },
});
