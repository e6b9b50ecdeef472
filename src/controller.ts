// Controller mode: the Kubernetes source feeding the same pipeline as
// standalone mode, plus the status writer (the leader replica writes
// LambdaRoute status and Events). Every replica serves traffic.
import { Gateway, type GatewayOptions } from './gateway.ts';
import { KubeClient } from './kube/client.ts';
import { loadClusterAccess } from './kube/kubeconfig.ts';
import { KubernetesSource } from './sources/kubernetes.ts';
import { StatusWriter } from './status/writer.ts';
import type { Loggers } from './util/log.ts';

export interface ControllerOptions extends Omit<GatewayOptions, 'sourcesReady'> {
  loggers: Loggers;
  /** Path to a kubeconfig; else $KUBECONFIG, the in-cluster configuration or ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** Namespaces to watch; all when empty. */
  namespaces: readonly string[];
  /** Namespace of the leader Lease (the controller's own). */
  leaseNamespace: string;
}

export async function runController(options: ControllerOptions): Promise<{ stop(): Promise<void> }> {
  const log = options.loggers.app;
  // One client, so one connection pool, for every request the controller makes.
  const client = new KubeClient(await loadClusterAccess({ kubeconfig: options.kubeconfig }));

  let source: KubernetesSource | undefined;
  const gateway = await Gateway.start({ ...options, sourcesReady: () => source?.synced ?? false });
  const { metrics } = gateway;
  source = new KubernetesSource({
    reader: client,
    namespaces: options.namespaces,
    pinnedSecrets: options.defaultCertificate === undefined ? [] : [options.defaultCertificate],
    // Come back quickly after an API server outage; the last good table serves meanwhile.
    backoff: { initialMs: 500, maxMs: 10_000 },
    log,
    onSnapshot: (snapshot) => gateway.pipeline.apply(snapshot),
    observer: {
      listed: () => metrics.lastSync.setToCurrentTime(),
      snapshotEmitted: () => metrics.lastSync.setToCurrentTime(),
      watchRestarted: ({ resource, reason }) => metrics.watchRestarts.inc({ resource, reason }),
      connectionChanged: (connected) => {
        metrics.apiserverConnected.set(connected ? 1 : 0);
        if (connected) log.info('connected to the API server');
        else log.warn('lost the API server: serving the last good routing table until it is back');
      },
    },
  });
  const writer = new StatusWriter({
    client,
    namespace: options.leaseNamespace,
    routes: source,
    log,
    observer: {
      written: () => metrics.statusWrites.inc({ result: 'ok' }),
      failed: (_key, status) =>
        metrics.statusWrites.inc({
          result: status === 409 ? 'conflict' : status === 404 ? 'not_found' : 'error',
        }),
      // The leader election logs the change itself ("became leader", "lost leadership").
      leaderChanged: (leader) => metrics.leader.set(leader ? 1 : 0),
    },
  });
  gateway.pipeline.onDiagnostics(() => writer.update(gateway.pipeline.diagnostics()));
  metrics.apiserverConnected.set(0);
  metrics.leader.set(0);
  writer.start();
  source.start();
  log.info(
    {
      url: gateway.url,
      admin: gateway.adminUrl,
      namespaces: options.namespaces.length > 0 ? options.namespaces : 'all',
    },
    'lambda-ingress controller started',
  );

  return {
    async stop() {
      // Readiness turns 503 and in-flight requests drain first; then the Lease goes, so another replica takes over.
      await gateway.shutdown();
      await writer.stop();
      await source.stop();
    },
  };
}
