// A real kube-apiserver + etcd on loopback for tests (no Docker, no kind).
//
// CLI:  node hack/cluster.ts up|down|status|stop-apiserver|start-apiserver [--dir DIR]
//       node hack/cluster.ts sa-kubeconfig NAMESPACE NAME [--dir DIR]
// Library: the functions exported here (clusterUp, clusterDown, stopApiserver, startApiserver,
// serviceAccountKubeconfig, clusterStatus).
//
// Both processes are spawned detached (own session, output appended to log files) so they outlive the
// command that started them; their pids and ports are kept in <dir>/state.json. Binaries come from
// KUBE_APISERVER_BIN / ETCD_BIN when set, else from hack/build-control-plane.sh (cached by version).
//
// The parts, in hack/cluster/: directory.ts (what lives where, state.json, the lock), binaries.ts,
// certificates.ts, processes.ts (detached processes), control-plane.ts (etcd and kube-apiserver flags and
// probes), kubeconfig.ts, lifecycle.ts (up, down, status, apiserver stop/start) and cli.ts.
import { main } from './cluster/cli.ts';

export { type BinaryOptions, ETCD_VERSION, KUBE_VERSION, resolveBinaries } from './cluster/binaries.ts';
export { SERVICE_CLUSTER_IP_RANGE } from './cluster/control-plane.ts';
export { type ClusterInfo, type DirOptions, defaultClusterDir } from './cluster/directory.ts';
export { type ServiceAccountKubeconfigOptions, serviceAccountKubeconfig } from './cluster/kubeconfig.ts';
export {
  type ClusterOptions,
  type ClusterStatus,
  clusterDown,
  clusterStatus,
  clusterUp,
  startApiserver,
  stopApiserver,
} from './cluster/lifecycle.ts';

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
