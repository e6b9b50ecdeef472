// What the store tells operators: the report (for status and /debug/routes)
// with validity and name warnings, and the expiry gauge; never key material.
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/metrics.ts';
import { type CertificateSet, CertificateStore } from '../../src/tls/store.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { binding, certificateOf } from '../support/tls-client.ts';

let ca: TestCa;
let api: KeyPair;
let wildcard: KeyPair;
let fallback: KeyPair;

beforeAll(async () => {
  ca = await TestCa.create();
  [api, wildcard, fallback] = await Promise.all([
    ca.issue({ cn: 'api.example.com', days: 1 }),
    ca.issue({ cn: '*.example.com', days: 3 }),
    ca.issue({ cn: 'fallback.test' }),
  ]);
});
afterAll(() => ca?.close());

const notAfterOf = (pair: KeyPair) => certificateOf(pair).notAfter.getTime();

describe('the report', () => {
  it('warns about expired, not yet valid and misnamed certificates, and still serves them', () => {
    let now = Date.now();
    const store = new CertificateStore({ now: () => now });
    const report = () =>
      store.update({
        hosts: new Map([
          ['api.example.com', binding('default/api', api, 'default/api')],
          ['*.example.com', binding('default/wild', wildcard, 'default/wild')],
          ['*.b.example.com', binding('default/wild', wildcard, 'default/deep')],
          ['www.example.com', binding('default/api', api, 'default/www')],
        ]),
      });
    expect(report().map((r) => [r.host, r.state, r.warnings])).toEqual([
      ['*.b.example.com', 'serving', ['the certificate does not name *.b.example.com']],
      ['*.example.com', 'serving', []],
      ['api.example.com', 'serving', []],
      ['www.example.com', 'serving', ['the certificate does not name www.example.com']],
    ]);
    now = notAfterOf(api) + 1000;
    const [, , expired] = report();
    expect(expired!.state).toBe('serving');
    expect(expired!.warnings).toEqual([`the certificate expired at ${expired!.certificate!.notAfter}`]);
    now = 0;
    expect(store.report()[2]!.warnings[0]).toMatch(/^the certificate not valid before /);
    expect(store.select('api.example.com')).toBeDefined();
  });

  it('never holds key material in JSON or util.inspect, for the store, the report or a binding', () => {
    const store = new CertificateStore();
    const bound = binding('default/api', api);
    const broken = binding('default/broken', { cert: api.cert, key: wildcard.key });
    store.update({
      hosts: new Map([
        ['api.example.com', bound],
        ['x.example.com', broken],
      ]),
      default: binding('ingress/fallback', fallback),
    });
    const texts = [
      JSON.stringify(store.report()),
      inspect(store.report(), { depth: 10 }),
      inspect(store, { depth: 10 }),
      JSON.stringify(bound),
      inspect(bound, { depth: 10 }),
      JSON.stringify(broken),
      JSON.stringify(store.served()),
    ];
    const keyLines = [api, wildcard, fallback].flatMap((pair) =>
      pair.key.split('\n').filter((line) => line.length > 20),
    );
    for (const text of texts) {
      expect(text).not.toContain('PRIVATE KEY');
      for (const line of keyLines) expect(text).not.toContain(line);
    }
    expect(JSON.stringify(store.report())).toContain(certificateOf(api).description.fingerprint);
  });
});

describe('lambda_ingress_certificate_expiry_timestamp_seconds', () => {
  it('gives each served Secret its expiry, the sooner of two versions, and forgets withdrawn ones', async () => {
    const store = new CertificateStore();
    const metrics = new Metrics({ routeHistograms: false });
    const update = (set: CertificateSet) => {
      store.update(set);
      metrics.certificatesServed(store.served());
    };
    const series = async () =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith('lambda_ingress_certificate_expiry'));
    update({
      hosts: new Map([
        ['api.example.com', binding('default/api-tls', api)],
        ['www.example.com', binding('default/api-tls', api)],
      ]),
      default: binding('ingress/fallback', fallback),
    });
    expect(await series()).toEqual([
      `lambda_ingress_certificate_expiry_timestamp_seconds{namespace="default",secret="api-tls"} ${notAfterOf(api) / 1000}`,
      `lambda_ingress_certificate_expiry_timestamp_seconds{namespace="ingress",secret="fallback"} ${notAfterOf(fallback) / 1000}`,
    ]);
    // www moves to the wildcard's content under the same Secret; api keeps its last good version.
    update({
      hosts: new Map([
        ['api.example.com', binding('default/api-tls', { cert: wildcard.cert, key: api.key })],
        ['www.example.com', binding('default/api-tls', wildcard)],
      ]),
    });
    expect(notAfterOf(api)).toBeLessThan(notAfterOf(wildcard));
    expect(await series()).toEqual([
      `lambda_ingress_certificate_expiry_timestamp_seconds{namespace="default",secret="api-tls"} ${notAfterOf(api) / 1000}`,
    ]);
    update({ hosts: new Map() });
    expect(await series()).toEqual([]);
  });
});
