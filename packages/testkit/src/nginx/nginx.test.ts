import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fillTemplate, placeholdersOf, startNginx, TemplateError } from './index.ts';

const tiny = `# {{IGNORED}} in a comment is documentation
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/logs/error.log;
events { worker_connections 16; }
http {
  client_body_temp_path {{PREFIX}}/tmp/client_body;
  proxy_temp_path {{PREFIX}}/tmp/proxy;
  fastcgi_temp_path {{PREFIX}}/tmp/fastcgi;
  uwsgi_temp_path {{PREFIX}}/tmp/uwsgi;
  scgi_temp_path {{PREFIX}}/tmp/scgi;
  access_log {{PREFIX}}/logs/access.log;
  server {
    listen 127.0.0.1:{{HTTPS_PORT}};
    location / { return 200 "{{GREETING}}"; }
  }
}
`;

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

describe('nginx template', () => {
  it('lists placeholders outside comments and fills them', () => {
    expect(placeholdersOf(tiny)).toEqual(['PREFIX', 'HTTPS_PORT', 'GREETING']);
    const out = fillTemplate('a {{X}} b {{X}}\n# {{Y}}\n', { X: '1' });
    expect(out).toBe('a 1 b 1\n# {{Y}}\n');
  });

  it('reports every missing or unsafe value at once', () => {
    let caught: unknown;
    try {
      fillTemplate('{{A}} {{B}} {{C}}', { B: 'x; include /etc/passwd', C: '' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    expect((caught as TemplateError).problems).toEqual([
      'no value for {{A}}',
      expect.stringContaining('unsafe value for {{B}}'),
      expect.stringContaining('unsafe value for {{C}}'),
    ]);
  });
});

describe('startNginx', () => {
  it('runs nginx from a template and removes everything on stop', async () => {
    const nginx = await startNginx({ confTemplate: tiny, vars: { GREETING: 'hello from nginx' } });
    try {
      expect(await get(nginx.httpsPort)).toBe('hello from nginx');
      expect(await nginx.readLog('access.log')).toContain('GET / HTTP/1.1');
      expect(await nginx.readLog('../nginx.conf')).toBe('');
    } finally {
      await nginx.stop();
    }
    expect(existsSync(nginx.prefix)).toBe(false);
    await expect(get(nginx.httpsPort)).rejects.toThrow();
    // Neither the master nor a worker is left (the whole process group is gone).
    expect(() => process.kill(-nginx.pid, 0)).toThrow(/ESRCH/);
  });

  it('rejects with nginx own message when the configuration is invalid, leaving nothing behind', async () => {
    const broken = tiny.replace('return 200', 'retrun 200');
    await expect(startNginx({ confTemplate: broken, vars: { GREETING: 'x' } })).rejects.toThrow(
      /unknown directive "retrun"/,
    );
  });

  it('rejects when the port is taken, naming the bind error', async () => {
    const first = await startNginx({ confTemplate: tiny, vars: { GREETING: 'first' } });
    try {
      await expect(
        startNginx({ confTemplate: tiny, vars: { GREETING: 'second', HTTPS_PORT: first.httpsPort } }),
      ).rejects.toThrow(/Address already in use/);
      expect(await get(first.httpsPort)).toBe('first');
    } finally {
      await first.stop();
    }
  });

  it('refuses files outside the prefix', async () => {
    await expect(
      startNginx({ confTemplate: tiny, vars: { GREETING: 'x' }, files: { '../escape.pem': 'x' } }),
    ).rejects.toThrow(/escapes the prefix/);
  });
});
