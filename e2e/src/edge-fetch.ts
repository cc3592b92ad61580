// forward-auth calls the issuer at its public URL (https://gatehouse.test:<port>/dex), through nginx, as
// oauth2-proxy calls https://devailab.work/dex in the seed. Node cannot resolve the test host name and does
// not know the test CA, so this fetch connects to 127.0.0.1 with SNI and Host set to the public name and
// trusts only the edge CA: the same TLS checks as the real thing, name resolution aside.
import { request } from 'node:https';

export type FetchLike = typeof fetch;

function headerPairs(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((v, k) => (out[k] = v));
  return out;
}

async function bodyBytes(body: RequestInit['body']): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(await new Response(body).arrayBuffer());
}

/** A fetch that sends requests for `origin` (https://host:port) to 127.0.0.1, trusting `caCert`; others go to the global fetch. */
export function edgeFetch(origin: string, caCert: string): FetchLike {
  const edge = new URL(origin);
  const impl = async (input: Parameters<FetchLike>[0], init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== edge.origin) return fetch(input, init);
    if (input instanceof Request) throw new Error('edgeFetch takes a URL and init, not a Request');
    const body = await bodyBytes(init?.body);
    const headers = headerPairs(init);
    if (body !== undefined) headers['content-length'] = String(body.length);
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(url.port || 443),
          servername: url.hostname,
          method: init?.method ?? 'GET',
          path: url.pathname + url.search,
          headers: { host: url.host, ...headers },
          ca: caCert,
          signal: init?.signal ?? AbortSignal.timeout(15_000),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const h = new Headers();
            for (let i = 0; i < res.rawHeaders.length; i += 2)
              h.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
            const status = res.statusCode ?? 502;
            const nullBody = status === 204 || status === 304 || init?.method === 'HEAD';
            const response = new Response(nullBody ? null : Buffer.concat(chunks), {
              status,
              statusText: res.statusMessage ?? '',
              headers: h,
            });
            Object.defineProperty(response, 'url', { value: url.href });
            resolve(response);
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
  return impl as FetchLike;
}
