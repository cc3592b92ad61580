import { ConnectorError } from '../errors.ts';
import type { UpstreamCall } from './types.ts';
import { isRecord } from '@gatehouse/common';

function malformed(call: UpstreamCall, problem: string): ConnectorError {
  return new ConnectorError('upstream_error', `${call.what}: ${problem}`, {
    userMessage: `${call.upstream} sent an answer that could not be understood.`,
  });
}

/** Parses a JSON body, or throws `upstream_error`. */
export function parseJSONBody(call: UpstreamCall, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed(call, 'the response is not JSON');
  }
}

/** Parses a body that must be a JSON object (not an array, string or null), or throws `upstream_error`. */
export function parseJSONObject(call: UpstreamCall, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed(call, 'the response is not a JSON object');
  }
  if (isRecord(value)) return value;
  throw malformed(call, 'the response is not a JSON object');
}
