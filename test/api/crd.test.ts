import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdYaml } from '../../src/api/crd.ts';

const checkedIn = readFileSync(new URL('../../crds/lambdaroute.yaml', import.meta.url), 'utf8');

describe('crds/lambdaroute.yaml', () => {
  it('is what the generator writes from the schema (run `npm run generate` after changing it)', () => {
    expect(checkedIn).toBe(crdYaml());
  });

  it('has the contract names, status subresource and printer columns', () => {
    const crd = parse(checkedIn);
    expect(crd.metadata.name).toBe('lambdaroutes.lambda-ingress.io');
    expect(crd.spec.names).toMatchObject({ kind: 'LambdaRoute', plural: 'lambdaroutes', shortNames: ['lr'] });
    const [version] = crd.spec.versions;
    expect(version.name).toBe('v1alpha1');
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual([
      'Path',
      'URL',
      'Function',
      'Invoke Mode',
      'Ready',
      'Age',
    ]);
  });

  it('is structural: no additionalProperties next to properties, every property typed', () => {
    const visit = (node: Record<string, unknown>, path: string): void => {
      if (node['properties']) expect(node['additionalProperties'], path).toBeUndefined();
      for (const [name, child] of Object.entries(
        (node['properties'] ?? {}) as Record<string, Record<string, unknown>>,
      )) {
        expect(child['type'], `${path}.${name}`).toBeTypeOf('string');
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
