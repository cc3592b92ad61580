/** Errors as the issuer answers and logs them. */

/** An error the issuer answers with a readable HTML page. */
export class PageError extends Error {
  readonly status: number;
  readonly title: string;
  readonly userMessage: string;
  readonly retryHref: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    status: number,
    title: string,
    userMessage: string,
    options: { retryHref?: string; retryAfterSeconds?: number } = {},
  ) {
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

/** What is logged of an error: its kind and message, and the stack (code locations, no data). */
export function errorSummary(err: unknown): { name: string; message: string; stack?: string } {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err).slice(0, 200) };
  // Bounded: some messages quote input (JSON.parse shows a snippet).
  return {
    name: err.name,
    message: err.message.slice(0, 200),
    ...(err.stack ? { stack: err.stack.split('\n').slice(1, 6).join('\n') } : {}),
  };
}
