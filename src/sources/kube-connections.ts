// One keep-alive connection pool per KubeConfig for every API request.
// client-node builds a new undici Agent for each request it authenticates, so
// each status write, Lease renewal, Event or Secret GET would otherwise open
// (and set up TLS for) a connection of its own: 10,000 status writes meant
// 10,000 handshakes and a fragmented heap. The Agent it builds first is kept
// and the later ones are swapped for it; credentials that change per request
// (tokens) travel in headers, which are still applied per request.
import type { KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

const shared = new WeakMap<KubeConfig, Dispatcher>();

/** Makes an authenticated request context use the KubeConfig's shared connections. */
export function shareConnections(kubeConfig: KubeConfig, context: RequestContext): void {
  const created = context.getDispatcher() as Dispatcher | undefined;
  if (!created) return;
  const agent = shared.get(kubeConfig);
  if (!agent) {
    shared.set(kubeConfig, created);
  } else if (created !== agent) {
    void created.close().catch(() => {});
    context.setDispatcher(agent);
  }
}

/** Applies the KubeConfig's credentials to a request, over the shared connections. */
export async function authenticate(kubeConfig: KubeConfig, context: RequestContext): Promise<void> {
  await kubeConfig.applySecurityAuthentication(context);
  shareConnections(kubeConfig, context);
}
