// The objects the control-plane benchmarks create: namespaces bench-0…n-1,
// Secret s-<i> with IAM keys distinct per route (one signer per route, the
// heavier case), and LambdaRoutes that sign with them.
import { GROUP, VERSION } from '../src/api/types.ts';

/** `label` goes into metadata.labels.bench, so that a run can delete what it made. */
export function benchObjects(namespaces: number, upstreamUrl: () => string) {
  const ns = (i: number) => `bench-${i % namespaces}`;
  const labels = (label?: string) => (label ? { labels: { bench: label } } : {});
  const secret = (i: number, label?: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `s-${i}`, namespace: ns(i), ...labels(label) },
    stringData: {
      accessKeyId: `AKIABENCH${String(i).padStart(11, '0')}`,
      secretAccessKey: `bench/secret/access/key/${String(i).padStart(16, '0')}`,
    },
  });
  /** A route in the namespace of route `k`, signing with Secret s-k. */
  const route = (name: string, k: number, routePath: string, label?: string) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'LambdaRoute',
    metadata: { name, namespace: ns(k), ...labels(label) },
    spec: {
      match: { path: routePath },
      target: { url: upstreamUrl() },
      auth: { iam: { secretRef: { name: `s-${k}` }, region: 'us-east-1', service: 'execute-api' } },
    },
  });
  return { ns, secret, route };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in item order. */
export async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
