// Builds the CustomResourceDefinition from the one schema (src/api/schema.ts).
import { stringify } from 'yaml';
import { lambdaRouteSchema } from './schema.ts';
import { GROUP, KIND, PLURAL, VERSION } from './types.ts';

/**
 * The schema as a CRD accepts it. The only difference from what ajv uses:
 * CRD schemas may not combine `properties` with `additionalProperties`, so the
 * `additionalProperties: false` that makes ajv reject unknown fields is left
 * out; the API server prunes unknown fields and kubectl's strict field
 * validation rejects them.
 */
function toCrdSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toCrdSchema);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'additionalProperties' && value === false))
      .map(([key, value]) => [key, toCrdSchema(value)]),
  );
}

function buildCrd() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'lambdaroute',
        shortNames: ['lr'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          // The API server prints the first match of a JSON path: the Reason column is the first
          // False condition's reason (Accepted, then ResolvedRefs, then Ready), empty while all hold.
          // Priority 1 columns show with -o wide.
          additionalPrinterColumns: [
            { name: 'Path', type: 'string', jsonPath: '.spec.match.path' },
            { name: 'Path Type', type: 'string', jsonPath: '.spec.match.pathType' },
            { name: 'URL', type: 'string', jsonPath: '.spec.target.url' },
            { name: 'Function', type: 'string', jsonPath: '.spec.target.function.name' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.status=="False")].reason' },
            { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', priority: 1 },
            {
              name: 'Invocation',
              type: 'string',
              jsonPath: '.spec.target.function.invocationType',
              priority: 1,
            },
            {
              name: 'Invoke Mode',
              type: 'string',
              jsonPath: '.spec.target.function.invokeMode',
              priority: 1,
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: toCrdSchema(lambdaRouteSchema) },
        },
      ],
    },
  };
}

/** The exact text of crds/lambdaroute.yaml; a test fails when the checked-in file differs. */
export function crdYaml(): string {
  return `# Generated from src/api/schema.ts by \`npm run generate\`. Do not edit.\n${stringify(buildCrd(), { lineWidth: 0 })}`;
}
