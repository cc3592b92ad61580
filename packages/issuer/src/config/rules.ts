/**
 * Runs every section's rules over the raw file (sections/*.ts) and, when nothing failed, finishes
 * the schema output into the `IssuerConfig`: a section's keys pass through as the schema made
 * them, and only what a rule resolved (environment values, absolute paths, Dex's defaults that
 * depend on other keys) is put in.
 */
import type { RuleContext, Raw } from './context.ts';
import type { IssuerConfig, ParsedConfig } from './schema.ts';
import { checkClients, finishClients } from './sections/clients.ts';
import { checkConnectors, finishConnectors } from './sections/connectors.ts';
import { checkExpiry, finishExpiry } from './sections/expiry.ts';
import { checkFrontend } from './sections/frontend.ts';
import { checkIssuer } from './sections/issuer.ts';
import { checkOAuth2, finishOAuth2 } from './sections/oauth2.ts';
import { checkPasswords, finishPasswords } from './sections/passwords.ts';
import { checkSigner, finishSigner } from './sections/signer.ts';
import { checkStorage } from './sections/storage.ts';
import { checkWeb } from './sections/web.ts';

export type { RuleContext };

/**
 * `file` is the raw config after key checks and `$VAR` expansion; `parsed` its schema output
 * (undefined when a value was malformed). Rules report into `ctx`; the config is returned only
 * when no rule failed.
 */
export async function checkRules(
  file: Raw,
  parsed: ParsedConfig | undefined,
  ctx: RuleContext,
): Promise<IssuerConfig | undefined> {
  checkIssuer(file, ctx);
  const storage = checkStorage(file, ctx);
  const tls = checkWeb(file, ctx);
  checkFrontend(file, ctx);
  const dexSigner = checkSigner(file, ctx);
  checkExpiry(file, ctx);
  const credentials = checkClients(file, ctx);
  const hashes = checkPasswords(file, ctx);
  const connectors = await checkConnectors(file, ctx);
  const oauth2 = checkOAuth2(file, ctx, connectors.ids);

  if (parsed === undefined || ctx.errors.length > 0 || storage === undefined) return undefined;
  return {
    ...parsed,
    storage,
    web: { ...parsed.web, ...tls },
    expiry: finishExpiry(parsed.expiry, dexSigner),
    signer: finishSigner(parsed.signer, dexSigner),
    oauth2: finishOAuth2(parsed.oauth2, oauth2),
    staticClients: finishClients(parsed.staticClients, credentials),
    connectors: finishConnectors(parsed.connectors, connectors),
    staticPasswords: finishPasswords(parsed.staticPasswords, hashes),
  };
}
