// The official AWS SigV4 test suite, read in place from the shared test data:
// every case's canonical request, string to sign and signature must match,
// and the verifier must accept every case's signed request. The proxy's
// signer (src/aws/sigv4.ts) signs only headers it sets, so no case's
// signature applies to it whole: its canonical URI, canonical query and
// signature of a canonical request are checked against every case.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, canonicalUri, ScopeSignature, signingKey } from '../../src/aws/sigv4.ts';
import {
  computeSignature,
  payloadHash,
  signedHeadersList,
  toAmzDate,
  type VerifyOptions,
  verify,
  type WireRequest,
} from '../../src/emulator/sigv4.ts';
import { sharedTestdata } from '../support/testdata.ts';
import { readContext, readRequest, type SuiteContext } from './suite-request.ts';

const suite = sharedTestdata('aws-sigv4-suite');
const cases = suite
  ? readdirSync(suite)
      .filter((name) => statSync(join(suite, name)).isDirectory())
      .sort()
  : [];

const read = (name: string, file: string) => readFileSync(join(suite!, name, file), 'utf8');

/** What a signer adds to request.txt before signing, per the case's context. */
function requestToSign(name: string, context: SuiteContext): { request: WireRequest; signedHeaders: string } {
  const request = readRequest(join(suite!, name), 'request.txt');
  const headers: [string, string][] = [...request.headers.map(([k, v]): [string, string] => [k, v])];
  headers.push(['X-Amz-Date', toAmzDate(context.timestamp)]);
  if (context.signBody) headers.push(['X-Amz-Content-Sha256', payloadHash(request.body)]);
  const signedHeaders = signedHeadersList(headers.map(([headerName]) => headerName));
  // A token "after" the signature is sent but not signed.
  const token = context.credentials.sessionToken;
  if (token !== undefined) {
    headers.push(['X-Amz-Security-Token', token]);
  }
  return {
    request: { ...request, headers },
    signedHeaders:
      token !== undefined && !context.omitSessionToken
        ? signedHeadersList([...signedHeaders.split(';'), 'x-amz-security-token'])
        : signedHeaders,
  };
}

function verifyOptions(context: SuiteContext): VerifyOptions {
  return {
    region: context.region,
    service: context.service,
    normalize: context.normalize,
    credentials: [context.credentials],
    now: context.timestamp,
  };
}

describe.skipIf(!suite)('AWS SigV4 test suite', () => {
  it('has all 38 cases', () => {
    expect(cases).toHaveLength(38);
  });

  it.each(cases)('%s: canonical request, string to sign and signature', (name) => {
    const context = readContext(join(suite!, name));
    const { request, signedHeaders } = requestToSign(name, context);
    const computed = computeSignature(request, {
      secretAccessKey: context.credentials.secretAccessKey,
      amzDate: toAmzDate(context.timestamp),
      region: context.region,
      service: context.service,
      normalize: context.normalize,
      signedHeaders,
    });
    expect(computed.canonicalRequest).toBe(read(name, 'header-canonical-request.txt'));
    expect(computed.stringToSign).toBe(read(name, 'header-string-to-sign.txt'));
    expect(computed.signature).toBe(read(name, 'header-signature.txt').trim());
  });

  it.each(cases)('%s: verify() accepts the signed request', (name) => {
    const context = readContext(join(suite!, name));
    const signed = readRequest(join(suite!, name), 'header-signed-request.txt');
    expect(verify(signed, verifyOptions(context))).toEqual({
      ok: true,
      accessKeyId: context.credentials.accessKeyId,
    });
  });
});

describe.skipIf(!suite)('AWS SigV4 test suite: the proxy signer', () => {
  it.each(cases)('%s: canonical URI and query, and the signature of the canonical request', (name) => {
    const context = readContext(join(suite!, name));
    const request = readRequest(join(suite!, name), 'request.txt');
    const canonical = read(name, 'header-canonical-request.txt');
    const [, uri, query] = canonical.split('\n');
    // The signer is for services other than S3, which normalize paths.
    if (context.normalize) expect(canonicalUri(request.path)).toBe(uri);
    expect(canonicalQuery(request.query)).toBe(query);
    const amzDate = toAmzDate(context.timestamp);
    const { region, service } = context;
    const key = signingKey(context.credentials, amzDate.slice(0, 8), region, service);
    const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
    expect(new ScopeSignature(key, scope).of(amzDate, canonical)).toBe(
      read(name, 'header-signature.txt').trim(),
    );
  });
});

describe.skipIf(!suite)('verify() against suite requests', () => {
  const load = (name: string) => ({
    context: readContext(join(suite!, name)),
    signed: readRequest(join(suite!, name), 'header-signed-request.txt'),
  });
  const withHeader = (request: WireRequest, name: string, value: string | undefined): WireRequest => {
    const headers = request.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
    return { ...request, headers: value === undefined ? headers : [...headers, [name, value]] };
  };

  it('rejects a tampered request, explaining the canonical request it expected', () => {
    const { context, signed } = load('post-x-www-form-urlencoded');
    const result = verify({ ...signed, body: Buffer.from('Param1=value2') }, verifyOptions(context));
    expect(result).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
      status: 403,
      code: 'InvalidSignatureException',
      message: expect.stringMatching(
        /^The request signature we calculated does not match the signature you provided/,
      ),
    });
    expect(!result.ok && result.canonicalRequest).toContain(payloadHash('Param1=value2'));
  });

  it('rejects a tampered query and a tampered signed header', () => {
    const { context, signed } = load('get-vanilla-query-order-key-case');
    expect(verify({ ...signed, query: 'Param2=value2&Param1=value3' }, verifyOptions(context))).toMatchObject(
      {
        reason: 'signature-mismatch',
      },
    );
    const header = load('get-header-value-trim');
    const tampered = withHeader(header.signed, 'My-Header1', 'other');
    expect(verify(tampered, verifyOptions(header.context))).toMatchObject({ reason: 'signature-mismatch' });
  });

  it('answers in the query (STS) vocabulary when asked', () => {
    const { context, signed } = load('get-vanilla');
    const result = verify({ ...signed, method: 'POST' }, { ...verifyOptions(context), errorStyle: 'query' });
    expect(result).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
  });

  it('rejects the wrong region and the wrong service', () => {
    const { context, signed } = load('get-vanilla');
    expect(verify(signed, { ...verifyOptions(context), region: 'eu-west-1' })).toMatchObject({
      status: 403,
      code: 'InvalidSignatureException',
      message: 'Credential should be scoped to a valid region.',
    });
    expect(verify(signed, { ...verifyOptions(context), service: 'lambda' })).toMatchObject({
      status: 403,
      code: 'InvalidSignatureException',
      message: "Credential should be scoped to correct service: 'lambda'.",
    });
  });

  it('rejects a signing time more than 15 minutes off', () => {
    const { context, signed } = load('get-vanilla');
    const later = new Date(context.timestamp.getTime() + 16 * 60_000);
    expect(verify(signed, { ...verifyOptions(context), now: later })).toMatchObject({
      reason: 'clock-skew',
      code: 'InvalidSignatureException',
      message:
        'Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)',
    });
    const earlier = new Date(context.timestamp.getTime() - 16 * 60_000);
    expect(verify(signed, { ...verifyOptions(context), now: earlier })).toMatchObject({
      reason: 'clock-skew',
      message: expect.stringMatching(/^Signature not yet current: 20150830T123600Z is still later than/),
    });
    const within = new Date(context.timestamp.getTime() + 14 * 60_000);
    expect(verify(signed, { ...verifyOptions(context), now: within })).toMatchObject({ ok: true });
  });

  it('rejects an unknown access key', () => {
    const { context, signed } = load('get-vanilla');
    const other = { accessKeyId: 'AKIDOTHER', secretAccessKey: context.credentials.secretAccessKey };
    expect(verify(signed, { ...verifyOptions(context), credentials: [other] })).toMatchObject({
      status: 403,
      code: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
  });

  it('requires the session token of temporary credentials, signed or not', () => {
    const { context, signed } = load('get-vanilla-with-session-token');
    expect(
      verify(withHeader(signed, 'X-Amz-Security-Token', undefined), verifyOptions(context)),
    ).toMatchObject({
      reason: 'invalid-security-token',
      code: 'UnrecognizedClientException',
    });
    const unsigned = load('post-sts-header-after');
    expect(
      verify(withHeader(unsigned.signed, 'X-Amz-Security-Token', 'forged'), verifyOptions(unsigned.context)),
    ).toMatchObject({ reason: 'invalid-security-token' });
    // A permanent key must not come with a token.
    const plain = load('get-vanilla');
    expect(
      verify(withHeader(plain.signed, 'X-Amz-Security-Token', 'x'), verifyOptions(plain.context)),
    ).toMatchObject({
      reason: 'invalid-security-token',
    });
  });

  it('rejects expired temporary credentials', () => {
    const { context, signed } = load('get-vanilla-with-session-token');
    const expired = { ...context.credentials, expiration: new Date(context.timestamp.getTime() - 1000) };
    expect(verify(signed, { ...verifyOptions(context), credentials: [expired] })).toMatchObject({
      status: 403,
      code: 'ExpiredTokenException',
      message: 'The security token included in the request is expired',
    });
  });

  it('requires an Authorization header with all its parts, a signed host and a date', () => {
    const { context, signed } = load('get-vanilla');
    expect(verify(withHeader(signed, 'Authorization', undefined), verifyOptions(context))).toMatchObject({
      status: 403,
      code: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
    expect(verify(withHeader(signed, 'Authorization', 'Bearer abc'), verifyOptions(context))).toMatchObject({
      code: 'IncompleteSignatureException',
      message:
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
        "Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc",
    });
    const auth = signed.headers.find(([n]) => n === 'Authorization')![1];
    const hostless = withHeader(
      signed,
      'Authorization',
      auth.replace('SignedHeaders=host;', 'SignedHeaders='),
    );
    expect(verify(hostless, verifyOptions(context))).toMatchObject({
      code: 'IncompleteSignatureException',
      message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    });
    expect(verify(withHeader(signed, 'X-Amz-Date', undefined), verifyOptions(context))).toMatchObject({
      code: 'IncompleteSignatureException',
      message: expect.stringContaining("requires existence of either a 'X-Amz-Date' or a 'Date' header"),
    });
  });
});
