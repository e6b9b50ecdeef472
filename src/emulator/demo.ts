// The AWS the demo talks to: the APISIX aws-lambda example's function behind
// an IAM-authorized API Gateway stage, and the same function on the Invoke API;
// and `stream`, which streams what its request asks for (streaming-functions.ts),
// on InvokeWithResponseStream and behind a RESPONSE_STREAM function URL at /stream.

import type { Snapshot } from '../api/snapshot.ts';
import type { LambdaRouteObject } from '../api/types.ts';
import { perObject } from '../util/per-object.ts';
import { type Emulator, startEmulator } from './server.ts';
import { streamOnCommand } from './streaming-functions.ts';

/** Where examples/ expect the demo's emulator (its default port). */
const EXAMPLES_EMULATOR_URL = 'http://127.0.0.1:9092';

/** AWS's documented example key pair; examples/aws-credentials.yaml holds the same. */
export const DEMO_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

const greeting = (name: string | undefined) => JSON.stringify(`Hello, ${name ?? 'World'}!`);

export function startDemoEmulator(options: { host: string; port: number }): Promise<Emulator> {
  return startEmulator({
    host: options.host,
    port: options.port,
    credentials: [DEMO_CREDENTIALS],
    keepRecords: false,
    endpoints: [
      {
        kind: 'execute-api',
        path: '/default/test-apisix',
        auth: 'iam',
        handler: (request) => ({
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: greeting(new URLSearchParams(request.query).get('name') ?? undefined),
        }),
      },
      {
        kind: 'function-url',
        path: '/stream',
        auth: 'iam',
        invokeMode: 'RESPONSE_STREAM',
        functionName: 'stream',
      },
    ],
    functions: {
      // The function from the APISIX aws-lambda docs, for direct invocation.
      hello: {
        handler: (event) => ({
          statusCode: 200,
          body: greeting(
            (event as { queryStringParameters?: Record<string, string> }).queryStringParameters?.['name'],
          ),
        }),
      },
      // Lambda's longest timeout, so that large or slow streams can run to their end.
      stream: { streamingHandler: streamOnCommand, timeoutMs: 900_000 },
    },
  });
}

/**
 * Points examples/ at the emulator the demo started (`demo --emulator-port`):
 * each `target.url` and `target.function.endpoint` under EXAMPLES_EMULATOR_URL
 * is moved to `emulatorUrl`. Unchanged routes keep their objects, so they are
 * not validated again on every reload.
 */
export function pointExamplesAt(emulatorUrl: string): (snapshot: Snapshot) => Snapshot {
  if (emulatorUrl === EXAMPLES_EMULATOR_URL) return (snapshot) => snapshot;
  const moved = (url: unknown) =>
    typeof url === 'string' && (url === EXAMPLES_EMULATOR_URL || url.startsWith(`${EXAMPLES_EMULATOR_URL}/`))
      ? emulatorUrl + url.slice(EXAMPLES_EMULATOR_URL.length)
      : url;
  const retarget = perObject((route: LambdaRouteObject): LambdaRouteObject => {
    const spec = route.spec as { target?: { url?: unknown; function?: { endpoint?: unknown } } } | null;
    const target = spec?.target;
    if (typeof target !== 'object' || target === null) return route;
    const fn = target.function;
    return {
      ...route,
      spec: {
        ...spec,
        target: {
          ...target,
          ...(target.url !== undefined && { url: moved(target.url) }),
          ...(typeof fn === 'object' &&
            fn !== null &&
            fn.endpoint !== undefined && {
              function: { ...fn, endpoint: moved(fn.endpoint) },
            }),
        },
      },
    };
  });
  return (snapshot) => ({ ...snapshot, routes: snapshot.routes.map(retarget) });
}
