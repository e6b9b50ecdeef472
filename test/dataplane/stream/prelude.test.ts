// The function stream's optional HTTP metadata prelude: found across any
// chunking, told apart from bodies as early as possible, with bounded buffering.
import { describe, expect, it } from 'vitest';
import { PreludeReader, type PreludeResult } from '../../../src/dataplane/stream/prelude.ts';

const NULS = Buffer.alloc(8);
const bytes = (text: string) => Buffer.from(text, 'utf8');

/** Feeds chunks until the reader decides; returns its result and the whole body (decisive tail plus the rest). */
function read(chunks: readonly Buffer[], reader = new PreludeReader()) {
  let result: PreludeResult | undefined;
  let index = 0;
  while (result === undefined && index < chunks.length) result = reader.push(chunks[index++]!);
  result ??= reader.end();
  if (!result.ok) return { result, decidedAt: index };
  const body = Buffer.concat([result.body, ...chunks.slice(index)]).toString('utf8');
  return { result, head: result.head, body, decidedAt: index };
}

const METADATA = {
  statusCode: 201,
  headers: { 'Content-Type': 'text/html', 'X-One': 'a', 'X-Many': ['b', 'c'], 'Content-Length': '999' },
  multiValueHeaders: { 'X-Multi': ['d', 'e'] },
  cookies: ['a=1; Path=/', 'b=2; HttpOnly'],
};
const HEAD = {
  statusCode: 201,
  headers: [
    ['Content-Type', 'text/html'],
    ['X-One', 'a'],
    ['X-Many', 'b'],
    ['X-Many', 'c'],
    ['X-Multi', 'd'],
    ['X-Multi', 'e'],
    ['set-cookie', 'a=1; Path=/'],
    ['set-cookie', 'b=2; HttpOnly'],
  ],
};
const STREAM = Buffer.concat([bytes(JSON.stringify(METADATA)), NULS, bytes('<p>body</p>')]);

describe('stream metadata prelude', () => {
  it('reads status, headers (strings and arrays), multi-value headers and cookies, dropping content-length', () => {
    const { head, body } = read([bytes(JSON.stringify(METADATA)), NULS, bytes('<p>body</p>')]);
    expect(head).toEqual(HEAD);
    expect(body).toBe('<p>body</p>');
  });

  it('finds metadata split at every byte boundary, and one byte at a time', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      const { head, body } = read([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      expect(head, `cut at ${cut}`).toEqual(HEAD);
      expect(body, `cut at ${cut}`).toBe('<p>body</p>');
    }
    const single = [...STREAM].map((b) => Buffer.from([b]));
    const { head, body, decidedAt } = read(single);
    expect(head).toEqual(HEAD);
    expect(body).toBe('<p>body</p>');
    // Decided on the last NUL, not later.
    expect(decidedAt).toBe(JSON.stringify(METADATA).length + 8);
  });

  it('reads metadata and body from a single chunk', () => {
    const reader = new PreludeReader();
    const result = reader.push(STREAM);
    expect(result).toEqual({ ok: true, head: HEAD, body: bytes('<p>body</p>') });
    expect(() => reader.push(bytes('more'))).toThrow('after it decided');
  });

  it('without metadata: 200, application/octet-stream, decided on the first byte', () => {
    const reader = new PreludeReader();
    expect(reader.push(bytes('data: hello\n\n'))).toEqual({
      ok: true,
      head: { statusCode: 200, headers: [['content-type', 'application/octet-stream']] },
      body: bytes('data: hello\n\n'),
    });
  });

  it('an empty stream, or one that ends before deciding, is body', () => {
    expect(read([])).toMatchObject({ head: { statusCode: 200 }, body: '' });
    expect(read([bytes('{"statusCode":201}'), Buffer.alloc(3)])).toMatchObject({
      head: { statusCode: 200, headers: [['content-type', 'application/octet-stream']] },
      body: '{"statusCode":201}\0\0\0',
    });
  });

  it('holds an NDJSON body back only until its first object ends', () => {
    const reader = new PreludeReader();
    expect(reader.push(bytes('{"n":1,"s":"}{"'))).toBeUndefined();
    expect(reader.push(bytes('}\n{"n":2}'))).toEqual({
      ok: true,
      head: { statusCode: 200, headers: [['content-type', 'application/octet-stream']] },
      body: bytes('{"n":1,"s":"}{"}\n{"n":2}'),
    });
  });

  it('gives up on a JSON body at the bound, without buffering more', () => {
    const reader = new PreludeReader({ maxBytes: 64 });
    expect(reader.push(bytes(`{"big":"${'x'.repeat(40)}`))).toBeUndefined();
    const result = reader.push(bytes(`${'y'.repeat(40)}"}`));
    expect(result).toMatchObject({ ok: true, head: { statusCode: 200 } });
    expect(result?.ok && result.body.toString()).toBe(`{"big":"${'x'.repeat(40)}${'y'.repeat(40)}"}`);
  });

  it('follows strings and escapes: braces and quotes inside strings do not close the object', () => {
    const metadata = { statusCode: 202, headers: { 'x-tricky': '}{\\"}]' } };
    const { head, body } = read([bytes(JSON.stringify(metadata)), NULS, bytes('ok')]);
    expect(head).toEqual({
      statusCode: 202,
      headers: [
        ['content-type', 'application/octet-stream'],
        ['x-tricky', '}{\\"}]'],
      ],
    });
    expect(body).toBe('ok');
  });

  it('a closed object not followed by 8 NULs, or braces that are not JSON, is body', () => {
    expect(read([bytes('{"a":1}'), Buffer.from([0, 0, 0, 0x41])])).toMatchObject({
      head: { statusCode: 200 },
      body: '{"a":1}\0\0\0A',
    });
    expect(read([bytes('{not json}'), NULS, bytes('rest')])).toMatchObject({
      head: { statusCode: 200 },
      body: '{not json}\0\0\0\0\0\0\0\0rest',
    });
  });

  it('defaults status 200 and content type when the metadata gives none', () => {
    expect(read([bytes('{}'), NULS])).toMatchObject({
      head: { statusCode: 200, headers: [['content-type', 'application/octet-stream']] },
      body: '',
    });
  });

  it.each([
    ['a status below 200', { statusCode: 99 }, 'statusCode must be an integer from 200 to 599'],
    ['headers that are not an object', { headers: ['x'] }, 'headers must be an object'],
    [
      'a header value that is an object',
      { headers: { 'x-a': { secret: 1 } } },
      'headers values must be strings',
    ],
    ['a bad header name', { headers: { 'bad name': 'v' } }, 'not a valid HTTP header name'],
    ['cookies that are not strings', { cookies: [1] }, 'cookies must be an array of strings'],
    ['a cookie with a newline', { cookies: ['a=1\r\nx-injected: 1'] }, 'not a valid HTTP header value'],
  ])('refuses metadata with %s, without quoting it', (_, metadata, reason) => {
    const { result } = read([bytes(JSON.stringify(metadata)), NULS, bytes('body')]);
    expect(result).toEqual({ ok: false, reason: expect.stringContaining(reason) });
    expect(JSON.stringify(result)).not.toMatch(/secret|bad name|injected/);
  });
});
