import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isSecretKey, redact, scrubString } from './logging.ts';
import type { LoggerConfig } from './config/types.ts';

function capture(config: LoggerConfig) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const logger = createLogger(config, stream);
  return { logger, lines, text: () => lines.join('\n') };
}

const SECRETS = {
  password: 'pw-Secret-1',
  secret: 'secret-Secret-2',
  client_secret: 'cs-Secret-3',
  clientSecret: 'cs-Secret-4',
  code: 'code-Secret-5',
  token: 'tok-Secret-6',
  access_token: 'at-Secret-7',
  refresh_token: 'rt-Secret-8',
  id_token: 'idt-Secret-9',
  authorization: 'Bearer auth-Secret-10',
  cookie: '_session=cookie-Secret-11',
  'set-cookie': ['sc=setcookie-Secret-12; HttpOnly'],
  bindPW: 'bind-Secret-13',
};

describe('createLogger', () => {
  it('never writes secret-bearing fields, at any depth or case', async () => {
    const { logger, text } = capture({ level: 'debug', format: 'json' });
    logger.info(SECRETS, 'flat');
    logger.info(
      { req: { headers: { Authorization: 'Basic YmFzaWMtU2VjcmV0LTE0', Cookie: 'c=cookie-Secret-15' } } },
      'nested',
    );
    logger.info({
      deep: {
        a: { b: { c: { connector: { config: { clientSecret: 'deep-Secret-16', bindPW: 'deep-Secret-17' } } } } },
      },
    });
    logger.warn({ list: [{ refreshToken: 'list-Secret-18' }], CLIENT_SECRET: 'upper-Secret-19' }, 'arrays');
    logger.child({ password: 'child-Secret-20' }).info('child bindings');
    logger.error(
      {
        err: Object.assign(new Error('token exchange failed for https://idp.example/cb?code=url-Secret-21&state=s'), {
          password: 'err-Secret-22',
        }),
      },
      'err',
    );
    logger.info('redirecting to https://rp.example/cb?code=msg-Secret-23&state=st-Secret-24');
    logger.info({ header: 'Bearer hdr-Secret-25' }, 'free text with Bearer msg-Secret-26');
    logger.info({ url: new URL('https://rp.example/cb?access_token=urlobj-Secret-27') });
    logger.debug({ azurePassword: 'frag-Secret-28', oauth2ClientSecret: 'frag-Secret-29' }, 'fragments');
    const out = text();
    expect(out).not.toMatch(/Secret-\d+/);
    expect(out).not.toContain('YmFzaWMtU2VjcmV0LTE0');
    // What is not secret is still logged.
    expect(out).toContain('flat');
    expect(out).toContain('https://idp.example/cb?code=[Redacted]');
    expect(out).toContain('"err"');
    expect(out.match(/\[Redacted\]/g)?.length).toBeGreaterThan(20);
  });

  it('writes one JSON object per line with level, time and msg', () => {
    const { logger, lines } = capture({ level: 'info', format: 'json' });
    logger.debug('hidden');
    logger.info({ connector: 'mock', result: 'success' }, 'login');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, msg: 'login', connector: 'mock', result: 'success' });
    expect(typeof rec['time']).toBe('number');
  });

  it('formats text lines and still redacts', () => {
    const { logger, lines } = capture({ level: 'debug', format: 'text' });
    logger.info({ connector: 'mock', clientSecret: 'text-Secret-1', note: 'two words' }, 'login done');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}login done connector=mock clientSecret=\[Redacted\] note="two words"$/,
    );
  });
});

describe('redaction helpers', () => {
  it('recognises secret keys regardless of case and separators', () => {
    for (const k of [
      'Password',
      'client-secret',
      'CLIENT_SECRET',
      'Set-Cookie',
      'bind_pw',
      'X-Auth-Request-Access-Token',
    ]) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of ['connector', 'grant_type', 'email', 'status', 'clientId']) expect(isSecretKey(k), k).toBe(false);
  });

  it('masks sensitive query parameters and authorization schemes in strings', () => {
    expect(scrubString('GET /cb?state=abc&code=xyz&x=1')).toBe('GET /cb?state=[Redacted]&code=[Redacted]&x=1');
    expect(scrubString('Authorization: Bearer eyJhbGci.x.y')).toBe('Authorization: Bearer [Redacted]');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a['self'] = a;
    expect(redact(a)).toEqual({ name: 'a', self: '[Circular]' });
  });
});
