// upstreamPath against an independent reference: random request paths made of
// encoded separators, dots, path parameters, NULs and ordinary names are
// forwarded (or refused), and every path forwarded is read the way lenient
// upstreams read it (decode once, maybe split at "\", cut at ";" or at a
// decoded "?"/"#"/NUL, then RFC 3986 §5.2.4 dot-segment removal). Whatever the
// reading, it must stay under the target URL's path.
import { describe, expect, it } from 'vitest';
import { upstreamPath } from '../../src/dataplane/upstream-path.ts';

/** RFC 3986 §5.2.4 remove_dot_segments, step by step as the RFC writes it. */
function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  const dropLastSegment = () => {
    output = output.slice(0, Math.max(output.lastIndexOf('/'), 0));
  };
  while (input.length > 0) {
    if (input.startsWith('../'))
      input = input.slice(3); // A
    else if (input.startsWith('./'))
      input = input.slice(2); // A
    else if (input.startsWith('/./'))
      input = input.slice(2); // B
    else if (input === '/.')
      input = '/'; // B
    else if (input.startsWith('/../')) {
      input = input.slice(3); // C
      dropLastSegment();
    } else if (input === '/..') {
      input = '/'; // C
      dropLastSegment();
    } else if (input === '.' || input === '..')
      input = ''; // D
    else {
      // E: move the first segment (with its leading "/") to the output
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const segment = next === -1 ? input : input.slice(0, next);
      output += segment;
      input = input.slice(segment.length);
    }
  }
  return output;
}

/** One percent-decoding into bytes, read as UTF-8 (lenient, like Python's unquote). */
const decode = (path: string) =>
  Buffer.from(
    path.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');

const eachSegment = (path: string, f: (segment: string) => string) => path.split('/').map(f).join('/');
const cutAt = (text: string, chars: RegExp) => {
  const end = text.search(chars);
  return end === -1 ? text : text.slice(0, end);
};

/** How upstreams read a path they are sent, before resolving its dot segments. */
const READINGS: Record<string, (path: string) => string> = {
  'as sent (RFC 3986)': (p) => p,
  'decoded once (python http.server, nginx)': decode,
  'decoded, "\\" is a separator (Windows)': (p) => decode(p).replaceAll('\\', '/'),
  'decoded, trailing spaces and dots trimmed (Windows)': (p) =>
    eachSegment(decode(p).replaceAll('\\', '/'), (s) => (/^[ .]+$/.test(s) ? s.replace(/[ ]+$/, '') : s)),
  '";" parameters cut, then decoded (Tomcat)': (p) => decode(eachSegment(p, (s) => cutAt(s, /;/))),
  'decoded, then ";" parameters cut': (p) => eachSegment(decode(p), (s) => cutAt(s, /;/)),
  'decoded, then cut at "?", "#" or NUL': (p) => cutAt(decode(p), /[?#\0]/),
};

const under = (base: string, path: string) => base === '' || path === base || path.startsWith(`${base}/`);

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible seed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomRest(next: () => number, tokens: readonly string[], maxTokensPerSegment: number): string {
  const pick = () => tokens[Math.floor(next() * tokens.length)]!;
  const segments = Array.from({ length: 1 + Math.floor(next() * 6) }, () =>
    Array.from({ length: 1 + Math.floor(next() * maxTokensPerSegment) }, pick).join(''),
  );
  return `/${segments.join('/')}${next() < 0.2 ? '/' : ''}`;
}

const BASES = ['/public', '/a/b', ''];
/** Pieces of hostile segments: dots, encoded separators, parameters, NUL and controls, double encoding, names. */
// biome-ignore format: a token list
const HOSTILE = [
  '.', '..', '...', '%2e', '%2E', '.%2e', '%2E.', '%2f', '%2F', '%5c', '%5C', '\\', ';', '%3b', '%3B',
  '%3f', '%3F', '%23', '%00', '%0a', '%7f', '%20', '%25', '%252e', '%252F', 'a', 'b', 'x.y', '~', '%41',
  '%c3%a9', '..;', ';x',
];
/** Names no upstream reads as a dot segment, and real dot segments: never refused. */
// biome-ignore format: a token list
const BENIGN = [
  'a', 'b.c', '.hidden', 'x%20y', '%41', 'caf%C3%A9', '%2F', 'a%2Fb', '%5C', 'a%5cb', '~', 'a;b=1', '%3B',
  '%252e%252e', '.', '..', '%2e', '%2E%2e', '.%2E', '',
];

describe('upstreamPath', () => {
  it('never forwards a path that any reading resolves above the base path (fuzz)', () => {
    const seed = Number(process.env['FUZZ_SEED'] ?? 20261201);
    const next = random(seed);
    let forwarded = 0;
    let refused = 0;
    let naiveEscapes = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = BASES[i % BASES.length]!;
      const rest = randomRest(next, HOSTILE, 3);
      const context = `seed ${seed}, base ${JSON.stringify(base)}, rest ${JSON.stringify(rest)}`;
      if (Object.values(READINGS).some((read) => !under(base, removeDotSegments(read(base + rest)))))
        naiveEscapes++;
      const path = upstreamPath(base, rest);
      if (path === undefined) {
        refused++;
        continue;
      }
      forwarded++;
      expect(path.startsWith(`${base}/`), context).toBe(true);
      for (const [name, read] of Object.entries(READINGS)) {
        const resolved = removeDotSegments(read(path));
        expect(under(base, resolved), `${context} -> ${JSON.stringify(path)}, ${name}: ${resolved}`).toBe(
          true,
        );
      }
    }
    // The generator does produce escapes, and the rule does not simply refuse everything.
    expect(naiveEscapes).toBeGreaterThan(1000);
    expect(forwarded).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(2000);
  });

  it('forwards names and resolves real dot segments exactly as RFC 3986 does, never refusing them (fuzz)', () => {
    const next = random(7);
    for (let i = 0; i < 5_000; i++) {
      const base = BASES[i % BASES.length]!;
      const rest = randomRest(next, BENIGN, 1);
      // Segments that decode to "." or ".." are the only ones lambda-ingress resolves itself.
      const dots = eachSegment(rest, (s) => (/^(?:\.|%2e){1,2}$/i.test(s) ? decode(s) : s));
      expect(upstreamPath(base, rest), `base ${JSON.stringify(base)}, rest ${JSON.stringify(rest)}`).toBe(
        base + removeDotSegments(dots),
      );
    }
  });

  it.each([
    ['/..%2fsecret.txt'],
    ['/%2e%2e%2fsecret.txt'],
    ['/x%2f..%2f..%2fsecret.txt'],
    ['/..%5csecret.txt'],
    ['/..\\secret.txt'],
    ['/..;x/secret.txt'],
    ['/..%3b/secret.txt'],
    ['/%2E%2E%00/secret.txt'],
    ['/..%3f/secret.txt'],
    ['/..%23/secret.txt'],
    ['/.. /secret.txt'.replace(' ', '%20')],
    ['/a%0d%0aX-Injected:%201'],
    ['/..%ff/secret.txt'],
  ])('refuses %s', (rest) => {
    expect(upstreamPath('/public', rest)).toBeUndefined();
  });

  it.each([
    ['/a/../../%2e%2e/etc/passwd', '/public/etc/passwd'],
    ['/%252e%252e/secret.txt', '/public/%252e%252e/secret.txt'],
    ['/files/a%2Fb.txt', '/public/files/a%2Fb.txt'],
    ['/a/.', '/public/a/'],
    ['', '/public'],
  ])('forwards %s as %s', (rest, path) => {
    expect(upstreamPath('/public', rest)).toBe(path);
  });
});
