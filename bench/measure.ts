// A tiny harness for micro-benchmarks: runs `fn` in batches until `minMs`
// has passed (after a warm-up) and reports operations per second.
export interface Measurement {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
}

export async function measure(
  name: string,
  fn: () => unknown,
  minMs = 1000,
  batch = 1000,
): Promise<Measurement> {
  const run = async (ms: number) => {
    let ops = 0;
    const started = performance.now();
    while (performance.now() - started < ms) {
      for (let i = 0; i < batch; i++) {
        const result = fn();
        if (result instanceof Promise) await result;
      }
      ops += batch;
    }
    return { ops, ms: performance.now() - started };
  };
  await run(Math.min(300, minMs / 3)); // warm-up: let the JIT settle
  const { ops, ms } = await run(minMs);
  return { name, opsPerSec: (ops / ms) * 1000, nsPerOp: (ms * 1e6) / ops };
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
