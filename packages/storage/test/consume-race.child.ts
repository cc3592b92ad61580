// A child process in the cross-process consume race (spawned by src/sqlite.test.ts): opens the
// store, says "ready", waits for "go" on stdin, consumes every id given, prints the ids it won.
import { SqliteStore } from '../src/sqlite.ts';

const [file, idList] = process.argv.slice(2);
if (!file || !idList) {
  process.stderr.write('usage: consume-race.child.ts <file> <id,id,...>\n');
  process.exit(2);
}
const ids = idList.split(',');
// Each child walks the ids in its own order, so contention happens on every record.
for (let i = ids.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [ids[i], ids[j]] = [ids[j]!, ids[i]!];
}

const store = new SqliteStore(file);
process.stdout.write('ready\n');
process.stdin.once('data', () => void race());

async function race(): Promise<void> {
  const won: string[] = [];
  for (const id of ids) {
    if (await store.model('AuthorizationCode').consume(id)) won.push(id);
  }
  await store.close();
  process.stdout.write(`${JSON.stringify(won)}\n`);
  process.exit(0);
}
