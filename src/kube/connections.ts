// One keep-alive HTTP/1.1 connection pool per KubeConfig for every API request.
//
// - client-node builds a new undici Agent for each request it authenticates,
//   so each status write, Lease renewal, Event or Secret GET would otherwise
//   open (and set up TLS for) a connection of its own: 10,000 status writes
//   meant 10,000 handshakes and a fragmented heap.
// - Its Agents let undici negotiate HTTP/2. When the apiserver stops reading
//   (a network that drops packets), Node's HTTP/2 session keeps copying frames
//   into its outgoing buffer until the process dies of std::bad_alloc; we saw
//   it reach 12 GB in a minute. Over HTTP/1.1 a request blocks on its socket
//   and its timeout ends it.
// So the Agent client-node builds is swapped for one built from the same TLS
// options with HTTP/2 off. Credentials that change per request (tokens) travel
// in headers, which client-node still applies per request.
import type { AgentOptions, RequestOptions } from 'node:https';
import type { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';

const agents = new WeakMap<KubeConfig, Promise<Dispatcher | undefined>>();
/** Through a proxy, client-node's first dispatcher is kept for all requests instead. */
const adopted = new WeakMap<KubeConfig, Dispatcher>();

/** The KubeConfig's HTTP/1.1 Agent, or undefined when it connects through a proxy or without TLS. */
function http1Agent(kubeConfig: KubeConfig): Promise<Dispatcher | undefined> {
  let agent = agents.get(kubeConfig);
  if (!agent) {
    agent = (async () => {
      const tls: RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(tls);
      const options = kubeConfig.createDispatcherOptions(kubeConfig.getCurrentCluster(), tls as AgentOptions);
      // client-node's options are node:tls ConnectionOptions, whose optional fields may be undefined.
      const connect = options.type === 'agent' && (options.connect as Agent.Options['connect']);
      return connect ? new Agent({ connect, allowH2: false }) : undefined;
    })();
    // A failure (an unreadable certificate file) is retried by the next request, not remembered.
    agent.catch(() => agents.delete(kubeConfig));
    agents.set(kubeConfig, agent);
  }
  return agent;
}

/** Makes an authenticated request context use the KubeConfig's shared connections. */
export async function shareConnections(kubeConfig: KubeConfig, context: RequestContext): Promise<void> {
  const created = context.getDispatcher() as Dispatcher | undefined;
  if (!created) return;
  const shared = (await http1Agent(kubeConfig)) ?? adopted.get(kubeConfig);
  if (!shared) {
    adopted.set(kubeConfig, created);
  } else if (created !== shared) {
    void created.close().catch(() => {});
    context.setDispatcher(shared);
  }
}

/** Applies the KubeConfig's credentials to a request, over the shared connections. */
export async function authenticate(kubeConfig: KubeConfig, context: RequestContext): Promise<void> {
  await kubeConfig.applySecurityAuthentication(context);
  await shareConnections(kubeConfig, context);
}
