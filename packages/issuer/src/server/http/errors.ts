/** An error the issuer answers with a readable HTML page. */
export class PageError extends Error {
  readonly status: number;
  readonly title: string;
  readonly userMessage: string;
  readonly retryHref: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, title: string, userMessage: string, options: { retryHref?: string; retryAfterSeconds?: number } = {}) {
    super(userMessage);
    this.name = 'PageError';
    this.status = status;
    this.title = title;
    this.userMessage = userMessage;
    this.retryHref = options.retryHref;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const loginExpired = (): PageError =>
  new PageError(
    400,
    'Login session not found',
    'This login has expired or was started in another browser window. Go back to the application and start again.',
  );
