/** What the issuer counts. Backed by the prom-client metrics of `../telemetry` when present. */
export interface IssuerMetrics {
  /** `gatehouse_logins_total{connector,result}`; result: success | failure | error | throttled. */
  login(connector: string, result: 'success' | 'failure' | 'error' | 'throttled'): void;
  /** `gatehouse_tokens_issued_total{grant_type}`. */
  tokenIssued(grantType: string): void;
}

export const noMetrics: IssuerMetrics = { login() {}, tokenIssued() {} };
