/** Writes deploy/crds/*.yaml from crds.ts: `./pnpmw exec node packages/storage-kubernetes/src/generate-crds.ts`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from './crd-files.ts';

const dir = fileURLToPath(new URL('../../../deploy/crds/', import.meta.url));
await mkdir(dir, { recursive: true });
for (const { file, text } of renderCrdFiles()) await writeFile(`${dir}${file}`, text);
console.log(`wrote ${renderCrdFiles().length} CRDs to ${dir}`);
