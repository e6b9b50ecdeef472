// Synthetic LambdaRoutes for benchmarks: n routes over n/10 hosts, a third
// Exact, a third Prefix, a third Prefix on wildcard hosts, all SigV4-signed.

import type { Snapshot } from '../src/api/snapshot.ts';
import type { LambdaRouteObject, SecretObject } from '../src/api/types.ts';

const hostCount = (n: number) => Math.max(1, Math.floor(n / 10));

export function syntheticRoute(i: number, n: number): LambdaRouteObject {
  const kind = i % 3;
  const h = i % hostCount(n);
  return {
    apiVersion: 'lambda-ingress.io/v1alpha1',
    kind: 'LambdaRoute',
    metadata: {
      name: `route-${i}`,
      namespace: `team-${i % 50}`,
      creationTimestamp: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    },
    spec: {
      hosts: [kind === 2 ? `*.svc${h}.example.com` : `api${h}.example.com`],
      match: { path: `/v${i % 7}/service-${i}/items`, pathType: kind === 0 ? 'Exact' : 'Prefix' },
      target: { url: `https://abc${i % 100}.execute-api.us-east-1.amazonaws.com/prod/s${i}` },
      auth: { iam: { secretRef: { name: 'aws' } } },
    },
  };
}

export function syntheticSnapshot(n: number): Snapshot {
  const routes = Array.from({ length: n }, (_, i) => syntheticRoute(i, n));
  const secrets = new Map<string, SecretObject>();
  for (let t = 0; t < Math.min(50, n); t++) {
    const namespace = `team-${t}`;
    secrets.set(`${namespace}/aws`, {
      metadata: { name: 'aws', namespace },
      data: { accessKeyId: Buffer.from('AKIDEXAMPLE'), secretAccessKey: Buffer.from('secret') },
    });
  }
  return { routes, secrets, errors: [] };
}

/** 1,000 requests spread over `distinct` of the n routes (exact, deep prefix and wildcard hits), 1 in 10 a miss. */
export function syntheticRequests(
  n: number,
  distinct: number,
): [host: string, method: string, path: string][] {
  const out: [string, string, string][] = [];
  for (let k = 0; k < 1000; k++) {
    const i = (k * 7919) % Math.min(distinct, n);
    const h = i % hostCount(n);
    const kind = i % 3;
    const host = kind === 2 ? `eu.svc${h}.example.com` : `api${h}.example.com`;
    const path = `/v${i % 7}/service-${i}/items${kind === 0 ? '' : '/42/detail'}`;
    out.push(k % 10 === 9 ? [host, 'GET', '/missing/path'] : [host, 'GET', path]);
  }
  return out;
}
