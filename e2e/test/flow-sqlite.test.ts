// The reference flow on the SQLite store, with the Microsoft (fake Entra ID) and LDAP (real slapd) connectors,
// and forward-auth refreshing sessions older than 2 s (cookie_refresh) during the auth check.
import { defineFlowSuite } from '../src/flow-suite.ts';

defineFlowSuite({
  name: 'sqlite',
  ldap: true,
  cookieRefreshMs: 2_000,
  stack: async () => ({ storage: { kind: 'sqlite' }, withLdap: true, cookieRefresh: '2s' }),
});
