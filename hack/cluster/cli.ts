// The command line of hack/cluster.ts (npm run cluster:up|down|status).
import { stderrLog } from './directory.ts';
import { serviceAccountKubeconfig } from './kubeconfig.ts';
import { clusterDown, clusterStatus, clusterUp, startApiserver, stopApiserver } from './lifecycle.ts';

export async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  let dir: string | undefined;
  const i = args.indexOf('--dir');
  if (i >= 0) {
    dir = args[i + 1];
    if (!dir) throw new Error('--dir needs a value');
    args.splice(i, 2);
  }
  const [cmd, ...rest] = args;
  const wantArgs = cmd === 'sa-kubeconfig' ? 2 : 0;
  if (rest.length !== wantArgs)
    throw new Error(`unexpected arguments for ${cmd}: ${rest.join(' ') || '(none)'}`);
  const t0 = Date.now();
  const took = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  switch (cmd) {
    case 'up': {
      const info = await clusterUp({ dir }).catch((err: unknown) => {
        stderrLog('whatever did start is still running: `node hack/cluster.ts down` cleans up');
        throw err;
      });
      stderrLog(`up (${took()}): ${info.server}`);
      process.stdout.write(`export KUBECONFIG=${info.kubeconfigPath}\n`);
      break;
    }
    case 'down':
      await clusterDown({ dir });
      stderrLog(`took ${took()}`);
      break;
    case 'status': {
      const st = await clusterStatus({ dir });
      process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
      process.exitCode = st.ready ? 0 : 1;
      break;
    }
    case 'stop-apiserver':
      await stopApiserver({ dir });
      break;
    case 'start-apiserver':
      await startApiserver({ dir });
      stderrLog(`took ${took()}`);
      break;
    case 'sa-kubeconfig': {
      const [namespace, name] = rest;
      if (!namespace || !name) throw new Error('usage: sa-kubeconfig NAMESPACE NAME');
      const r = await serviceAccountKubeconfig({ dir, namespace, name });
      process.stdout.write(`${r.kubeconfigPath}\n`);
      break;
    }
    default:
      process.stderr.write(
        'usage: node hack/cluster.ts up|down|status|stop-apiserver|start-apiserver|sa-kubeconfig NS NAME [--dir DIR]\n',
      );
      process.exitCode = 2;
  }
}
