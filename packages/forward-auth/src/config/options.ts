// The oauth2-proxy option names we read, their kinds and flag aliases. One table drives the file, environment
// and flag sources, so a name is spelled in one place.

export type OptionKind = 'string' | 'bool' | 'list' | 'duration' | 'int';

export interface OptionSpec {
  readonly kind: OptionKind;
  /** Extra flag spellings oauth2-proxy uses (singular list flags such as `--email-domain`). */
  readonly flagAliases?: readonly string[];
}

export const OPTIONS = {
  provider: { kind: 'string' },
  oidc_issuer_url: { kind: 'string' },
  client_id: { kind: 'string' },
  client_secret: { kind: 'string' },
  client_secret_file: { kind: 'string' },
  redirect_url: { kind: 'string' },
  proxy_prefix: { kind: 'string' },
  http_address: { kind: 'string' },
  metrics_address: { kind: 'string' },
  scope: { kind: 'string' },
  code_challenge_method: { kind: 'string' },
  cookie_name: { kind: 'string' },
  cookie_secret: { kind: 'string' },
  cookie_secret_file: { kind: 'string' },
  cookie_secrets: { kind: 'list', flagAliases: ['cookie-secrets'] },
  cookie_domains: { kind: 'list', flagAliases: ['cookie-domain'] },
  cookie_path: { kind: 'string' },
  cookie_secure: { kind: 'bool' },
  cookie_httponly: { kind: 'bool' },
  cookie_samesite: { kind: 'string' },
  cookie_expire: { kind: 'duration' },
  cookie_refresh: { kind: 'duration' },
  cookie_csrf_expire: { kind: 'duration' },
  cookie_csrf_per_request: { kind: 'bool' },
  cookie_csrf_per_request_limit: { kind: 'int' },
  set_xauthrequest: { kind: 'bool' },
  pass_access_token: { kind: 'bool' },
  email_domains: { kind: 'list', flagAliases: ['email-domain'] },
  allowed_groups: { kind: 'list', flagAliases: ['allowed-group'] },
  user_id_claim: { kind: 'string' },
  oidc_email_claim: { kind: 'string' },
  oidc_groups_claim: { kind: 'string' },
  oidc_extra_audiences: { kind: 'list', flagAliases: ['oidc-extra-audience'] },
  insecure_oidc_allow_unverified_email: { kind: 'bool' },
  whitelist_domains: { kind: 'list', flagAliases: ['whitelist-domain'] },
  skip_auth_routes: { kind: 'list', flagAliases: ['skip-auth-route'] },
  skip_auth_preflight: { kind: 'bool' },
  api_routes: { kind: 'list', flagAliases: ['api-route'] },
  force_json_errors: { kind: 'bool' },
  skip_jwt_bearer_tokens: { kind: 'bool' },
  extra_jwt_issuers: { kind: 'list', flagAliases: ['extra-jwt-issuer'] },
  reverse_proxy: { kind: 'bool' },
  trusted_proxy_ips: { kind: 'list', flagAliases: ['trusted-proxy-ip'] },
  skip_provider_button: { kind: 'bool' },
  post_logout_redirect_url: { kind: 'string' },
  ping_path: { kind: 'string' },
  ready_path: { kind: 'string' },
  session_cache_size: { kind: 'int' },
  revocation_max_entries: { kind: 'int' },
  session_store_type: { kind: 'string' },
  redis_connection_url: { kind: 'string' },
  log_level: { kind: 'string' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** oauth2-proxy options we recognise but do not implement: accepted with a warning, never silently. */
export const UNSUPPORTED_OPTIONS: readonly string[] = [
  'upstreams', 'htpasswd_file', 'htpasswd_user_groups', 'display_htpasswd_form', 'authenticated_emails_file',
  'redis_password', 'redis_use_sentinel', 'redis_use_cluster',
  'session_cookie_minimal', 'set_authorization_header', 'set_basic_auth', 'basic_auth_password', 'pass_basic_auth',
  'pass_user_headers', 'pass_authorization_header', 'pass_host_header', 'prefer_email_to_user',
  'skip_auth_strip_headers', 'skip_auth_regex', 'trusted_ips', 'real_client_ip_header', 'https_address',
  'tls_cert_file', 'tls_key_file', 'metrics_secure_address', 'custom_templates_dir',
  'custom_sign_in_logo', 'banner', 'footer', 'provider_display_name', 'approval_prompt', 'prompt', 'acr_values',
  'login_url', 'redeem_url', 'profile_url', 'validate_url', 'oidc_jwks_url', 'skip_oidc_discovery',
  'insecure_oidc_skip_nonce', 'insecure_oidc_skip_issuer_verification', 'encode_state', 'backend_logout_url',
  'gcp_healthchecks', 'ping_user_agent', 'silence_ping_logging', 'request_logging', 'auth_logging',
  'standard_logging', 'logging_filename', 'ssl_insecure_skip_verify', 'ssl_upstream_insecure_skip_verify',
  'provider_ca_files', 'use_system_trust_store', 'oidc_audience_claims', 'allowed_roles',
  'force_https', 'signature_key', 'bearer_token_login_fallback', 'cookie_csrf_samesite',
];

export const ENV_PREFIXES = ['GATEHOUSE_FA_', 'OAUTH2_PROXY_'] as const;

export function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}
