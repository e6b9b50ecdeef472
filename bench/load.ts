// Load generators for the data-plane benchmark: wrk (closed loop, max
// throughput, -t/-c connections) and vegeta (open loop, a fixed request rate,
// for latency at a given load without coordinated omission).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './procs.ts';

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  rps: number;
  errors: number;
  errorDetail: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** CPU seconds the load generator itself used */
  loadgenCpuSeconds: number;
}

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  bodyBytes: number;
  seconds: number;
  connections: number;
  threads: number;
}

export async function wrk(spec: LoadSpec): Promise<LoadResult> {
  const args = [
    `-t${spec.threads}`,
    `-c${spec.connections}`,
    `-d${spec.seconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    spec.url,
  ];
  const env = { ...process.env, BENCH_METHOD: spec.method, BENCH_BODY_BYTES: String(spec.bodyBytes) };
  const { stdout, stderr, code, cpuSeconds } = await run('wrk', args, {
    env,
    timeoutMs: (spec.seconds + 60) * 1000,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${stdout}\n${stderr}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
    requests: number;
    durationUs: number;
    errors: Record<string, number>;
    latencyUs: Record<'min' | 'mean' | 'max' | 'stdev' | 'p50' | 'p90' | 'p99' | 'p999', number>;
  };
  const ms = (us: number) => us / 1000;
  const durationSeconds = r.durationUs / 1e6;
  return {
    requests: r.requests,
    durationSeconds,
    rps: r.requests / durationSeconds,
    errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
    errorDetail: r.errors,
    loadgenCpuSeconds: cpuSeconds,
    latencyMs: {
      p50: ms(r.latencyUs.p50),
      p90: ms(r.latencyUs.p90),
      p99: ms(r.latencyUs.p99),
      p999: ms(r.latencyUs.p999),
      max: ms(r.latencyUs.max),
      mean: ms(r.latencyUs.mean),
    },
  };
}

/** The fixed-rate load generator, built with `go install` into a cache dir outside the repo. */
export const VEGETA_MODULE = 'github.com/tsenart/vegeta/v12@v12.13.0';
export const VEGETA =
  process.env.BENCH_VEGETA ?? join(process.env.HOME ?? '/root', '.cache/lambda-ingress-bench/bin/vegeta');

export const percentile = (sorted: Float64Array | number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** A fixed-rate run with vegeta: `rate` requests/s over at most `connections` keep-alive connections. */
export async function vegeta(spec: LoadSpec & { rate: number; workDir: string }): Promise<LoadResult> {
  if (spec.method !== 'GET' || spec.bodyBytes !== 0) throw new Error('fixed-rate rows are GET only');
  const targets = join(spec.workDir, 'vegeta-targets.txt');
  const out = join(spec.workDir, 'vegeta.bin');
  writeFileSync(targets, `GET ${spec.url}\n`);
  const attack = await run(
    VEGETA,
    [
      'attack',
      `-targets=${targets}`,
      `-output=${out}`,
      `-rate=${Math.round(spec.rate)}/1s`,
      `-duration=${spec.seconds}s`,
      `-connections=${spec.connections}`,
      `-max-connections=${spec.connections}`,
      '-keepalive=true',
      '-http2=false',
      '-timeout=10s',
      '-max-body=0',
    ],
    { timeoutMs: (spec.seconds + 60) * 1000 },
  );
  if (attack.code !== 0) throw new Error(`vegeta attack failed (exit ${attack.code}): ${attack.stderr}`);
  const encoded = await run(VEGETA, ['encode', '--to=csv', out], { timeoutMs: 120_000 });
  if (encoded.code !== 0) throw new Error(`vegeta encode failed: ${encoded.stderr}`);
  // CSV: timestamp(ns),code,latency(ns),bytes_out,bytes_in,error,...
  const lines = encoded.stdout.split('\n').filter((l) => l.length > 0);
  const latencies = new Float64Array(lines.length);
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let errors = 0;
  const errorDetail: Record<string, number> = {};
  let sum = 0;
  lines.forEach((l, i) => {
    const f = l.split(',', 6);
    const ts = Number(f[0]);
    const status = Number(f[1]);
    const latencyMs = Number(f[2]) / 1e6;
    latencies[i] = latencyMs;
    sum += latencyMs;
    first = Math.min(first, ts);
    last = Math.max(last, ts + Number(f[2]));
    if (status !== 200) {
      errors++;
      errorDetail[`status ${status}`] = (errorDetail[`status ${status}`] ?? 0) + 1;
    }
  });
  latencies.sort();
  const durationSeconds = lines.length > 0 ? (last - first) / 1e9 : spec.seconds;
  return {
    requests: lines.length,
    durationSeconds,
    rps: lines.length / durationSeconds,
    errors,
    errorDetail,
    loadgenCpuSeconds: attack.cpuSeconds,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      p999: percentile(latencies, 99.9),
      max: latencies[latencies.length - 1] ?? Number.NaN,
      mean: sum / Math.max(1, lines.length),
    },
  };
}
