// Pure status logic: desired status, change detection, new failures.
import { describe, expect, it } from 'vitest';
import { lambdaRouteSchema } from '../../src/api/schema.ts';
import type { Condition } from '../../src/api/types.ts';
import { compile } from '../../src/compile/compile.ts';
import type { MetaCondition, RouteStatus } from '../../src/kube/route-status.ts';
import type { RouteDiagnostic } from '../../src/model/compile-result.ts';
import { parseManifests, snapshotOf } from '../../src/sources/manifests.ts';
import { desiredStatus, metaTime, newFailure, sameStatus } from '../../src/status/conditions.ts';

const T0 = '2025-01-01T00:00:00Z';
const NOW = new Date('2025-06-01T12:34:56.789Z');

function diagnostic(
  ready: boolean,
  reason: Condition['reason'] = ready ? 'Ready' : 'SecretNotFound',
  generation = 3,
): RouteDiagnostic {
  return {
    key: 'ns/r',
    namespace: 'ns',
    name: 'r',
    generation,
    conditions: [
      {
        type: 'Accepted',
        status: 'True',
        reason: 'Accepted',
        message: 'Route is valid',
        observedGeneration: generation,
      },
      {
        type: 'ResolvedRefs',
        status: ready ? 'True' : 'False',
        reason: ready ? 'ResolvedRefs' : reason,
        message: ready ? 'All references resolved' : 'Secret ns/k not found',
        observedGeneration: generation,
      },
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason,
        message: ready ? 'Served by the data plane' : 'Secret ns/k not found',
        observedGeneration: generation,
      },
    ],
  };
}

describe('desiredStatus', () => {
  it('stamps every condition of a route seen for the first time', () => {
    const status = desiredStatus(diagnostic(true), undefined, NOW);
    expect(metaTime(NOW)).toBe('2025-06-01T12:34:56Z');
    expect(status.observedGeneration).toBe(3);
    expect(
      status.conditions.map((c) => [c.type, c.status, c.observedGeneration, c.lastTransitionTime]),
    ).toEqual([
      ['Accepted', 'True', 3, '2025-06-01T12:34:56Z'],
      ['ResolvedRefs', 'True', 3, '2025-06-01T12:34:56Z'],
      ['Ready', 'True', 3, '2025-06-01T12:34:56Z'],
    ]);
  });

  it('keeps lastTransitionTime unless the status flips, and keeps foreign conditions', () => {
    const observed = desiredStatus(diagnostic(true), undefined, new Date(T0));
    const foreign: MetaCondition = {
      type: 'Audited',
      status: 'True',
      reason: 'X',
      message: '',
      lastTransitionTime: T0,
    };
    observed.conditions.push(foreign);
    const next = desiredStatus(diagnostic(false), observed, NOW);
    const byType = Object.fromEntries(next.conditions.map((c) => [c.type, c]));
    expect(byType['Accepted']!.lastTransitionTime).toBe(T0);
    expect(byType['ResolvedRefs']!.lastTransitionTime).toBe('2025-06-01T12:34:56Z');
    expect(byType['Ready']).toMatchObject({
      status: 'False',
      reason: 'SecretNotFound',
      lastTransitionTime: '2025-06-01T12:34:56Z',
    });
    expect(next.conditions.at(-1)).toEqual(foreign);
  });

  it('writes Unknown for the references of a conflicted route, which the CRD allows', () => {
    const route = (name: string, created: string) => `apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: {name: ${name}, namespace: ns, generation: 1, creationTimestamp: '${created}'}
spec: {match: {path: /same}, target: {url: "http://x.internal"}}
`;
    const { diagnostics } = compile(
      snapshotOf(parseManifests(`${route('old', T0)}---\n${route('new', '2025-02-01T00:00:00Z')}`, 'r.yaml')),
      1,
    );
    const status = desiredStatus(diagnostics.find((d) => d.name === 'new')!, undefined, NOW);
    expect(status.conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({
      status: 'Unknown',
      reason: 'Conflicted',
    });
    const allowed = lambdaRouteSchema.properties.status.properties.conditions.items.properties.status.enum;
    expect(allowed).toContain('Unknown');
  });

  it('truncates messages to the CRD limit', () => {
    const d = diagnostic(false);
    d.conditions[2]!.message = 'x'.repeat(40_000);
    const status = desiredStatus(d, undefined, NOW);
    expect(status.conditions[2]!.message.length).toBe(32_768);
  });
});

describe('sameStatus', () => {
  it('ignores condition order but nothing else', () => {
    const a = desiredStatus(diagnostic(true), undefined, NOW);
    const b: RouteStatus = { ...a, conditions: [...a.conditions].reverse() };
    expect(sameStatus(a, b)).toBe(true);
    expect(sameStatus(a, { ...a, observedGeneration: 4 })).toBe(false);
    const c = structuredClone(a);
    c.conditions[1]!.message = 'changed';
    expect(sameStatus(a, c)).toBe(false);
    expect(sameStatus(undefined, a)).toBe(false);
  });
});

describe('newFailure', () => {
  const ok = desiredStatus(diagnostic(true), undefined, NOW);
  const missing = desiredStatus(diagnostic(false), undefined, NOW);
  const badKey = desiredStatus(diagnostic(false, 'KeyNotFound'), undefined, NOW);

  it('reports Ready turning False, or failing for another reason', () => {
    expect(newFailure(undefined, missing)).toEqual({
      reason: 'SecretNotFound',
      message: 'Secret ns/k not found',
    });
    expect(newFailure(ok, missing)?.reason).toBe('SecretNotFound');
    expect(newFailure(missing, badKey)?.reason).toBe('KeyNotFound');
  });

  it('stays quiet for the same failure, and for recoveries', () => {
    expect(
      newFailure(missing, desiredStatus(diagnostic(false, 'SecretNotFound', 4), missing, NOW)),
    ).toBeUndefined();
    expect(newFailure(missing, ok)).toBeUndefined();
    expect(newFailure(undefined, ok)).toBeUndefined();
  });
});
