// A tiny harness for micro-benchmarks: runs `fn` in batches until `minMs`
// has passed (after a warm-up) and reports operations per second, and the
// process CPU time per operation (steadier than wall time on a shared machine).
export interface Measurement {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
  cpuNsPerOp: number;
}

export async function measure(
  name: string,
  fn: () => unknown,
  minMs = 1000,
  batch = 1000,
): Promise<Measurement> {
  const run = async (ms: number) => {
    let ops = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    while (performance.now() - started < ms) {
      for (let i = 0; i < batch; i++) {
        const result = fn();
        if (result instanceof Promise) await result;
      }
      ops += batch;
    }
    const { user, system } = process.cpuUsage(cpu);
    return { ops, ms: performance.now() - started, cpuUs: user + system };
  };
  await run(Math.min(300, minMs / 3)); // warm-up: let the JIT settle
  const { ops, ms, cpuUs } = await run(minMs);
  return { name, opsPerSec: (ops / ms) * 1000, nsPerOp: (ms * 1e6) / ops, cpuNsPerOp: (cpuUs * 1000) / ops };
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
