import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Plain integers the hot path increments; prom-client reads them only when /metrics is scraped. */
export interface HotCounts {
  auth: { '202': number; '401': number; '403': number };
  cache: { hit: number; miss: number; invalid: number; conflict: number };
}

export class ForwardAuthMetrics {
  readonly registry = new Registry();
  readonly hot: HotCounts = {
    auth: { '202': 0, '401': 0, '403': 0 },
    cache: { hit: 0, miss: 0, invalid: 0, conflict: 0 },
  };
  readonly requests: Counter<'endpoint' | 'code'>;
  readonly authAnswers: Counter<'code'>;
  readonly refreshes: Counter<'outcome'>;
  readonly sessionCache: Counter<'result'>;
  readonly issuerLatency: Histogram<'operation'>;

  constructor(defaultMetrics = false) {
    const hot = this.hot;
    this.requests = new Counter({
      name: 'gatehouse_forward_auth_requests_total',
      help: 'Requests answered by the login endpoints, by endpoint and status code',
      labelNames: ['endpoint', 'code'],
      registers: [this.registry],
    });
    this.authAnswers = new Counter({
      name: 'gatehouse_forward_auth_checks_total',
      help: '/oauth2/auth answers, by status code (202 allowed, 401 no session, 403 policy)',
      labelNames: ['code'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(hot.auth)) this.inc({ code }, n);
      },
    });
    this.sessionCache = new Counter({
      name: 'gatehouse_forward_auth_session_cache_total',
      help: 'Session cookie lookups, by result (hit: cached, miss: decrypted, invalid: rejected, conflict: session cookies of different users in one request, refused)',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [result, n] of Object.entries(hot.cache)) this.inc({ result }, n);
      },
    });
    this.refreshes = new Counter({
      name: 'gatehouse_forward_auth_session_refreshes_total',
      help: 'Session refreshes at the issuer, by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.issuerLatency = new Histogram({
      name: 'gatehouse_forward_auth_issuer_request_seconds',
      help: 'Time spent in issuer calls (code, refresh)',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Gauges of the revocation list (its size against revocation_max_entries) and of the Redis mirror. */
  watchRevocations(list: { readonly size: number }, shared: { readonly synced: boolean } | undefined): void {
    new Gauge({
      name: 'gatehouse_forward_auth_revocations',
      help: 'Live sign-out revocations this replica holds (folds into a watermark at revocation_max_entries)',
      registers: [this.registry],
      collect() {
        this.set(list.size);
      },
    });
    if (shared === undefined) return;
    new Gauge({
      name: 'gatehouse_forward_auth_revocations_synced',
      help: '1 once the revocations were loaded from Redis (session_store_type = "redis"); /ready is 503 before',
      registers: [this.registry],
      collect() {
        this.set(shared.synced ? 1 : 0);
      },
    });
  }
}
