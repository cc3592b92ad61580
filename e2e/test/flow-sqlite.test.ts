// The reference flow on the SQLite store, with the Microsoft (fake Entra ID) and LDAP (real slapd) connectors.
import { defineFlowSuite } from '../src/flow-suite.ts';

defineFlowSuite({ name: 'sqlite', ldap: true, stack: async () => ({ storage: { kind: 'sqlite' }, withLdap: true }) });
