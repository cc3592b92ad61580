import { defineConfig } from 'vitest/config';

// Each package (and e2e/) is a vitest project with its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'e2e'],
  },
});
