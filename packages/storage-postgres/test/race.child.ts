// A replica in the cross-process tests (spawned by test/replicas.test.ts): connects with the config in
// GATEHOUSE_PG_CONFIG, says "ready", waits for "go" on stdin, then either migrates the schema
// (`migrate`: prints the versions it applied) or consumes every id given (`consume`: prints the ids it won).
import { PostgresStore } from '../src/index.ts';

const [mode, idList] = process.argv.slice(2);
const store = new PostgresStore(JSON.parse(process.env.GATEHOUSE_PG_CONFIG ?? '{}'));
await store.ping(); // connected: the race starts at "go", not at connection set-up
process.stdout.write('ready\n');
process.stdin.once('data', () => void run());

async function run(): Promise<void> {
  let result: unknown;
  if (mode === 'migrate') {
    result = await store.migrate();
  } else {
    const ids = (idList ?? '').split(',');
    // Each child walks the ids in its own order, so contention happens on every record.
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    const won = await Promise.all(
      ids.map(async (id) => ((await store.model('AuthorizationCode').consume(id)) ? id : undefined)),
    );
    result = won.filter((id) => id !== undefined);
  }
  await store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
