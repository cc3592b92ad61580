/** Writes deploy/crds/*.yaml from crds.ts: `./pnpmw exec node packages/storage-kubernetes/src/generate-crds.ts`. */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GENERATED_HEADER, renderCrdFiles } from './crd-files.ts';

const dir = fileURLToPath(new URL('../../../deploy/crds/', import.meta.url));
await mkdir(dir, { recursive: true });
const files = renderCrdFiles();
for (const { file, text } of files) await writeFile(`${dir}${file}`, text);
// A kind dropped from kinds.ts leaves its old file behind: remove generated files no kind writes.
const wanted = new Set(files.map((f) => f.file));
const stale: string[] = [];
for (const file of await readdir(dir)) {
  if (!file.endsWith('.yaml') || wanted.has(file)) continue;
  if ((await readFile(`${dir}${file}`, 'utf8')).startsWith(GENERATED_HEADER)) stale.push(file);
}
for (const file of stale) await rm(`${dir}${file}`);
console.log(`wrote ${files.length} CRDs to ${dir}${stale.length > 0 ? `; removed ${stale.join(', ')}` : ''}`);
