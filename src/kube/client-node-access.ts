// The fallback for kubeconfigs that kubeconfig.ts does not read itself (exec
// credential plugins, auth-provider, proxy-url): client-node applies the
// credentials, imported only for such a config.
//
// - client-node builds a new undici Agent for each request it authenticates,
//   so each request would otherwise open (and set up TLS for) a connection of
//   its own.
// - Its Agents let undici negotiate HTTP/2, which we refuse (see DirectAccess
//   in kubeconfig.ts).
// So the Agent client-node builds is swapped for one built from the same TLS
// options with HTTP/2 off. Credentials that change per request (tokens) travel
// in headers, which client-node still applies per request.
import type { AgentOptions, RequestOptions } from 'node:https';
import { type HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { Agent as AgentTypes, Dispatcher } from 'undici';
import { Agent } from '../util/undici.ts';
import type { ApiAccess } from './api-access.ts';

/** The access a kubeconfig document (file paths already absolute) gives through client-node. */
export function clientNodeAccess(document: string, namespace: string | undefined): ApiAccess {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(document);
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  let shared: Promise<Dispatcher | undefined> | undefined;
  /** Through a proxy, client-node's first dispatcher is kept for all requests instead. */
  let adopted: Dispatcher | undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    namespace,
    async authorize(url, method) {
      const context = new RequestContext(url, method as HttpMethod);
      await kubeConfig.applySecurityAuthentication(context);
      const created = context.getDispatcher() as Dispatcher | undefined;
      const headers = context.getHeaders();
      if (!created) return { headers };
      if (!shared) {
        shared = http1Agent(kubeConfig);
        // A failure (an unreadable certificate file) is retried by the next request, not remembered.
        shared.catch(() => (shared = undefined));
      }
      const agent = (await shared) ?? adopted;
      if (!agent) {
        adopted = created;
        return { headers, dispatcher: created };
      }
      if (created !== agent) void created.close().catch(() => {});
      return { headers, dispatcher: agent };
    },
  };
}

/** The KubeConfig's HTTP/1.1 Agent, or undefined when it connects through a proxy or without TLS. */
async function http1Agent(kubeConfig: KubeConfig): Promise<Dispatcher | undefined> {
  const tls: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(tls);
  const options = kubeConfig.createDispatcherOptions(kubeConfig.getCurrentCluster(), tls as AgentOptions);
  // client-node's options are node:tls ConnectionOptions, whose optional fields may be undefined.
  const connect = options.type === 'agent' && (options.connect as AgentTypes.Options['connect']);
  return connect ? new Agent({ connect, allowH2: false }) : undefined;
}
