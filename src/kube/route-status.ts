// The observed status of LambdaRoutes, in the shapes the apiserver uses: what the
// cluster source keeps and the status writer reads and writes.

/** metav1.Condition as stored in LambdaRoute status. */
export interface MetaCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339, seconds precision (metav1.Time). */
  lastTransitionTime: string;
}

export interface RouteStatus {
  observedGeneration?: number;
  conditions?: MetaCondition[];
}

/** A LambdaRoute as the cache saw it last: enough to decide whether its status needs writing. */
export interface ObservedRoute {
  namespace: string;
  name: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  status?: RouteStatus;
}

/**
 * Read access to the routes' observed status (KubernetesSource implements it),
 * so that the writer compares against the cache instead of GETting each route.
 */
export interface RouteStatusView {
  /** By "namespace/name"; undefined when the route is not (or no longer) in the cluster. */
  observedRoute(key: string): ObservedRoute | undefined;
  /** Called with the key whenever a route's observed state changes or it is deleted. Returns an unsubscribe function. */
  onObservedRouteChange(listener: (key: string) => void): () => void;
}
