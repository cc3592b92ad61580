import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ForwardAuthMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'endpoint' | 'code'>;
  readonly refreshes: Counter<'outcome'>;
  readonly sessionCache: Counter<'result'>;
  readonly issuerLatency: Histogram<'operation'>;

  constructor(defaultMetrics = false) {
    this.requests = new Counter({
      name: 'gatehouse_forward_auth_requests_total',
      help: 'Requests answered, by endpoint and status code',
      labelNames: ['endpoint', 'code'],
      registers: [this.registry],
    });
    this.refreshes = new Counter({
      name: 'gatehouse_forward_auth_session_refreshes_total',
      help: 'Session refreshes at the issuer, by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.sessionCache = new Counter({
      name: 'gatehouse_forward_auth_session_cache_total',
      help: 'Session cookie lookups, by cache result (hit, miss, invalid)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.issuerLatency = new Histogram({
      name: 'gatehouse_forward_auth_issuer_request_seconds',
      help: 'Time spent in issuer calls (discovery, code, refresh)',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
