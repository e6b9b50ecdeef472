// npm run bench:sign: the cost of SigV4 signing with @smithy/signature-v4
// (the reference, with @aws-crypto/sha256-js, pure JS, and with
// bench/node-sha256.ts on node:crypto with cached HMAC keys), the data plane's
// per-route RouteSigner (src/aws/sigv4.ts, payload hash included) and its
// floor: one SHA-256 and one HMAC with the scope's pads laid out once
// (ScopeSignature), beside the same with createHmac and a cached KeyObject.

import { createHmac, hash, randomBytes } from 'node:crypto';
import { Sha256 as JsSha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { payloadHash, RouteSigner, ScopeSignature, signingKey } from '../src/aws/sigv4.ts';
import { fmt, type Measurement, measure } from './measure.ts';
import { NodeSha256 } from './node-sha256.ts';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const host = 'abc123.execute-api.us-east-1.amazonaws.com';
const bodies = {
  'empty body': undefined,
  '1 KB body': randomBytes(1024),
  '100 KB body': randomBytes(100 * 1024),
  '1 MB body': randomBytes(1024 * 1024),
};

const rows: string[] = [];
const row = (label: string, m: Measurement) =>
  rows.push(`| ${label} | ${fmt(m.nsPerOp / 1000, 1)} µs | ${fmt(m.cpuNsPerOp / 1000, 1)} µs |`);
for (const [hashName, sha256] of [
  ['@aws-crypto/sha256-js', JsSha256],
  ['node:crypto (bench/node-sha256.ts)', NodeSha256],
] as const) {
  const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 'execute-api', sha256 });
  for (const [bodyName, body] of Object.entries(bodies)) {
    const m = await measure(
      `${hashName}, ${bodyName}`,
      () =>
        signer.sign({
          method: 'POST',
          protocol: 'https:',
          hostname: host,
          path: '/default/test-apisix',
          query: { name: 'APISIX' },
          headers: { host },
          body,
        }),
      1500,
      body && body.length > 100_000 ? 10 : 200,
    );
    row(`SignatureV4.sign, ${m.name}`, m);
  }
}
const path = '/default/test-apisix';
const route = new RouteSigner({ host, region: 'us-east-1', service: 'execute-api', path });
const headers: string[] = [];
for (const [bodyName, body] of Object.entries(bodies)) {
  const m = await measure(
    bodyName,
    () => {
      headers.length = 0;
      route.sign(headers, credentials, 'POST', path, 'name=APISIX', payloadHash(body));
    },
    1500,
    body && body.length > 100_000 ? 10 : 1000,
  );
  row(`RouteSigner.sign (src/aws/sigv4.ts), ${m.name}`, m);
}
// The same canonical request as the small POST above, signed with its derived key.
const canonical = `POST\n${path}\nname=APISIX\nhost:${host}\nx-amz-content-sha256:${payloadHash(undefined)}\nx-amz-date:20150830T123600Z\n\nhost;x-amz-content-sha256;x-amz-date\n${payloadHash(undefined)}`;
const key = signingKey(credentials, '20150830', 'us-east-1', 'execute-api');
const scope = '20150830/us-east-1/execute-api/aws4_request';
const amzDate = '20150830T123600Z';
const scopeSignature = new ScopeSignature(key, scope);
const floor = await measure(
  'one SHA-256 of the canonical request and one HMAC with its pads laid out (ScopeSignature)',
  () => scopeSignature.of(amzDate, canonical),
  1500,
  1000,
);
row(`floor: ${floor.name}`, floor);
const keyObject = await measure(
  'the same with createHmac and a cached KeyObject',
  () =>
    createHmac('sha256', key)
      .update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonical, 'hex')}`)
      .digest('hex'),
  1500,
  1000,
);
row(keyObject.name, keyObject);
console.log(`node ${process.version}`);
console.log('| signing | time per request | CPU per request |');
console.log('| --- | --- | --- |');
for (const row of rows) console.log(row);
