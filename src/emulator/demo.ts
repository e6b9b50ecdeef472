// The AWS the demo talks to: the APISIX aws-lambda example's function behind
// an IAM-authorized API Gateway stage, and the same function on the Invoke API;
// and `stream`, which streams what its request asks for (streaming-functions.ts),
// on InvokeWithResponseStream and behind a RESPONSE_STREAM function URL at /stream.
import { type Emulator, startEmulator } from './server.ts';
import { streamOnCommand } from './streaming-functions.ts';

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
