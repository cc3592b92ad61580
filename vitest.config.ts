import { defineConfig } from 'vitest/config';
import { preflightOrExit } from './packages/testkit/src/preflight/index.ts';

// Before any project (or its globalSetup) starts: every system program the suites run is installed,
// installed now, or the run stops here with the command that installs it (packages/testkit/src/preflight).
await preflightOrExit();

// Each package (and e2e/) is a vitest project with its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'e2e'],
  },
});
