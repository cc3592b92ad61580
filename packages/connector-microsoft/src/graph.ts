import { z } from '@gatehouse/connector-kit';
import { ConnectorError } from '@gatehouse/connector-kit';
import type { ConnectorLogger } from '@gatehouse/connector-kit';
import type { MicrosoftConfig } from './config.ts';
import { httpRequest, parseJSONObject, retryAfterSeconds, statusError } from './http.ts';

/** Longest `Retry-After` we wait for inline (once) before giving up with `upstream_unavailable`. */
export const MAX_INLINE_RETRY_AFTER_SECONDS = 2;
/** Graph's limit of ids per `directoryObjects/getByIds` call. */
export const GET_BY_IDS_BATCH = 1000;
/** Bound on `@odata.nextLink` pages followed for one list. */
const MAX_PAGES = 500;

/** A Graph answer that is not a success, kept for the caller to map (404 on refresh means the user is gone). */
export class GraphError extends Error {
  readonly status: number;
  readonly graphCode: string;
  constructor(status: number, graphCode: string, message: string) {
    super(message);
    this.name = 'GraphError';
    this.status = status;
    this.graphCode = graphCode;
  }
}

const meSchema = z.object({
  id: z.string().min(1),
  displayName: z.string().nullish(),
  userPrincipalName: z.string().nullish(),
  mail: z.string().nullish(),
  mailNickname: z.string().nullish(),
  onPremisesSamAccountName: z.string().nullish(),
});
export type GraphMe = z.output<typeof meSchema>;

const idPage = z.object({ value: z.array(z.string()), '@odata.nextLink': z.string().optional() });
const objectPage = z.object({
  value: z.array(z.object({ id: z.string(), displayName: z.string().nullish() }).passthrough()),
  '@odata.nextLink': z.string().optional(),
});

export class GraphClient {
  private readonly config: MicrosoftConfig;
  private readonly accessToken: string;
  private readonly logger: ConnectorLogger;

  constructor(config: MicrosoftConfig, accessToken: string, logger: ConnectorLogger) {
    this.config = config;
    this.accessToken = accessToken;
    this.logger = logger;
  }

  private async call(
    url: string,
    method: 'GET' | 'POST',
    body?: unknown,
    retried = false,
  ): Promise<Record<string, unknown>> {
    // Never send the bearer token anywhere but the configured Graph origin (nextLink comes from the response).
    if (!url.startsWith(`${this.config.graphURL}/`)) {
      throw new ConnectorError('upstream_error', 'Microsoft Graph sent a link to another host');
    }
    const what = 'Microsoft Graph';
    const response = await httpRequest(url, {
      method,
      headers: {
        authorization: `Bearer ${this.accessToken}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs: this.config.timeoutSeconds * 1000,
      what,
      // Every Graph call here is a read (getMemberGroups and getByIds are read-only POST actions).
      idempotent: true,
    });
    if (response.status === 429 && !retried) {
      const wait = retryAfterSeconds(response.headers['retry-after']) ?? 1;
      if (wait <= MAX_INLINE_RETRY_AFTER_SECONDS) {
        this.logger.info({ retryAfter: wait, path: new URL(url).pathname }, 'Microsoft Graph throttled; retrying once');
        await new Promise((r) => setTimeout(r, wait * 1000));
        return this.call(url, method, body, true);
      }
    }
    if (response.status === 429 || response.status >= 500) throw statusError(what, response.status, response.headers);
    const json = parseJSONObject(what, response.text);
    if (response.status !== 200) {
      const error = json.error as { code?: unknown; message?: unknown } | undefined;
      throw new GraphError(
        response.status,
        String(error?.code ?? 'unknown'),
        `${what} ${new URL(url).pathname}: HTTP ${response.status} ${String(error?.code ?? '')}`,
      );
    }
    return json;
  }

  async me(): Promise<GraphMe> {
    const url = `${this.config.graphURL}/v1.0/me?$select=id,displayName,userPrincipalName,mail,mailNickname,onPremisesSamAccountName`;
    const parsed = meSchema.safeParse(await this.call(url, 'GET'));
    if (!parsed.success) throw new ConnectorError('upstream_error', 'Microsoft Graph /me: unexpected user object');
    return parsed.data;
  }

  /** Follows `@odata.nextLink` (re-posting the same body) and concatenates `value`. */
  private async pages<T>(
    url: string,
    body: unknown,
    schema: z.ZodType<{ value: T[]; '@odata.nextLink'?: string | undefined }>,
  ): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = url;
    for (let page = 0; next !== undefined; page += 1) {
      if (page >= MAX_PAGES) throw new ConnectorError('upstream_error', 'Microsoft Graph: too many pages');
      const parsed = schema.safeParse(await this.call(next, 'POST', body));
      if (!parsed.success)
        throw new ConnectorError('upstream_error', `Microsoft Graph ${new URL(url).pathname}: unexpected page`);
      out.push(...parsed.data.value);
      next = parsed.data['@odata.nextLink'];
    }
    return out;
  }

  /** Transitive group ids of the signed-in user. */
  async memberGroupIds(securityEnabledOnly: boolean): Promise<string[]> {
    const ids = await this.pages(`${this.config.graphURL}/v1.0/me/getMemberGroups`, { securityEnabledOnly }, idPage);
    return [...new Set(ids)];
  }

  /** Display names of groups by id, in batches of ≤ 1000 ids; unknown ids are left out. */
  async groupNames(ids: string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (let i = 0; i < ids.length; i += GET_BY_IDS_BATCH) {
      const batch = ids.slice(i, i + GET_BY_IDS_BATCH);
      const objects = await this.pages(
        `${this.config.graphURL}/v1.0/directoryObjects/getByIds`,
        { ids: batch, types: ['group'] },
        objectPage,
      );
      for (const o of objects) if (o.displayName) names.set(o.id, o.displayName);
    }
    return names;
  }
}
