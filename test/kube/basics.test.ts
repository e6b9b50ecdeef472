// The Kubernetes plumbing's small pieces: backoff, error classification and descriptions, the Log shape.
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/kube/backoff.ts';
import { describeError, isTransient, KubeApiError, statusOf } from '../../src/kube/errors.ts';
import type { Log } from '../../src/kube/log.ts';

describe('Backoff', () => {
  it('doubles up to the cap, with jitter in [d/2, d], and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 });
    const ceilings = [100, 200, 400, 800, 1000, 1000];
    for (const ceiling of ceilings) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
    b.reset();
    expect(b.next()).toBeLessThanOrEqual(100);
  });
});

describe('errors', () => {
  it('classifies statuses', () => {
    expect(statusOf(new KubeApiError(410, 'gone'))).toBe(410);
    expect(statusOf(new TypeError('fetch failed'))).toBe(0);
    expect(isTransient(new TypeError('fetch failed'))).toBe(true);
    expect(isTransient(new KubeApiError(503, 'unavailable'))).toBe(true);
    expect(isTransient(new KubeApiError(429, 'throttled'))).toBe(true);
    expect(isTransient(new KubeApiError(403, 'forbidden'))).toBe(false);
  });

  it('describes a failed request by its cause', () => {
    const cause = Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
    expect(describeError(new TypeError('fetch failed', { cause }))).toBe('fetch failed (ECONNREFUSED)');
  });
});

describe('Log', () => {
  it('is satisfied by pino and Fastify loggers', () => {
    const fromPino: Log = pino({ level: 'silent' });
    const fromFastify = (logger: FastifyBaseLogger): Log => logger;
    expect(typeof fromPino.warn).toBe('function');
    expect(fromFastify(pino({ level: 'silent' }))).toBeDefined();
  });
});
