// Every log line of a run that used Secret keys, an API key, a session token
// and cookies, including error paths, must be free of those values.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute, secret } from '../support/manifests.ts';

const KEYS = {
  accessKeyId: 'ASIALOGTESTKEY0001',
  secretAccessKey: 'logtest/Secret+Access/Key0001',
  sessionToken: 'logtest-session-token-value-0001',
};
const API_KEY = 'logtest-api-key-value-0001';
const COOKIE = 'session=logtest-cookie-value-0001';
const CLIENT_AUTH = 'Bearer logtest-client-bearer-0001';
const SECRETS = [
  KEYS.accessKeyId,
  KEYS.secretAccessKey,
  KEYS.sessionToken,
  API_KEY,
  'logtest-cookie-value-0001',
  'logtest-client-bearer-0001',
];

let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    sts: { roleArns: [] }, // every AssumeRole is denied: an error path that logs
    endpoints: [
      {
        kind: 'execute-api',
        path: '/iam',
        auth: 'iam',
        handler: () => ({ status: 200, headers: { 'set-cookie': COOKIE }, body: 'ok' }),
      },
      {
        kind: 'execute-api',
        path: '/keyed',
        auth: 'apiKey',
        apiKey: API_KEY,
        handler: () => ({ status: 200, body: 'ok' }),
      },
    ],
    functions: { fn: { handler: () => ({ statusCode: 200, cookies: [COOKIE], body: 'ok' }) } },
  });
  process.env['AWS_ENDPOINT_URL_STS'] = emulator.url;
  gw = await startTestGateway({
    'secrets.yaml': documents(credentialsSecret('keys', KEYS), secret('api-key', { apiKey: API_KEY })),
    'routes.yaml': documents(
      lambdaRoute(
        'iam',
        `match: {path: /iam}
target: {url: "${emulator.url}/iam"}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}`,
      ),
      lambdaRoute(
        'keyed',
        `match: {path: /keyed}
target: {url: "${emulator.url}/keyed"}
auth: {apiKey: {secretRef: {name: api-key, key: apiKey}}}`,
      ),
      lambdaRoute(
        'fn',
        `match: {path: /fn}
target: {function: {name: fn, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
      lambdaRoute(
        'role',
        `match: {path: /role}
target: {function: {name: fn, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}, roleArn: "arn:aws:iam::123456789012:role/denied"}}`,
      ),
      lambdaRoute(
        'down',
        `match: {path: /down}
target: {url: "http://127.0.0.1:1/"}
auth: {apiKey: {secretRef: {name: api-key, key: apiKey}}}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  delete process.env['AWS_ENDPOINT_URL_STS'];
});

it('never writes a secret value, token, API key, cookie or Authorization header to the logs', async () => {
  const headers: [string, string][] = [
    ['cookie', COOKIE],
    ['authorization', CLIENT_AUTH],
    ['x-api-key', API_KEY],
  ];
  for (const path of ['/iam', '/keyed', '/fn', '/role', '/down', '/missing']) {
    const response = await send(gw.url, { method: 'POST', path: `${path}?q=1`, headers, body: 'payload' });
    expect(response.status, `${path}: ${response.text}`).toBe(
      { '/iam': 200, '/keyed': 200, '/fn': 200, '/role': 503, '/down': 502, '/missing': 404 }[path],
    );
  }
  // A library error that quotes a credential (as a stack trace might) is scrubbed too.
  gw.gateway.pipeline.log.error(
    { err: new Error(`request signed with ${KEYS.secretAccessKey} failed`) },
    `token ${KEYS.sessionToken}`,
  );
  // A file edit that breaks a Secret document logs the error without its value.
  gw.write(
    'broken.yaml',
    `apiVersion: v1\nkind: Secret\nmetadata: {name: broken}\ndata: {apiKey: "${API_KEY}!"}\n`,
  );
  await gw.nextVersion();

  const debug = await (await fetch(`${gw.adminUrl}/debug/routes`)).text();
  const output = `${gw.logs.join('\n')}\n${debug}`;
  expect(gw.logs.filter((l) => l.includes('"msg":"request"')).length).toBe(6);
  expect(output).toContain('<redacted>');
  for (const secret of SECRETS) expect(output, secret).not.toContain(secret);
});
