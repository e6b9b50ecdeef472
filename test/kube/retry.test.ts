// Per-key retries: one backoff and at most one pending timer per key.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeyedRetry } from '../../src/kube/retry.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('KeyedRetry', () => {
  it('backs off per key, runs each key once per schedule, and starts over after clear()', () => {
    const runs: string[] = [];
    const retry = new KeyedRetry({ initialMs: 100, maxMs: 400 }, (key) => runs.push(key));
    const delays = [retry.schedule('a'), retry.schedule('a'), retry.schedule('a')];
    // Each call replaces the pending retry; the delays still grow (in [d/2, d], d = 100, 200, 400).
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThanOrEqual(100);
    expect(delays[2]).toBeGreaterThanOrEqual(200);
    const other = retry.schedule('b'); // its own backoff
    expect(other).toBeLessThanOrEqual(100);
    expect(retry.pending('a')).toBe(true);

    vi.advanceTimersByTime(400);
    expect(runs.sort()).toEqual(['a', 'b']);
    expect(retry.pending('a')).toBe(false);

    retry.clear('a');
    expect(retry.schedule('a')).toBeLessThanOrEqual(100);
    retry.clear('a');
    vi.advanceTimersByTime(1000);
    expect(runs).toHaveLength(2);
  });

  it('clearAll() drops every pending retry', () => {
    const run = vi.fn();
    const retry = new KeyedRetry({ initialMs: 100 }, run);
    retry.schedule('a');
    retry.schedule('b');
    retry.clearAll();
    vi.advanceTimersByTime(10_000);
    expect(run).not.toHaveBeenCalled();
    expect(retry.pending('a')).toBe(false);
  });
});
