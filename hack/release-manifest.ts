// `npm run release:manifest [-- <file>]`: writes dist/install.yaml (or <file>),
// one file for `kubectl apply -f`: the LambdaRoute CRD, then the kustomize
// base deploy/ as `kubectl kustomize` renders it.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { crdYaml } from '../src/api/crd.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const INSTALL_MANIFEST = path.join(REPO_ROOT, 'dist', 'install.yaml');

export async function installManifest(): Promise<string> {
  const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const deploy = path.join(REPO_ROOT, 'deploy');
  const { stdout: base } = await promisify(execFile)('kubectl', ['kustomize', deploy], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: NodeJS.ErrnoException & { stderr?: string }) => {
    const why = error.code === 'ENOENT' ? 'kubectl is not on PATH' : error.stderr?.trim() || error.message;
    throw new Error(`kubectl kustomize ${path.relative(REPO_ROOT, deploy)} failed: ${why}`);
  });
  return [
    `# lambda-ingress ${version}: the LambdaRoute CRD and the controller (namespace lambda-ingress).`,
    '#   kubectl apply -f install.yaml',
    '# Written by `npm run release:manifest` from crds/ and deploy/.',
    crdYaml().trimEnd(),
    '---',
    base,
  ].join('\n');
}

if (import.meta.main) {
  const target = path.resolve(process.argv[2] ?? INSTALL_MANIFEST);
  installManifest().then(
    (text) => {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
      console.log(`wrote ${target}`);
    },
    (error: Error) => {
      console.error(`release-manifest: ${error.message}`);
      process.exit(1);
    },
  );
}
