import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILES } from '../../hack/generate-crd.ts';
import { crdYaml } from '../../src/api/crd.ts';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const checkedIn = read('crds/lambdaroute.yaml');

describe('crds/lambdaroute.yaml', () => {
  it.each(CRD_FILES)(
    '%s is what the generator writes from the schema (run `npm run generate` after changing it)',
    (file) => {
      expect(read(file)).toBe(crdYaml());
    },
  );

  it('is also the Helm chart CRD', () => {
    expect(CRD_FILES).toEqual(['crds/lambdaroute.yaml', 'charts/lambda-ingress/crds/lambdaroute.yaml']);
  });

  it('has the contract names, status subresource and printer columns', () => {
    const crd = parse(checkedIn);
    expect(crd.metadata.name).toBe('lambdaroutes.lambda-ingress.io');
    expect(crd.spec.names).toMatchObject({ kind: 'LambdaRoute', plural: 'lambdaroutes', shortNames: ['lr'] });
    const [version] = crd.spec.versions;
    expect(version.name).toBe('v1alpha1');
    expect(version.subresources).toEqual({ status: {} });
    const columns = (priority: number) =>
      version.additionalPrinterColumns
        .filter((c: { priority?: number }) => (c.priority ?? 0) <= priority)
        .map((c: { name: string }) => c.name);
    expect(columns(0)).toEqual(['Path', 'Path Type', 'URL', 'Function', 'Ready', 'Reason', 'Age']);
    // -o wide
    expect(columns(1)).toEqual([
      'Path',
      'Path Type',
      'URL',
      'Function',
      'Ready',
      'Reason',
      'Hosts',
      'Invocation',
      'Invoke Mode',
      'Age',
    ]);
  });

  it('is structural: no additionalProperties next to properties, every property typed', () => {
    const visit = (node: Record<string, unknown>, path: string): void => {
      if (node['properties']) expect(node['additionalProperties'], path).toBeUndefined();
      for (const [name, child] of Object.entries(
        (node['properties'] ?? {}) as Record<string, Record<string, unknown>>,
      )) {
        // int-or-string (the durations) is the one node the API server allows without a type.
        if (child['x-kubernetes-int-or-string'] === true)
          expect(child['type'], `${path}.${name}`).toBeUndefined();
        else expect(child['type'], `${path}.${name}`).toBeTypeOf('string');
        visit(child, `${path}.${name}`);
      }
      if (node['items']) visit(node['items'] as Record<string, unknown>, `${path}[]`);
    };
    visit(parse(checkedIn).spec.versions[0].schema.openAPIV3Schema, '');
  });

  it('carries the cross-field rules as CEL', () => {
    expect(checkedIn).toContain('has(self.url) != has(self.__function__)');
    expect(checkedIn).toContain('self.match.pathType == "Prefix"');
  });
});
