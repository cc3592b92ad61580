// Hostile and legitimate `rd` values for the redirect validator. Whitelist used by the table:
//   app.example.com, .apps.example.com (any subdomain), ports.example.com:8443, any.example.com:*
// `expect` is either 'reject' (falls back to "/") or 'accept' (the redirect is used as given).

export const WHITELIST = ['app.example.com', '.apps.example.com', 'ports.example.com:8443', 'any.example.com:*'];

export interface RedirectCase {
  readonly rd: string;
  readonly expect: 'accept' | 'reject';
  readonly why: string;
}

export const HOSTILE: readonly RedirectCase[] = [
  // protocol-relative and backslash forms
  { rd: '//evil.com', expect: 'reject', why: 'protocol-relative' },
  { rd: '//evil.com/path', expect: 'reject', why: 'protocol-relative with path' },
  { rd: '///evil.com', expect: 'reject', why: 'triple slash' },
  { rd: '////evil.com', expect: 'reject', why: 'quadruple slash' },
  { rd: '/\\evil.com', expect: 'reject', why: 'slash-backslash (CVE-2020-5233)' },
  { rd: '\\/evil.com', expect: 'reject', why: 'backslash-slash' },
  { rd: '\\\\evil.com', expect: 'reject', why: 'double backslash' },
  { rd: '/\\/evil.com', expect: 'reject', why: 'slash backslash slash' },
  { rd: '/foo\\..\\..\\//evil.com', expect: 'reject', why: 'backslash traversal' },
  // whitespace and control characters between slashes (CVE-2020-11053, CVE-2020-4037)
  { rd: '/\t/evil.com', expect: 'reject', why: 'raw tab between slashes' },
  { rd: '/ /evil.com', expect: 'reject', why: 'raw space between slashes' },
  { rd: '/\n/evil.com', expect: 'reject', why: 'raw newline' },
  { rd: '/\r\n/evil.com', expect: 'reject', why: 'CRLF' },
  { rd: '/%09/evil.com', expect: 'reject', why: 'encoded tab between slashes' },
  { rd: '/%0a/evil.com', expect: 'reject', why: 'encoded newline between slashes' },
  { rd: '/%0d%0a/evil.com', expect: 'reject', why: 'encoded CRLF' },
  { rd: '/%20/evil.com', expect: 'reject', why: 'encoded space between slashes' },
  { rd: '/%09%09/evil.com', expect: 'reject', why: 'several encoded tabs' },
  { rd: '/%0b/evil.com', expect: 'reject', why: 'encoded vertical tab' },
  { rd: '/%00/evil.com', expect: 'reject', why: 'encoded NUL' },
  { rd: '/\u00a0/evil.com', expect: 'reject', why: 'non-breaking space' },
  { rd: '/\u3000/evil.com', expect: 'reject', why: 'ideographic space' },
  // percent-encoded slashes and backslashes, single and double encoding
  { rd: '/%2fevil.com', expect: 'reject', why: 'encoded second slash' },
  { rd: '/%2Fevil.com', expect: 'reject', why: 'encoded second slash, upper case' },
  { rd: '%2f%2fevil.com', expect: 'reject', why: 'fully encoded protocol-relative' },
  { rd: '/%5cevil.com', expect: 'reject', why: 'encoded backslash' },
  { rd: '/%5Cevil.com', expect: 'reject', why: 'encoded backslash, upper case' },
  { rd: '/%252fevil.com', expect: 'reject', why: 'double-encoded slash' },
  { rd: '/%255cevil.com', expect: 'reject', why: 'double-encoded backslash' },
  { rd: '/%25252fevil.com', expect: 'reject', why: 'triple-encoded slash' },
  { rd: '/%2509/evil.com', expect: 'reject', why: 'double-encoded tab' },
  { rd: '/%zz', expect: 'reject', why: 'malformed percent-encoding' },
  { rd: '/%', expect: 'reject', why: 'truncated percent-encoding' },
  // dot segments
  { rd: '/./evil.com', expect: 'reject', why: 'dot segment then host-like path' },
  { rd: '/../evil.com', expect: 'reject', why: 'parent segment' },
  { rd: '/.//evil.com', expect: 'reject', why: 'dot then double slash' },
  { rd: '/..//evil.com', expect: 'reject', why: 'parent then double slash' },
  { rd: '/%2e/evil.com', expect: 'reject', why: 'encoded dot segment' },
  { rd: '/%2e%2e/evil.com', expect: 'reject', why: 'encoded parent segment' },
  { rd: '/foo/..', expect: 'reject', why: 'trailing parent segment' },
  { rd: '/foo/%2e%2e%2f%2fevil.com', expect: 'reject', why: 'encoded traversal to double slash' },
  // schemes other than http(s)
  { rd: 'javascript:alert(1)', expect: 'reject', why: 'javascript scheme' },
  { rd: 'JaVaScRiPt:alert(1)', expect: 'reject', why: 'javascript scheme, mixed case' },
  { rd: 'data:text/html,<script>alert(1)</script>', expect: 'reject', why: 'data URL' },
  { rd: 'vbscript:msgbox(1)', expect: 'reject', why: 'vbscript scheme' },
  { rd: 'ftp://app.example.com/', expect: 'reject', why: 'ftp to a whitelisted host' },
  { rd: 'file:///etc/passwd', expect: 'reject', why: 'file scheme' },
  { rd: 'https:evil.com', expect: 'reject', why: 'scheme without slashes' },
  { rd: 'https:/evil.com', expect: 'reject', why: 'scheme with one slash' },
  { rd: 'https:\\\\evil.com', expect: 'reject', why: 'scheme with backslashes' },
  { rd: 'http:/\\evil.com', expect: 'reject', why: 'slash backslash after scheme' },
  { rd: ' https://app.example.com/', expect: 'reject', why: 'leading space' },
  { rd: '\thttps://app.example.com/', expect: 'reject', why: 'leading tab' },
  { rd: 'evil.com', expect: 'reject', why: 'bare host' },
  { rd: 'app.example.com/path', expect: 'reject', why: 'bare whitelisted host' },
  { rd: '', expect: 'reject', why: 'empty' },
  // hosts that are not whitelisted
  { rd: 'https://evil.com/', expect: 'reject', why: 'foreign host' },
  { rd: 'https://app.example.com.evil.com/', expect: 'reject', why: 'whitelisted host as a prefix' },
  { rd: 'https://evilapp.example.com/', expect: 'reject', why: 'suffix without a label boundary' },
  { rd: 'https://xapps.example.com/', expect: 'reject', why: 'subdomain rule without a label boundary' },
  { rd: 'https://sub.app.example.com/', expect: 'reject', why: 'subdomain of an exact entry' },
  { rd: 'https://example.com/', expect: 'reject', why: 'parent of a whitelisted host' },
  { rd: 'https://evil.com#.app.example.com', expect: 'reject', why: 'fragment trick' },
  { rd: 'https://evil.com?.app.example.com', expect: 'reject', why: 'query trick' },
  { rd: 'https://evil.com\\.app.example.com', expect: 'reject', why: 'backslash in authority' },
  { rd: 'https://evil.com%2f.app.example.com', expect: 'reject', why: 'encoded slash in authority' },
  { rd: 'https://evil.com%23.app.example.com', expect: 'reject', why: 'encoded hash in authority' },
  { rd: 'https://app.example.com%2eevil.com/', expect: 'reject', why: 'encoded dot in authority' },
  { rd: 'https://app%2Eexample.com/', expect: 'reject', why: 'encoded dot in a whitelisted host' },
  // userinfo tricks
  { rd: 'https://app.example.com@evil.com/', expect: 'reject', why: 'whitelisted host as userinfo' },
  { rd: 'https://app.example.com:443@evil.com/', expect: 'reject', why: 'host:port as userinfo' },
  { rd: 'https://user:pass@app.example.com/', expect: 'reject', why: 'credentials even for a whitelisted host' },
  { rd: 'https://app.example.com%40evil.com/', expect: 'reject', why: 'encoded @' },
  { rd: 'https://app.example.com\\@evil.com/', expect: 'reject', why: 'backslash before @' },
  { rd: 'https://evil.com\\@app.example.com/', expect: 'reject', why: 'backslash userinfo, whitelisted after @' },
  { rd: 'https://app.example.com%5c@evil.com/', expect: 'reject', why: 'encoded backslash before @' },
  // ports
  { rd: 'https://app.example.com:8443/', expect: 'reject', why: 'port not allowed for an entry without port' },
  { rd: 'https://ports.example.com/', expect: 'reject', why: 'default port when only 8443 is allowed' },
  { rd: 'https://ports.example.com:9443/', expect: 'reject', why: 'other port' },
  { rd: 'https://app.example.com:99999/', expect: 'reject', why: 'invalid port' },
  // IP literals and odd host spellings
  { rd: 'https://127.0.0.1/', expect: 'reject', why: 'loopback IP' },
  { rd: 'https://0x7f.1/', expect: 'reject', why: 'hex IPv4' },
  { rd: 'https://2130706433/', expect: 'reject', why: 'decimal IPv4' },
  { rd: 'https://[::1]/', expect: 'reject', why: 'IPv6 loopback' },
  { rd: 'https://xn--pple-43d.com/', expect: 'reject', why: 'punycode look-alike' },
  { rd: 'https://аpp.example.com/', expect: 'reject', why: 'Cyrillic look-alike (raw Unicode)' },
  { rd: 'https://app.example.com\u3002evil.com/', expect: 'reject', why: 'ideographic full stop' },
  { rd: 'https://app.example.com\u2044evil.com/', expect: 'reject', why: 'fraction slash' },
  { rd: 'https://app.example.com\uff0fevil.com/', expect: 'reject', why: 'fullwidth solidus' },
  // protocol-relative to a whitelisted host is still refused (only http(s) absolute or a path)
  { rd: '//app.example.com/', expect: 'reject', why: 'protocol-relative to a whitelisted host' },
  { rd: '/\\app.example.com/', expect: 'reject', why: 'slash-backslash to a whitelisted host' },
  // header injection and length
  { rd: '/ok\r\nSet-Cookie: x=y', expect: 'reject', why: 'header injection' },
  { rd: '/ok%0d%0aSet-Cookie:%20x=y', expect: 'reject', why: 'encoded header injection' },
  { rd: `/${'a'.repeat(5000)}`, expect: 'reject', why: 'too long' },
];

export const LEGITIMATE: readonly RedirectCase[] = [
  { rd: '/', expect: 'accept', why: 'root' },
  { rd: '/gemini-rl', expect: 'accept', why: 'simple path' },
  { rd: '/a/b/c?x=1&y=2', expect: 'accept', why: 'path and query' },
  { rd: '/search?q=https://x.example.org/', expect: 'accept', why: 'URL inside the query (oauth2-proxy #3404)' },
  { rd: '/files/my%20file.txt', expect: 'accept', why: 'encoded space inside a segment' },
  { rd: '/@user/profile', expect: 'accept', why: '@ in a path is harmless' },
  { rd: '/path#section', expect: 'accept', why: 'fragment' },
  { rd: '/.well-known/thing', expect: 'accept', why: 'dot-prefixed segment' },
  { rd: 'https://app.example.com/', expect: 'accept', why: 'exact whitelisted host' },
  { rd: 'https://APP.example.com/x', expect: 'accept', why: 'host is case-insensitive' },
  { rd: 'HTTPS://app.example.com/x', expect: 'accept', why: 'scheme is case-insensitive' },
  { rd: 'http://app.example.com/x?y=1', expect: 'accept', why: 'http to a whitelisted host' },
  { rd: 'https://app.example.com:443/', expect: 'accept', why: 'explicit default port' },
  { rd: 'https://apps.example.com/', expect: 'accept', why: 'apex of a subdomain rule' },
  { rd: 'https://a.apps.example.com/', expect: 'accept', why: 'subdomain' },
  { rd: 'https://a.b.apps.example.com/p', expect: 'accept', why: 'nested subdomain' },
  { rd: 'https://ports.example.com:8443/', expect: 'accept', why: 'allowed port' },
  { rd: 'https://any.example.com:1234/', expect: 'accept', why: 'any port' },
  { rd: 'https://any.example.com/', expect: 'accept', why: 'any port includes the default' },
];
