/**
 * Builds kube-apiserver ahead of the tests (a separate, visible CI step):
 *   ./pnpmw exec node packages/testkit/src/kube/build-cli.ts [--kubectl]
 * `--kubectl` builds kubectl instead (for a machine without one). Exit 0 with the binary path and
 * build time; 1 on failure; 2 when Go is missing.
 */
import { buildKubeApiServer, buildKubectl, KubeToolMissingError } from './build.ts';

try {
  const log = (line: string): void => console.log(line);
  const { binary, ms } = process.argv.includes('--kubectl')
    ? await buildKubectl({ log })
    : await buildKubeApiServer({ log });
  console.log(`ready: ${binary} (${(ms / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(error instanceof KubeToolMissingError ? 2 : 1);
}
