// The debounce shared by the sources: quiet time, max wait, and holding off until ready.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debounce } from '../../src/util/debounce.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Debounce', () => {
  it('fires once, after the quiet time that follows the last trigger', () => {
    const fire = vi.fn();
    const debounce = new Debounce(fire, { quietMs: 100 });
    debounce.trigger();
    vi.advanceTimersByTime(60);
    debounce.trigger();
    vi.advanceTimersByTime(99);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('without a max wait, a steady stream of triggers holds it off', () => {
    const fire = vi.fn();
    const debounce = new Debounce(fire, { quietMs: 100 });
    for (let i = 0; i < 50; i++) {
      debounce.trigger();
      vi.advanceTimersByTime(50);
    }
    expect(fire).not.toHaveBeenCalled();
  });

  it('with a max wait, fires under a steady stream no later than that after the first trigger', () => {
    const fire = vi.fn();
    const debounce = new Debounce(fire, { quietMs: 100, maxWaitMs: 300 });
    for (let i = 0; i < 6; i++) {
      debounce.trigger();
      vi.advanceTimersByTime(50);
    }
    expect(fire).toHaveBeenCalledTimes(1); // at 300 ms
    // The next burst has its own max wait, counted from its first trigger.
    debounce.trigger();
    vi.advanceTimersByTime(99);
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(2);
  });

  it('waits while not ready, checking every 20 ms, but never beyond the max wait', () => {
    const fire = vi.fn();
    let ready = false;
    const debounce = new Debounce(fire, { quietMs: 100, maxWaitMs: 500, ready: () => ready });
    debounce.trigger();
    vi.advanceTimersByTime(200);
    expect(fire).not.toHaveBeenCalled();
    ready = true;
    vi.advanceTimersByTime(20);
    expect(fire).toHaveBeenCalledTimes(1);

    ready = false;
    debounce.trigger();
    vi.advanceTimersByTime(499);
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(21);
    expect(fire).toHaveBeenCalledTimes(2);
  });

  it('cancel() drops the pending burst', () => {
    const fire = vi.fn();
    const debounce = new Debounce(fire, { quietMs: 100, maxWaitMs: 200 });
    debounce.trigger();
    debounce.cancel();
    vi.advanceTimersByTime(1000);
    expect(fire).not.toHaveBeenCalled();
    // A later trigger starts a new burst (its max wait is not the old one's).
    vi.advanceTimersByTime(150);
    debounce.trigger();
    vi.advanceTimersByTime(99);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });
});
