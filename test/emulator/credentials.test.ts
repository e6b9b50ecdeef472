// Temporary credentials: STS (AssumeRole, AssumeRoleWithWebIdentity) and the
// container credentials endpoint issue keys the emulator then accepts, until
// they expire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsCredentials, type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { call, json, type Signing } from './client.ts';

const key = { accessKeyId: 'AKIDSTSCALLER', secretAccessKey: 'caller-secret' };
const roleArn = 'arn:aws:iam::123456789012:role/lambda-ingress';
const jwt = (claims: object) =>
  ['{"alg":"RS256"}', JSON.stringify(claims), 'signature']
    .map((part) => Buffer.from(part).toString('base64url'))
    .join('.');
const webToken = jwt({
  sub: 'system:serviceaccount:ingress:controller',
  aud: ['sts.amazonaws.com'],
  iss: 'https://oidc.example',
});

const form = (params: Record<string, string>) =>
  new URLSearchParams({ Version: '2011-06-15', ...params }).toString();
const xmlField = (body: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
const credentialsFrom = (body: string): AwsCredentials & { sessionToken: string } => ({
  accessKeyId: xmlField(body, 'AccessKeyId')!,
  secretAccessKey: xmlField(body, 'SecretAccessKey')!,
  sessionToken: xmlField(body, 'SessionToken')!,
});

describe('STS', () => {
  let emulator: Emulator;
  let clock = Date.now();

  beforeAll(async () => {
    emulator = await startEmulator({
      now: () => clock,
      credentials: [key],
      sts: {
        credentialLifetimeSeconds: 20,
        webIdentityTokens: [webToken],
        roleArns: [roleArn],
      },
      endpoints: [
        {
          kind: 'execute-api',
          path: '/prod',
          auth: 'iam',
          handler: (req) => ({ status: 200, body: req.signature?.accessKeyId ?? '' }),
        },
        {
          kind: 'function-url',
          path: '/',
          auth: 'none',
          handler: () => ({ status: 200, body: 'function url' }),
        },
      ],
    });
  });
  afterAll(() => emulator.close());

  const sts = (params: Record<string, string>, signing?: Partial<Signing> | null) =>
    call(
      emulator,
      {
        method: 'POST',
        path: '/',
        headers: [['content-type', 'application/x-www-form-urlencoded; charset=utf-8']],
        body: form(params),
      },
      signing === null ? undefined : { credentials: key, service: 'sts', date: new Date(clock), ...signing },
    );
  const assumeRole = (extra: Record<string, string> = {}, signing?: Partial<Signing> | null) =>
    sts({ Action: 'AssumeRole', RoleArn: roleArn, RoleSessionName: 'ingress', ...extra }, signing);
  const callApi = (credentials: AwsCredentials) =>
    call(emulator, { path: '/prod/x' }, { credentials, service: 'execute-api', date: new Date(clock) });

  it('AssumeRole issues temporary credentials in the real XML shape', async () => {
    const before = emulator.issuedCredentials.length;
    const res = await assumeRole();
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/xml');
    expect(res.body).toMatch(
      /^<AssumeRoleResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role\/lambda-ingress\/ingress<\/Arn>.*<Credentials><AccessKeyId>ASIA[A-Z2-7]{16}<\/AccessKeyId><SecretAccessKey>[^<]+<\/SecretAccessKey><SessionToken>[^<]+<\/SessionToken><Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/Expiration><\/Credentials><\/AssumeRoleResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/AssumeRoleResponse>$/,
    );
    const expiration = Date.parse(xmlField(res.body, 'Expiration')!);
    expect(expiration - clock).toBeGreaterThan(18_000);
    expect(expiration - clock).toBeLessThanOrEqual(20_000);
    expect(emulator.issuedCredentials.length).toBe(before + 1);
    expect(emulator.issuedCredentials.at(-1)).toMatchObject({ issuer: 'sts' });
    expect(emulator.requests.at(-1)).toMatchObject({ service: 'sts', verification: { ok: true } });
  });

  it('accepts AssumeRole signed by @smithy/signature-v4', async () => {
    expect((await assumeRole({}, { smithy: true })).status).toBe(200);
  });

  it('issued credentials are accepted with their token, and expire', async () => {
    const issued = credentialsFrom((await assumeRole()).body);
    const ok = await callApi(issued);
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(issued.accessKeyId);

    const tokenless = await callApi({
      accessKeyId: issued.accessKeyId,
      secretAccessKey: issued.secretAccessKey,
    });
    expect(tokenless.status).toBe(403);
    expect(tokenless.headers['x-amzn-errortype']).toBe('UnrecognizedClientException');

    clock += 21_000;
    const expired = await callApi(issued);
    expect(expired.status).toBe(403);
    expect(expired.headers['x-amzn-errortype']).toBe('ExpiredTokenException');
    expect(json(expired)).toEqual({ message: 'The security token included in the request is expired' });
  });

  it('answers signature failures in the STS (query) vocabulary', async () => {
    const unsigned = await assumeRole({}, null);
    expect(unsigned.status).toBe(403);
    expect(xmlField(unsigned.body, 'Code')).toBe('MissingAuthenticationToken');
    expect(unsigned.body).toMatch(
      /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type>/,
    );
    const wrong = await assumeRole({}, { credentials: { ...key, secretAccessKey: 'nope' } });
    expect(wrong.status).toBe(403);
    expect(xmlField(wrong.body, 'Code')).toBe('SignatureDoesNotMatch');
    const unknown = await assumeRole({}, { credentials: { accessKeyId: 'AKIDNOPE', secretAccessKey: 'x' } });
    expect(xmlField(unknown.body, 'Code')).toBe('InvalidClientTokenId');
    const region = await assumeRole({}, { region: 'eu-west-1' });
    expect(xmlField(region.body, 'Message')).toBe('Credential should be scoped to a valid region.');
  });

  it('validates parameters as STS does', async () => {
    const short = await assumeRole({ DurationSeconds: '100' });
    expect(short.status).toBe(400);
    expect(xmlField(short.body, 'Code')).toBe('ValidationError');
    expect(xmlField(short.body, 'Message')).toContain('greater than or equal to 900');
    const missing = await sts({ Action: 'AssumeRole', RoleArn: roleArn });
    expect(xmlField(missing.body, 'Message')).toBe(
      "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
    );
    const role = await assumeRole({ RoleArn: 'arn:aws:iam::123456789012:role/other' });
    expect(role.status).toBe(403);
    expect(xmlField(role.body, 'Code')).toBe('AccessDenied');
    const action = await sts({ Action: 'GetSessionToken' });
    expect(action.status).toBe(400);
    expect(xmlField(action.body, 'Code')).toBe('InvalidAction');
  });

  it('AssumeRoleWithWebIdentity takes an accepted token, unsigned, and echoes its claims', async () => {
    const res = await sts(
      {
        Action: 'AssumeRoleWithWebIdentity',
        RoleArn: roleArn,
        RoleSessionName: 'pod',
        WebIdentityToken: webToken,
      },
      null,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatch(
      /^<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><AssumeRoleWithWebIdentityResult>/,
    );
    expect(xmlField(res.body, 'SubjectFromWebIdentityToken')).toBe(
      'system:serviceaccount:ingress:controller',
    );
    expect(xmlField(res.body, 'Audience')).toBe('sts.amazonaws.com');
    expect(xmlField(res.body, 'Provider')).toBe('oidc.example');
    expect((await callApi(credentialsFrom(res.body))).status).toBe(200);
  });

  it('AssumeRoleWithWebIdentity refuses any other token', async () => {
    const res = await sts(
      {
        Action: 'AssumeRoleWithWebIdentity',
        RoleArn: roleArn,
        RoleSessionName: 'pod',
        WebIdentityToken: jwt({ sub: 'x' }),
      },
      null,
    );
    expect(res.status).toBe(400);
    expect(xmlField(res.body, 'Code')).toBe('InvalidIdentityToken');
  });

  it('leaves other requests to `/` to the function URL mounted there', async () => {
    const json = await call(emulator, {
      method: 'POST',
      path: '/',
      headers: [['content-type', 'application/json']],
      body: '{"Action":"AssumeRole"}',
    });
    expect(json.body).toBe('function url');
    const formWithoutAction = await call(emulator, {
      method: 'POST',
      path: '/',
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body: 'a=1',
    });
    expect(formWithoutAction.body).toBe('function url');
    expect((await call(emulator, { path: '/', query: 'Action=AssumeRole' })).body).toBe('function url');
  });
});

describe('container credentials endpoint', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({
      containerCredentials: {
        path: '/v1/credentials',
        authorizationToken: 'pod-identity-token',
        lifetimeSeconds: 20,
      },
      functions: { fn: { handler: () => 'ok' } },
    });
  });
  afterAll(() => emulator.close());

  it('hands out temporary credentials the emulator then accepts', async () => {
    const res = await call(emulator, {
      path: '/v1/credentials',
      headers: [['authorization', 'pod-identity-token']],
    });
    expect(res.status).toBe(200);
    const body = json(res) as {
      AccessKeyId: string;
      SecretAccessKey: string;
      Token: string;
      Expiration: string;
    };
    expect(Object.keys(body)).toEqual(['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration']);
    expect(body.AccessKeyId).toMatch(/^ASIA/);
    const lifetime = Date.parse(body.Expiration) - Date.now();
    expect(lifetime).toBeGreaterThan(15_000);
    expect(lifetime).toBeLessThanOrEqual(20_000);
    expect(emulator.issuedCredentials).toMatchObject([
      { accessKeyId: body.AccessKeyId, issuer: 'container-credentials' },
    ]);

    const credentials = {
      accessKeyId: body.AccessKeyId,
      secretAccessKey: body.SecretAccessKey,
      sessionToken: body.Token,
    };
    const invoked = await call(
      emulator,
      { method: 'POST', path: '/2015-03-31/functions/fn/invocations' },
      { credentials, service: 'lambda' },
    );
    expect(invoked.status).toBe(200);
  });

  it('checks the Authorization token', async () => {
    expect((await call(emulator, { path: '/v1/credentials' })).status).toBe(401);
    expect(
      (await call(emulator, { path: '/v1/credentials', headers: [['authorization', 'wrong']] })).status,
    ).toBe(403);
  });
});
