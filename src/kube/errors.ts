// API error classification shared by every caller of the apiserver (KubeClient).

/** A failed API request. `status` is the HTTP status, or 0 when no response came (network, timeout). */
export class KubeApiError extends Error {
  readonly status: number;
  /** metav1.Status reason when the server gave one: NotFound, Conflict, Expired, Gone, ... */
  readonly reason: string | undefined;

  constructor(status: number, message: string, reason?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** The HTTP status of a KubeApiError, or 0 when the request never got an answer. */
export function statusOf(error: unknown): number {
  return error instanceof KubeApiError ? error.status : 0;
}

/** Worth retrying: no answer at all, throttling, timeouts and server errors. */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** A short, secret-free description of an error for logs (never the request or response body). */
export function describeError(error: unknown): string {
  if (error instanceof KubeApiError) return error.message;
  if (error instanceof Error) {
    const cause = (error.cause as { code?: string; message?: string } | undefined) ?? undefined;
    const detail = cause?.code ?? cause?.message;
    return detail ? `${error.message} (${detail})` : error.message;
  }
  return String(error);
}
