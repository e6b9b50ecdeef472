// The one thing the Kubernetes client needs of a cluster configuration, apart
// from how it was read (our kubeconfig reader, or client-node for exec plugins).
import type { Dispatcher } from 'undici';

/** How requests reach the apiserver: its URL, and per request the credentials and connection pool. */
export interface ApiAccess {
  /** Base URL without a trailing slash. */
  readonly server: string;
  /** The context's namespace (the service account's in a cluster), when one is set. */
  readonly namespace: string | undefined;
  /** Headers carrying the credentials, and the dispatcher to send the request with. */
  authorize(
    url: string,
    method: string,
  ): Promise<{ headers: Record<string, string>; dispatcher?: Dispatcher }>;
}
