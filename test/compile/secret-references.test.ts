// What a route says when its Secret cannot be used: data that is not base64
// is InvalidSecret naming the key (not SecretNotFound), and a Secret that
// exists only in another namespace is named with that namespace.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute, secret } from '../support/manifests.ts';

let gw: TestGateway;
const target = 'target: {url: "https://abc.execute-api.us-east-1.amazonaws.com/p"}';

beforeAll(async () => {
  gw = await startTestGateway({
    'secrets.yaml': documents(
      'apiVersion: v1\nkind: Secret\nmetadata: {name: aws, namespace: default}\ndata: {accessKeyId: "not base64!", secretAccessKey: c2VjcmV0}\n',
      secret('creds', { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, 'team-a'),
    ),
    'routes.yaml': documents(
      lambdaRoute('bad-data', `match: {path: /bad-data}\n${target}\nauth: {iam: {secretRef: {name: aws}}}`),
      lambdaRoute(
        'elsewhere',
        `match: {path: /elsewhere}\n${target}\nauth: {iam: {secretRef: {name: creds}}}`,
        'team-b',
      ),
    ),
  });
});
afterAll(() => gw?.close());

it('a key whose data is not valid base64: 503 InvalidSecret naming the key', async () => {
  const res = await send(gw.url, { path: '/bad-data' });
  expect(res.status).toBe(503);
  expect(res.json()).toMatchObject({
    reason: 'InvalidSecret',
    message:
      'spec.auth.iam.secretRef: key accessKeyId of Secret default/aws cannot be read: data.accessKeyId is not valid base64 (use stringData for plain text)',
  });
  expect(gw.gateway.pipeline.current!.errors).toEqual([
    {
      origin: 'secrets.yaml#0',
      message: 'Secret default/aws: data.accessKeyId is not valid base64 (use stringData for plain text)',
    },
  ]);
});

it('a Secret present only in another namespace: the message names that namespace', async () => {
  const res = await send(gw.url, { path: '/elsewhere' });
  expect(res.status).toBe(503);
  expect(res.json()).toMatchObject({
    reason: 'SecretNotFound',
    message:
      "spec.auth.iam.secretRef: Secret team-b/creds not found (a Secret creds exists in namespace team-a; Secrets must be in the route's namespace)",
  });
});
