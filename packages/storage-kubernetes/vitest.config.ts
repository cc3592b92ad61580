import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'storage-kubernetes',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // One real kube-apiserver + etcd for the whole run (built from Go modules on first use).
    globalSetup: ['./test/kube-global-setup.ts'],
    // Files share that API server and some tests touch cluster-wide CRDs: run them one by one.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
