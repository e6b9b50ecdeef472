// Writes crds/lambdaroute.yaml from src/api/schema.ts. `npm run generate`.
import { writeFileSync } from 'node:fs';
import { crdYaml } from '../src/api/crd.ts';

const target = new URL('../crds/lambdaroute.yaml', import.meta.url);
writeFileSync(target, crdYaml());
console.log(`wrote ${target.pathname}`);
