/** `connectors`: upstream identity providers; each `config` is checked by its factory's schema. */
import { z } from 'zod';
import { isRecord } from '@gatehouse/common';
import { ConnectorRegistryError } from '../../connectors/registry.ts';
import { LOCAL_CONNECTOR_ID } from '../../connectors/local.ts';
import { parseChecked } from '../keys.ts';
import { type RuleContext, type Raw, arr, str } from '../context.ts';
import { DNS1123 } from '../values.ts';

export const connectorId = z.string().max(253, { message: 'must be at most 253 characters' }).regex(DNS1123, {
  message: 'must be lower-case letters, digits, "-" and "." (a DNS-1123 name, as Kubernetes requires)',
});

export const connectorSchema = z.object({
  type: z.string({ error: 'required' }).min(1, { message: 'required' }),
  id: connectorId,
  name: z.string({ error: 'required' }).min(1, { message: 'required' }),
  /** Validated by the connector factory's `configSchema` (checkConnectors), kept raw for openConnectors. */
  config: z.unknown().optional(),
});

type ParsedConnector = z.output<typeof connectorSchema>;

export interface ConnectorConfig extends Omit<ParsedConnector, 'config'> {
  /** Validated by the connector factory's `configSchema` at start-up. */
  config: unknown;
}

export interface CheckedConnectors {
  /** The ids a client or `passwordConnector` may name (`local` with the password DB). */
  ids: Set<string>;
  /** Each connector's config with case-only misspellings of its keys renamed. */
  configs: unknown[];
}

export async function checkConnectors(file: Raw, ctx: RuleContext): Promise<CheckedConnectors> {
  const ids = new Set<string>();
  const configs: unknown[] = [];
  const passwordDB = file['enablePasswordDB'] === true;
  const list = arr(file, 'connectors');
  const firstIndex = new Map<string, number>();
  await Promise.all(
    list.map(async (c, i) => {
      if (!isRecord(c)) return;
      const base = `connectors[${i}]`;
      const id = str(c, 'id');
      if (id !== undefined) {
        const first = firstIndex.get(id);
        if (first !== undefined)
          ctx.errors.push({ path: `${base}.id`, message: `duplicate connector id (also connectors[${first}])` });
        else firstIndex.set(id, i);
        if (id === LOCAL_CONNECTOR_ID && passwordDB) {
          ctx.errors.push({
            path: `${base}.id`,
            message: '"local" is the password DB\'s id (enablePasswordDB: true); choose another',
          });
        }
        ids.add(id);
      }
      const type = str(c, 'type');
      if (type === undefined || type === '') return;
      if (type === LOCAL_CONNECTOR_ID) {
        ctx.errors.push({
          path: `${base}.type`,
          message: 'the "local" connector is added by enablePasswordDB: true; do not list it',
        });
        return;
      }
      let factory;
      try {
        factory = await ctx.registry.resolve(type);
      } catch (e) {
        const message =
          e instanceof ConnectorRegistryError
            ? e.message
            : `cannot load connector type "${type}": ${(e as Error).message}`;
        ctx.errors.push({ path: `${base}.type`, message });
        return;
      }
      // Unknown keys get the same treatment as in the rest of the file (closest known key suggested,
      // case-only misspellings read with a warning); the schema then checks values.
      const parsed = parseChecked(c['config'] ?? {}, factory.configSchema, ctx.errors, ctx.warnings, [
        'connectors',
        i,
        'config',
      ]);
      if (parsed === undefined) return;
      configs[i] = parsed.value;
      let extra: string[] = [];
      try {
        extra = factory.warnings?.(parsed.data) ?? [];
      } catch (e) {
        ctx.errors.push({ path: `${base}.config`, message: `connector check failed: ${(e as Error).message}` });
      }
      for (const w of extra) ctx.warnings.push({ path: `${base}.config`, message: w });
    }),
  );
  if (passwordDB) ids.add(LOCAL_CONNECTOR_ID);
  if (list.length === 0 && !passwordDB) {
    ctx.errors.push({ path: 'connectors', message: 'no connectors: add one, or set enablePasswordDB: true' });
  }
  return { ids, configs };
}

// With enablePasswordDB the issuer opens the password DB itself, as connector `local` with
// `config: { staticPasswords }` (see connectors/local.ts); it is not listed here.
export function finishConnectors(parsed: ParsedConnector[], checked: CheckedConnectors): ConnectorConfig[] {
  return parsed.map((c, i) => ({ ...c, config: checked.configs[i] ?? {} }));
}
