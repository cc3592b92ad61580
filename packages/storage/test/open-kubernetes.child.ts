// Spawned by src/open.test.ts with a working directory whose node_modules holds a stand-in
// @gatehouse/storage-kubernetes: checks that openStore finds the optional package from there.
import { openStore } from '../src/open.ts';

try {
  const store = await openStore({ type: 'kubernetes', config: { inCluster: false, namespace: 'probe' } });
  process.stdout.write(`${JSON.stringify({ type: store.type })}\n`);
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string };
  process.stdout.write(`${JSON.stringify({ error: { name: e.name, code: e.code, message: e.message } })}\n`);
}
