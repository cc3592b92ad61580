export { boundedFetch, DEFAULT_MAX_BODY_BYTES, HttpClient } from './client.ts';
export type { HttpClientOptions, HttpClientRequest } from './client.ts';
export {
  BodyTooLargeError,
  classifyTransportFailure,
  isTransientStatus,
  statusError,
  transportError,
} from './errors.ts';
export type { TransportFailure } from './errors.ts';
export { parseJSONBody, parseJSONObject } from './json.ts';
export { parseRetryAfter } from './retry-after.ts';
export type { BoundedRequest, HttpMethod, HttpResponse, UpstreamCall } from './types.ts';
