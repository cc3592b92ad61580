/**
 * Builds kube-apiserver ahead of the tests (a separate, visible CI step):
 *   ./pnpmw exec node packages/testkit/src/kube/build-cli.ts
 * Exit 0 with the binary path and build time; 1 on failure; 2 when Go is missing.
 */
import { buildKubeApiServer, KubeToolMissingError } from './build.ts';

try {
  const { binary, ms } = await buildKubeApiServer({ log: (line) => console.log(line) });
  console.log(`kube-apiserver ready: ${binary} (${(ms / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(error instanceof KubeToolMissingError ? 2 : 1);
}
