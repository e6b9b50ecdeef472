// KubeClient's writes against a stand-in apiserver over real sockets: the JSON
// body and content type, the credentials, and failures as KubeApiError with the
// Status reason (409 for a stale resourceVersion) but never the response body.
import { afterEach, describe, expect, it } from 'vitest';
import { MERGE_PATCH } from '../../src/kube/client.ts';
import { describeError, KubeApiError, statusOf } from '../../src/kube/errors.ts';
import { FakeApiserver, sendJson } from '../support/fake-apiserver.ts';

let server: FakeApiserver;
afterEach(() => server?.close());

describe('KubeClient.send', () => {
  it('sends JSON with the token and the given content type, and returns the answer', async () => {
    server = await FakeApiserver.start((req, res) =>
      sendJson(res, req.method === 'POST' ? 201 : 200, req.body),
    );
    const created = await server.client.send('POST', '/api/v1/namespaces/a/things', { spec: { n: 1 } });
    expect(created).toEqual({ spec: { n: 1 } });
    await server.client.send(
      'PATCH',
      '/x/status?fieldManager=me',
      { status: {} },
      { contentType: MERGE_PATCH },
    );
    const [post, patch] = server.requests;
    expect(post?.headers['content-type']).toBe('application/json');
    expect(post?.headers.authorization).toBe('Bearer test-token');
    expect(patch?.headers['content-type']).toBe(MERGE_PATCH);
    expect(patch?.query.get('fieldManager')).toBe('me');
  });

  it('fails with the Status reason and message, never the body', async () => {
    server = await FakeApiserver.start((_req, res) =>
      sendJson(res, 409, {
        kind: 'Status',
        code: 409,
        reason: 'Conflict',
        message: 'the object has been modified',
        details: { data: { apiKey: 'c2VjcmV0' } },
      }),
    );
    const error = await server.client.send('PUT', '/apis/x/v1/things/a', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(statusOf(error)).toBe(409);
    expect((error as KubeApiError).reason).toBe('Conflict');
    expect(describeError(error)).toBe('PUT /apis/x/v1/things/a: 409 the object has been modified');
  });

  it('times out a request that gets no answer', async () => {
    server = await FakeApiserver.start(() => {});
    const error = await server.client.send('POST', '/slow', {}, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(statusOf(error)).toBe(0);
    expect(describeError(error)).toMatch(/^POST \/slow: /);
  });
});
