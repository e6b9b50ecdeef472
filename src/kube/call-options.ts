// Per-call options for client-node 2.x typed clients: a timeout (the clients have
// none: a request to a hung apiserver would wait forever) and an explicit
// Content-Type (PATCH methods otherwise pick application/json-patch+json, the
// first type of their list, whatever the body is).
import {
  type ConfigurationOptions,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  setHeaderOptions,
} from '@kubernetes/client-node';

import { shareConnections } from './connections.ts';

export const MERGE_PATCH = 'application/merge-patch+json';

export interface CallOptions {
  /** Requests go over this KubeConfig's shared connections. */
  kubeConfig: KubeConfig;
  timeoutMs: number;
  /** Aborts the request early (e.g. on shutdown). */
  signal?: AbortSignal;
  contentType?: string;
}

export function callOptions({
  kubeConfig,
  timeoutMs,
  signal,
  contentType,
}: CallOptions): ConfigurationOptions {
  const abort: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      context.setSignal(signal ? AbortSignal.any([signal, timeout]) : timeout);
      return new Observable(shareConnections(kubeConfig, context).then(() => context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  const options: ConfigurationOptions = { middleware: [abort], middlewareMergeStrategy: 'append' };
  return contentType ? setHeaderOptions('Content-Type', contentType, options) : options;
}
