// npm run bench:sign: the cost of SigV4 signing with @smithy/signature-v4,
// comparing SHA-256 implementations (@aws-crypto/sha256-js, pure JS, and
// src/aws/sha256.ts on node:crypto with cached HMAC keys), and the project's
// Signer as the data plane uses it.

import { randomBytes } from 'node:crypto';
import { Sha256 as JsSha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { staticSource } from '../src/aws/credentials.ts';
import { NodeSha256 } from '../src/aws/sha256.ts';
import { Signer } from '../src/aws/signer.ts';
import { fmt, measure } from './measure.ts';

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
for (const [hashName, sha256] of [
  ['@aws-crypto/sha256-js', JsSha256],
  ['node:crypto (src/aws/sha256.ts)', NodeSha256],
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
    rows.push(`| SignatureV4.sign, ${m.name} | ${fmt(m.nsPerOp / 1000, 1)} µs |`);
  }
}
const ours = new Signer(staticSource(credentials));
for (const [bodyName, body] of Object.entries(bodies)) {
  const m = await measure(
    bodyName,
    () =>
      ours.sign({
        method: 'POST',
        host,
        path: '/default/test-apisix',
        query: 'name=APISIX',
        body,
        region: 'us-east-1',
        service: 'execute-api',
      }),
    1500,
    body && body.length > 100_000 ? 10 : 200,
  );
  rows.push(`| data plane Signer.sign (node:crypto), ${m.name} | ${fmt(m.nsPerOp / 1000, 1)} µs |`);
}
console.log(`node ${process.version}`);
console.log('| signing | time per request |');
console.log('| --- | --- |');
for (const row of rows) console.log(row);
