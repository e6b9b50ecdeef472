// The access log line is written by hand (access-line.ts, log.ts): it must
// be the JSON that pino wrote before, whatever the request carried, and keep
// to the log level.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { accessLogMembers, milliseconds } from '../../src/dataplane/access-line.ts';
import type { RoutedExchange } from '../../src/dataplane/router.ts';
import { createLoggers } from '../../src/util/log.ts';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

const exchange = (fields: Partial<RoutedExchange>) =>
  ({
    requestId: '0b8f5d1c-2a11-4a47-9c1e-6f1c7a0e3b7e',
    method: 'GET',
    path: '/',
    clientIp: '127.0.0.1',
    routeName: undefined,
    namespace: undefined,
    ...fields,
  }) as RoutedExchange;

const HOSTILE_PATHS = [
  '/quote"and\\backslash',
  '/control\u0001\u001f\u007f',
  '/latin1-bytes-\u00e9\u00ff',
  '/lone-surrogate-\ud800',
  '/</script>\u2028\u2029',
];

describe('the access log line', () => {
  it('prints durations as Math.round(ms * 1000) / 1000 does, for every magnitude', () => {
    const values = [0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 0.1005, 1, 1.0005, 999.9995, 1000, 123456.789];
    // Random values from 10^-4 to 10^6 ms, and values right next to a microsecond boundary.
    for (let i = 0; i < 100_000; i++) values.push(Math.random() * 10 ** ((i % 11) - 4));
    for (let i = 0; i < 10_000; i++) values.push(i / 1000 + (i % 2 ? 5e-10 : -5e-10));
    const differ = values.filter((v) => milliseconds(v) !== String(Math.round(v * 1000) / 1000));
    expect(differ).toEqual([]);
  });

  it.each(HOSTILE_PATHS)('is valid JSON with the path as sent: %j', async (path) => {
    const { stream, lines } = sink();
    const loggers = createLoggers('info', stream, { fields: { worker: 2 } });
    loggers.access.write(accessLogMembers(exchange({ path }), 200, 1.23456));
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, service: 'lambda-ingress', worker: 2, log: 'access', path });
    expect(line['msg']).toBe('request');
    expect(typeof line['time']).toBe('number');
  });

  it('has every field the exchange recorded, and none it did not', () => {
    const full = exchange({
      routeName: 'orders',
      namespace: 'shop',
      method: 'POST',
      path: '/orders/1',
      upstreamMs: 0.1234567,
      upstreamError: 'timeout',
      upstream: 'orders.internal:8443',
      upstreamRequestId: 'id with "quotes"',
      clientIp: '2001:db8::1',
    });
    expect(JSON.parse(`{${accessLogMembers(full, 504, 12.3456789).slice(1)}}`)).toEqual({
      requestId: full.requestId,
      route: 'orders',
      namespace: 'shop',
      method: 'POST',
      path: '/orders/1',
      status: 504,
      durationMs: 12.346,
      upstreamMs: 0.123,
      upstreamError: 'timeout',
      upstream: 'orders.internal:8443',
      upstreamRequestId: 'id with "quotes"',
      clientIp: '2001:db8::1',
    });
    expect(JSON.parse(`{${accessLogMembers(exchange({}), 404, 0).slice(1)}}`)).toEqual({
      requestId: full.requestId,
      method: 'GET',
      path: '/',
      status: 404,
      durationMs: 0,
      clientIp: '127.0.0.1',
    });
  });

  it('is not written below level info', () => {
    expect(createLoggers('warn', sink().stream).access.enabled).toBe(false);
    expect(createLoggers('silent', sink().stream).access.enabled).toBe(false);
    expect(createLoggers('debug', sink().stream).access.enabled).toBe(true);
  });
});
