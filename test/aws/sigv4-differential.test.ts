// The per-route signer (src/aws/sigv4.ts) against two references on a large
// seeded random corpus: @smithy/signature-v4 (with the pure-JS
// @aws-crypto/sha256-js, so nothing is shared) must produce byte-identical
// headers, and the emulator's independent verifier must accept every request.
// Queries with escapes that are not UTF-8, which smithy cannot sign as AWS
// reads them, are checked against the emulator's canonical query and verifier.
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, canonicalUri, payloadHash, RouteSigner } from '../../src/aws/sigv4.ts';
import * as emulator from '../../src/emulator/sigv4.ts';

/** mulberry32: a small seeded generator, so a failure replays exactly. */
function random(seed: number) {
  let state = seed;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { int, pick, chance };
}
type Random = ReturnType<typeof random>;

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const SUB_DELIMS = "!$&'()*+,;=:@";
const UNICODE = ['é', 'ü', 'ሴ', '✓', '中', '😀', 'ß'];

/** A character's UTF-8 bytes as escapes, in upper- or lower-case hex. */
function escapes(char: string, rnd: Random): string {
  const hex = [...Buffer.from(char, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  return rnd.chance(0.5) ? hex.toUpperCase() : hex;
}

/** A decoded string mixing unreserved, reserved, space and non-ASCII characters. */
function text(rnd: Random, maxLength: number): string {
  let out = '';
  for (let n = rnd.int(maxLength + 1); n > 0; n--) {
    const kind = rnd.int(10);
    out +=
      kind < 5
        ? rnd.pick([...UNRESERVED])
        : kind < 7
          ? rnd.pick([...SUB_DELIMS, ' ', '/', '%', '?', '#', '"', '<', '[', '\\', '^', '`', '{', '|'])
          : rnd.pick(UNICODE);
  }
  return out;
}

/** A path segment as sent: characters literal, percent-encoded UTF-8, raw spaces and non-ASCII, `%2F`, `:`. */
function pathSegment(rnd: Random): string {
  const special = rnd.int(12);
  if (special === 0) return rnd.pick(['', '.', '..', '%2e%2e', '%2E', '.hidden']);
  if (special === 1) return rnd.pick(['my-fn:live', 'my-fn%3Alive', 'fn%3a%24LATEST', 'a%2Fb', '%2f']);
  let out = '';
  for (const char of text(rnd, 10)) {
    const literal = UNRESERVED.includes(char) || SUB_DELIMS.includes(char) || char === ' ';
    out +=
      literal && rnd.chance(0.7)
        ? char
        : UNICODE.includes(char) && rnd.chance(0.3)
          ? char
          : escapes(char, rnd);
  }
  return out;
}

function path(rnd: Random): string {
  const segments = Array.from({ length: 1 + rnd.int(5) }, () => pathSegment(rnd));
  return `/${segments.join('/')}${rnd.chance(0.2) ? '/' : ''}`;
}

interface Query {
  /** As sent, without "?". */
  wire: string;
  /** Decoded, as smithy takes it. */
  decoded: Record<string, string[]>;
}

/** One key or value as sent: what must be escaped is, the rest at random. */
function wireText(decoded: string, isKey: boolean, rnd: Random): string {
  let out = '';
  for (const char of decoded) {
    const mustEscape = char === '&' || char === '%' || char === '#' || (isKey && char === '=');
    const mayStay = UNRESERVED.includes(char) || SUB_DELIMS.includes(char) || char === '/' || char === '?';
    out += !mustEscape && (mayStay || UNICODE.includes(char)) && rnd.chance(0.6) ? char : escapes(char, rnd);
  }
  return out;
}

/** Repeated keys, empty keys and values, bare keys, empty pairs, `=` in values, `+` as a plus. */
function query(rnd: Random): Query {
  const decoded: Record<string, string[]> = Object.create(null);
  const parts: string[] = [];
  const keys = ['a', 'A', 'b', 'a-', 'Param', 'Param-3', '', 'k ey', 'ሴ', 'x.y', 'plus+', 'eq=', '%', 'é'];
  for (let n = rnd.int(7); n > 0; n--) {
    if (rnd.chance(0.1)) parts.push(''); // "&&"
    const key = rnd.chance(0.6) ? rnd.pick(keys) : text(rnd, 6);
    const value = rnd.chance(0.2)
      ? ''
      : rnd.chance(0.2)
        ? rnd.pick(['a=b', '1+1', '=', 'a b', '~'])
        : text(rnd, 8);
    decoded[key] = [...(decoded[key] ?? []), value];
    const bare = value === '' && key !== '' && rnd.chance(0.5); // a bare empty key is an empty pair
    parts.push(
      bare ? wireText(key, true, rnd) : `${wireText(key, true, rnd)}=${wireText(value, false, rnd)}`,
    );
  }
  return { wire: parts.join('&'), decoded };
}

const CREDENTIALS: AwsCredentialIdentity[] = [
  { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'rotated+/=secret' },
  {
    accessKeyId: 'ASIATEMPORARY1',
    secretAccessKey: 'temp-secret-1',
    sessionToken: 'FQoGZXIvYXdzE//token+1==',
  },
  { accessKeyId: 'ASIATEMPORARY2', secretAccessKey: 'temp-secret-2', sessionToken: 'IQoJb3JpZ2luX2VjE.t2' },
];
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1'];
const HOSTS = [
  'abc123.execute-api.us-east-1.amazonaws.com',
  'lambda.eu-west-1.amazonaws.com',
  'xyz.lambda-url.ap-southeast-2.on.aws',
  '127.0.0.1:8443',
];
const DAY = 86_400_000;
const BASE_DATE = Date.UTC(2015, 7, 30, 23, 59, 58);
/** A few instants (the same second, across midnight) so cached keys and dates are reused, and far ones. */
const DATES = [BASE_DATE, BASE_DATE + 400, BASE_DATE + 1000, BASE_DATE + 3000, BASE_DATE + DAY];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

interface Route {
  signer: RouteSigner;
  host: string;
  region: string;
  service: string;
  path: string;
  query: string;
}

function route(rnd: Random): Route {
  const service = rnd.pick(['execute-api', 'lambda']);
  const fixed = rnd.chance(0.3)
    ? { path: '/2015-03-31/functions/my-fn%3Alive/invocations', query: rnd.pick(['', 'Qualifier=live']) }
    : { path: rnd.chance(0.3) ? '' : path(rnd).replace(/\/$/, ''), query: '' };
  const host = rnd.pick(HOSTS);
  const region = rnd.pick(REGIONS);
  return { signer: new RouteSigner({ host, region, service, ...fixed }), host, region, service, ...fixed };
}

interface Case {
  route: Route;
  method: string;
  path: string;
  query: Query;
  body: Buffer | undefined;
  credentials: AwsCredentialIdentity;
  now: number;
}

/** None, empty, or random bytes: mostly small, some of several KB. */
function body(rnd: Random): Buffer | undefined {
  if (rnd.chance(0.3)) return undefined;
  const length = rnd.chance(0.05) ? rnd.int(8192) : rnd.int(512);
  return Buffer.from(Array.from({ length }, () => rnd.int(256)));
}

function corpus(seed: number, size: number): Case[] {
  const rnd = random(seed);
  const routes = Array.from({ length: 40 }, () => route(rnd));
  return Array.from({ length: size }, () => {
    const r = rnd.pick(routes);
    const fixedQuery = r.query !== '' && rnd.chance(0.5);
    const pathKind = rnd.int(10);
    const credentials = rnd.pick(CREDENTIALS);
    return {
      route: r,
      method: rnd.pick(METHODS),
      path: pathKind < 2 ? r.path || '/' : pathKind < 8 ? `${r.path}${path(rnd)}` : path(rnd),
      query: fixedQuery ? { wire: r.query, decoded: { Qualifier: ['live'] } } : query(rnd),
      body: body(rnd),
      // Usually the source's unchanged object; sometimes an equal new one, as after a refresh.
      credentials: rnd.chance(0.1) ? { ...credentials } : credentials,
      now: rnd.chance(0.7) ? rnd.pick(DATES) : BASE_DATE + rnd.int(20 * 365) * DAY + rnd.int(DAY),
    };
  });
}

function ours(c: Case): Record<string, string> {
  const flat: string[] = [];
  c.route.signer.sign(flat, c.credentials, c.method, c.path, c.query.wire, payloadHash(c.body), c.now);
  const added: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) added[flat[i]!] = flat[i + 1]!;
  return added;
}

async function smithy(c: Case): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: c.credentials,
    region: c.route.region,
    service: c.route.service,
    sha256: Sha256,
    uriEscapePath: true,
  });
  const signed = await signer.sign(
    {
      method: c.method,
      protocol: 'https:',
      hostname: c.route.host,
      path: c.path,
      query: c.query.decoded,
      headers: { host: c.route.host },
      ...(c.body && { body: c.body }),
    },
    { signingDate: new Date(c.now) },
  );
  const { host: _host, ...added } = signed.headers;
  return added as Record<string, string>;
}

function emulatorVerdict(c: Case, added: Record<string, string>): emulator.VerifyResult {
  return emulator.verify(
    {
      method: c.method,
      path: c.path,
      query: c.query.wire,
      headers: [['host', c.route.host], ...Object.entries(added)],
      body: c.body ?? '',
    },
    {
      region: c.route.region,
      service: c.route.service,
      credentials: [c.credentials],
      now: new Date(c.now),
    },
  );
}

const sorted = (headers: Record<string, string>) => JSON.stringify(Object.entries(headers).sort());
const describeCase = (c: Case) => `${c.method} ${c.path}?${c.query.wire} (fixed path ${c.route.path})`;

describe('RouteSigner against @smithy/signature-v4 and the emulator', () => {
  const cases = corpus(20150830, 4000);

  it('covers what the corpus promises', () => {
    const has = (test: (c: Case) => boolean) => cases.filter(test).length;
    expect(has((c) => c.path === c.route.path)).toBeGreaterThan(300);
    expect(has((c) => c.route.path !== '' && c.path.startsWith(`${c.route.path}/`))).toBeGreaterThan(1000);
    expect(has((c) => /%[0-9a-f]{2}/i.test(c.path) && /[^\x20-\x7e]/.test(c.path))).toBeGreaterThan(1000);
    for (const part of [' ', ':', '%2F', '~', '+', '/./', '/../', '//']) {
      expect(
        has((c) => c.path.includes(part)),
        part,
      ).toBeGreaterThan(30);
    }
    expect(has((c) => Object.values(c.query.decoded).some((v) => v.length > 1))).toBeGreaterThan(300);
    expect(has((c) => '' in c.query.decoded && c.query.wire.includes('&&'))).toBeGreaterThan(100);
    expect(has((c) => /(^|&)[^=&]+(&|$)/.test(c.query.wire))).toBeGreaterThan(300);
    expect(has((c) => c.query.wire.includes('+'))).toBeGreaterThan(300);
    expect(has((c) => c.credentials.sessionToken !== undefined)).toBeGreaterThan(1000);
    expect(has((c) => c.route.service === 'lambda')).toBeGreaterThan(1000);
    expect(has((c) => c.body === undefined)).toBeGreaterThan(500);
    expect(new Set(cases.map((c) => c.route.region)).size).toBe(REGIONS.length);
  });

  it('signs every request byte for byte as smithy does', async () => {
    const mismatches: string[] = [];
    for (const c of cases) {
      const [mine, reference] = [sorted(ours(c)), sorted(await smithy(c))];
      if (mine !== reference) mismatches.push(`${describeCase(c)}: ${mine} != ${reference}`);
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('signs every request so that the emulator accepts it', () => {
    const rejected = cases
      .map((c) => [c, emulatorVerdict(c, ours(c))] as const)
      .filter(([, verdict]) => !verdict.ok)
      .map(([c, verdict]) => `${describeCase(c)}: ${JSON.stringify(verdict)}`);
    expect(rejected.slice(0, 5)).toEqual([]);
  });
});

/** Queries whose escapes are not all UTF-8 (lone bytes, truncated and overlong sequences, encoded surrogates) or malformed. */
function brokenQuery(rnd: Random): string {
  const escapes = [
    '%E9',
    '%FF',
    '%ff',
    '%E2%82',
    '%C0%AF',
    '%ED%A0%80',
    '%80',
    '%F4%90%80%80',
    '%C3',
    '%',
    '%4',
    '%zz',
    '100%',
  ];
  const parts = Array.from({ length: 1 + rnd.int(5) }, () => {
    const piece = () => (rnd.chance(0.5) ? rnd.pick(escapes) : wireText(text(rnd, 4), false, rnd));
    const key = rnd.chance(0.3) ? piece() : rnd.pick(['q', 'a', 'b', '']);
    return rnd.chance(0.2) ? key : `${key}=${piece()}${piece()}`;
  });
  return parts.join('&');
}

describe('RouteSigner on escapes smithy cannot sign as sent', () => {
  const rnd = random(10_11);
  const cases: Case[] = corpus(1011, 500).map((c) => ({
    ...c,
    query: { wire: brokenQuery(rnd), decoded: {} },
  }));

  it('canonicalises queries and paths as the emulator does', () => {
    const differ = cases.filter(
      (c) =>
        canonicalQuery(c.query.wire) !== emulator.canonicalQueryString(c.query.wire) ||
        canonicalUri(c.path) !== emulator.canonicalUri(c.path),
    );
    expect(differ.map(describeCase).slice(0, 5)).toEqual([]);
  });

  it('signs every request so that the emulator accepts it', () => {
    const rejected = cases.filter((c) => !emulatorVerdict(c, ours(c)).ok);
    expect(rejected.map(describeCase).slice(0, 5)).toEqual([]);
  });
});
