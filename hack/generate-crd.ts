// Writes the LambdaRoute CRD from src/api/schema.ts, for kubectl (crds/) and for
// the Helm chart (charts/lambda-ingress/crds/). `npm run generate`.
import { writeFileSync } from 'node:fs';
import { crdYaml } from '../src/api/crd.ts';

/** Every checked-in copy of the CRD, relative to the repository root; a test fails when one differs. */
export const CRD_FILES = ['crds/lambdaroute.yaml', 'charts/lambda-ingress/crds/lambdaroute.yaml'];

if (import.meta.main) {
  for (const file of CRD_FILES) {
    const target = new URL(`../${file}`, import.meta.url);
    writeFileSync(target, crdYaml());
    console.log(`wrote ${target.pathname}`);
  }
}
