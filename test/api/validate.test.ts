import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../src/api/validate.ts';

const valid = {
  match: { path: '/aws' },
  target: { url: 'https://a.execute-api.us-east-1.amazonaws.com/default/x' },
};

function errorsOf(spec: unknown) {
  const result = validateSpec(spec);
  if (result.ok) throw new Error('expected validation errors');
  return result.failures.map(({ path, message }) => ({ field: path, message }));
}

describe('validateSpec', () => {
  it('applies the contract defaults', () => {
    const result = validateSpec(valid);
    expect(result.ok && result.value).toEqual({
      match: { path: '/aws', pathType: 'Exact' },
      target: { url: valid.target.url, forwardSubpath: false },
      timeout: '3s',
      tls: { insecureSkipVerify: false },
      keepalive: { enabled: true, idleTimeout: '60s' },
    });
  });

  it('shares with the input every part that no default changed, and leaves the input as it was', () => {
    const spec = {
      match: { path: '/aws', pathType: 'Prefix', methods: ['GET'] },
      target: { url: valid.target.url },
      auth: { iam: { region: 'us-east-1', service: 'execute-api', secretRef: { name: 'keys' } } },
      timeout: '5s',
      tls: { insecureSkipVerify: false },
      keepalive: { enabled: true, idleTimeout: '60s' },
    };
    const before = structuredClone(spec);
    const result = validateSpec(spec);
    if (!result.ok) throw new Error('expected a valid spec');
    expect(spec).toEqual(before);
    expect(result.value).not.toBe(spec); // target got forwardSubpath
    expect(result.value.target).toEqual({ url: valid.target.url, forwardSubpath: false });
    expect(result.value.target).not.toBe(spec.target);
    expect(result.value.match).toBe(spec.match);
    expect(result.value.auth).toBe(spec.auth);
    expect(result.value.keepalive).toBe(spec.keepalive);
    const complete = { ...spec, target: { url: valid.target.url, forwardSubpath: true } };
    expect((validateSpec(complete) as { value: unknown }).value).toBe(complete);
  });

  it('defaults function targets to RequestResponse, payload format 2.0 and Buffered', () => {
    const result = validateSpec({ match: { path: '/f' }, target: { function: { name: 'my-fn' } } });
    expect(result.ok && result.value.target.function).toEqual({
      name: 'my-fn',
      invocationType: 'RequestResponse',
      payloadFormat: '2.0',
      invokeMode: 'Buffered',
    });
  });

  it('accepts invokeMode ResponseStream with a synchronous invocation', () => {
    const result = validateSpec({
      match: { path: '/f' },
      target: {
        function: { name: 'my-fn', invokeMode: 'ResponseStream', invocationType: 'RequestResponse' },
      },
    });
    expect(result.ok && result.value.target.function?.invokeMode).toBe('ResponseStream');
  });

  it('does not modify its input', () => {
    const input = structuredClone(valid);
    validateSpec(input);
    expect(input).toEqual(valid);
  });

  it.each([
    ['missing match', { target: valid.target }, 'spec.match', 'is required'],
    ['path without slash', { ...valid, match: { path: 'aws' } }, 'spec.match.path', 'must match pattern'],
    [
      'unknown path type',
      { ...valid, match: { path: '/a', pathType: 'Regex' } },
      'spec.match.pathType',
      'must be one of "Exact", "Prefix"',
    ],
    [
      'unknown method',
      { ...valid, match: { path: '/a', methods: ['GET', 'FETCH'] } },
      'spec.match.methods[1]',
      'must be one of',
    ],
    [
      'duplicate methods',
      { ...valid, match: { path: '/a', methods: ['GET', 'GET'] } },
      'spec.match.methods',
      'duplicate',
    ],
    ['bad host', { ...valid, hosts: ['Bad Host'] }, 'spec.hosts[0]', 'must match pattern'],
    ['unknown field', { ...valid, timout: '3s' }, 'spec.timout', 'unknown field (did you mean timeout?)'],
    ['nested unknown field', { ...valid, tls: { verify: false } }, 'spec.tls.verify', 'unknown field'],
    [
      'unknown field in another case',
      { ...valid, match: { path: '/a', pathtype: 'Prefix' } },
      'spec.match.pathtype',
      'unknown field (did you mean pathType?)',
    ],
    ['bad duration', { ...valid, timeout: '3 seconds' }, 'spec.timeout', 'must be a duration such as "3s"'],
    ['bad url scheme', { ...valid, target: { url: 'ftp://x' } }, 'spec.target.url', 'must match pattern'],
    ['url with query', { ...valid, target: { url: 'https://x/a?b=c' } }, 'spec.target.url', 'without query'],
    [
      'both targets',
      { ...valid, target: { url: 'https://x', function: { name: 'f' } } },
      'spec.target',
      'exactly one of spec.target.url or spec.target.function',
    ],
    [
      'no target',
      { ...valid, target: {} },
      'spec.target',
      'exactly one of spec.target.url or spec.target.function',
    ],
    [
      'forwardSubpath on Exact',
      { ...valid, target: { ...valid.target, forwardSubpath: true } },
      'spec.target.forwardSubpath',
      'requires spec.match.pathType Prefix',
    ],
    [
      'forwardSubpath on function',
      {
        match: { path: '/f', pathType: 'Prefix' },
        target: { function: { name: 'f' }, forwardSubpath: true },
      },
      'spec.target.forwardSubpath',
      'url targets only (spec.target.url)',
    ],
    [
      'apiKey on function',
      {
        match: { path: '/f' },
        target: { function: { name: 'f' } },
        auth: { apiKey: { secretRef: { name: 'k', key: 'k' } } },
      },
      'spec.auth.apiKey',
      'url targets only (spec.target.url)',
    ],
    [
      'apiKey without key',
      { ...valid, auth: { apiKey: { secretRef: { name: 'k' } } } },
      'spec.auth.apiKey.secretRef.key',
      'is required',
    ],
    [
      'bad function name',
      { match: { path: '/f' }, target: { function: { name: 'my fn' } } },
      'spec.target.function.name',
      'must match pattern',
    ],
    [
      'bad payload format',
      { match: { path: '/f' }, target: { function: { name: 'f', payloadFormat: '3.0' } } },
      'spec.target.function.payloadFormat',
      'must be one of',
    ],
    [
      'bad invoke mode',
      { match: { path: '/f' }, target: { function: { name: 'f', invokeMode: 'Streaming' } } },
      'spec.target.function.invokeMode',
      'must be one of "Buffered", "ResponseStream"',
    ],
    [
      'streaming an Event invocation',
      {
        match: { path: '/f' },
        target: { function: { name: 'f', invokeMode: 'ResponseStream', invocationType: 'Event' } },
      },
      'spec.target.function.invokeMode',
      'invokeMode ResponseStream requires invocationType RequestResponse',
    ],
    [
      'bad region',
      { ...valid, auth: { iam: { region: 'Europe' } } },
      'spec.auth.iam.region',
      'must match pattern',
    ],
    [
      'bad role arn',
      { ...valid, auth: { iam: { roleArn: 'role/x' } } },
      'spec.auth.iam.roleArn',
      'must match pattern',
    ],
    [
      'maxConnections zero',
      { ...valid, keepalive: { maxConnections: 0 } },
      'spec.keepalive.maxConnections',
      'must be >= 1',
    ],
    [
      'wrong type',
      { ...valid, tls: { insecureSkipVerify: 'yes' } },
      'spec.tls.insecureSkipVerify',
      'must be boolean',
    ],
    [
      'certificateRef without hosts',
      { ...valid, certificateRef: { name: 'api-tls' } },
      'spec.certificateRef',
      'requires spec.hosts: the certificate is served for the hosts of its route',
    ],
    [
      'certificateRef with empty hosts',
      { ...valid, hosts: [], certificateRef: { name: 'api-tls' } },
      'spec.certificateRef',
      'requires spec.hosts',
    ],
    [
      'certificateRef in another namespace',
      { ...valid, hosts: ['api.example.com'], certificateRef: { name: 'api-tls', namespace: 'other' } },
      'spec.certificateRef.namespace',
      'unknown field',
    ],
  ])('%s', (_name, spec, field, message) => {
    const errors = errorsOf(spec);
    expect(errors).toContainEqual({ field, message: expect.stringContaining(message) });
  });

  it('says what a duration looks like when given a number (APISIX milliseconds)', () => {
    expect(errorsOf({ ...valid, timeout: 3000 })).toEqual([
      { field: 'spec.timeout', message: 'must be a duration such as "3s" (got 3000)' },
    ]);
    expect(errorsOf({ ...valid, timeout: '3000' })).toEqual([
      { field: 'spec.timeout', message: 'must be a duration such as "3s" (got "3000")' },
    ]);
    expect(errorsOf({ ...valid, keepalive: { idleTimeout: 60 } })).toEqual([
      { field: 'spec.keepalive.idleTimeout', message: 'must be a duration such as "3s" (got 60)' },
    ]);
    expect(errorsOf({ ...valid, timeout: [3] })).toEqual([
      { field: 'spec.timeout', message: 'must be a duration such as "3s"' },
    ]);
  });

  it.each([['0s'], ['0ms'], ['0m0s'], ['0.0s'], ['00h']])('refuses a zero duration: %s', (zero) => {
    expect(errorsOf({ ...valid, timeout: zero, keepalive: { idleTimeout: zero } })).toEqual([
      { field: 'spec.timeout', message: 'must be more than 0s' },
      { field: 'spec.keepalive.idleTimeout', message: 'must be more than 0s' },
    ]);
  });

  it.each([['1ms'], ['0.5s'], ['1m0s'], ['10s']])('accepts a positive duration: %s', (positive) => {
    expect(validateSpec({ ...valid, timeout: positive, keepalive: { idleTimeout: positive } }).ok).toBe(true);
  });

  it('accepts a certificateRef on a route with hosts', () => {
    const spec = {
      ...valid,
      hosts: ['api.example.com', '*.example.org'],
      certificateRef: { name: 'api-tls' },
    };
    const result = validateSpec(spec);
    expect(result.ok && result.value.certificateRef).toEqual({ name: 'api-tls' });
  });

  it('suggests nothing for an unknown field unlike any known one', () => {
    expect(errorsOf({ ...valid, color: 'red' })).toEqual([{ field: 'spec.color', message: 'unknown field' }]);
  });

  it('collects every error at once', () => {
    const errors = errorsOf({
      match: { path: 'x', pathType: 'Nope' },
      target: { url: 'x' },
      timeout: 'soon',
      extra: 1,
    });
    expect(errors.map((e) => e.field).sort()).toEqual(
      ['spec.extra', 'spec.match.path', 'spec.match.pathType', 'spec.target.url', 'spec.timeout'].sort(),
    );
  });

  it('rejects a spec that is not an object', () => {
    expect(errorsOf('nope')).toContainEqual({ field: 'spec', message: 'must be object' });
    expect(errorsOf(undefined)).toContainEqual({ field: 'spec', message: 'must be object' });
  });
});
