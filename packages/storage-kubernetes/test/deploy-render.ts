/** The example overlay as `kubectl kustomize` renders it, one object per document. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const EXAMPLE_OVERLAY = fileURLToPath(new URL('../../../deploy/kustomize/overlays/example', import.meta.url));

export interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
}

export async function renderExample(): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', EXAMPLE_OVERLAY]);
  return parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
}
