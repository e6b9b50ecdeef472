// npm run bench:stream: time to first byte and throughput of a streamed
// response (100 MB by default) through lambda-ingress, against the same
// stream read directly from the emulator, in one run. The demo emulator
// (`bin/lambda-ingress emulator`) streams with its `stream` function
// (src/emulator/streaming-functions.ts: 64 KiB writes, generated as they are
// read) on InvokeWithResponseStream and behind a RESPONSE_STREAM function URL;
// lambda-ingress runs standalone with a function route (invokeMode
// ResponseStream) and a url route in front of that function URL. Each is its
// own process; the client reading as fast as it can is this one. Rows are
// interleaved run by run, and the median run of each is reported.
//
//   node bench/stream.ts [--bytes 104857600] [--runs 5]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts } from '../hack/lib/ports.ts';
import { processStat, residentMemory } from '../hack/lib/procfs.ts';
import { DEMO_CREDENTIALS } from '../src/emulator/demo.ts';
import { sign } from '../src/emulator/sigv4.ts';
import { fmt } from './measure.ts';
import { registerTempDir, start, stop, waitForHttp } from './procs.ts';
import { REPO } from './servers.ts';

const { values } = parseArgs({
  options: {
    bytes: { type: 'string', default: String(100 * 1024 * 1024) },
    runs: { type: 'string', default: '5' },
  },
});
const BYTES = Number(values.bytes);
const RUNS = Number(values.runs);
const BIN = join(REPO, 'bin/lambda-ingress');
/** The stream function's command (streaming-functions.ts), in a query or an Invoke event. */
const command = (bytes: number) => ({ bytes: String(bytes), size: '65536' });
const query = (bytes: number) => new URLSearchParams(command(bytes)).toString();

interface Row {
  label: string;
  port: number;
  path: string;
  /** Sends the command in the query; otherwise as the Invoke event. */
  inQuery: boolean;
  /** Signed for the emulator (direct rows); lambda-ingress signs the others itself. */
  signed: boolean;
  /** lambda-ingress rows: its CPU and memory are measured. */
  gateway?: boolean;
}

interface Run {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  /** lambda-ingress's CPU seconds and peak sampled RSS during the run. */
  cpuSeconds?: number;
  peakRssBytes?: number;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-stream-'));
registerTempDir(dir, false);
const [emulatorPort, port, adminPort] = await freePorts(3);
const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;

const emulator = start(
  process.execPath,
  [BIN, 'emulator', '--emulator-port', String(emulatorPort)],
  join(dir, 'emulator.log'),
);
await waitForHttp(`${emulatorUrl}/`, emulator, 20_000, 404);

writeFileSync(
  join(dir, 'routes.yaml'),
  `apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: default}
stringData: {accessKeyId: ${DEMO_CREDENTIALS.accessKeyId}, secretAccessKey: ${DEMO_CREDENTIALS.secretAccessKey}}
---
apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: {name: stream-function, namespace: default}
spec:
  match: {path: /function}
  target: {function: {name: stream, invokeMode: ResponseStream, endpoint: "${emulatorUrl}"}}
  auth: {iam: {secretRef: {name: keys}}}
  timeout: 30s
---
apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: {name: stream-url, namespace: default}
spec:
  match: {path: /url}
  target: {url: "${emulatorUrl}/stream"}
  auth: {iam: {secretRef: {name: keys}, service: lambda}}
  timeout: 30s
`,
);
const gateway = start(
  process.execPath,
  [
    BIN,
    'standalone',
    '--manifests',
    dir,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--admin-port',
    String(adminPort),
    '--no-access-log',
  ],
  join(dir, 'lambda-ingress.log'),
);
await waitForHttp(`http://127.0.0.1:${adminPort}/readyz`, gateway);

const ROWS: Row[] = [
  {
    label: 'direct: InvokeWithResponseStream on the emulator (event stream bytes)',
    port: emulatorPort,
    path: '/2021-11-15/functions/stream/response-streaming-invocations',
    inQuery: false,
    signed: true,
  },
  {
    label: 'lambda-ingress, function target (invokeMode ResponseStream)',
    port,
    path: '/function',
    inQuery: true,
    signed: false,
    gateway: true,
  },
  {
    label: 'direct: RESPONSE_STREAM function URL on the emulator',
    port: emulatorPort,
    path: '/stream',
    inQuery: true,
    signed: true,
  },
  {
    label: 'lambda-ingress, url target in front of that function URL',
    port,
    path: '/url',
    inQuery: true,
    signed: false,
    gateway: true,
  },
];

/** One streamed response, read as fast as this process can, timed from the request to its first and last body byte. */
function stream(row: Row, size = BYTES): Promise<Run> {
  const search = row.inQuery ? query(size) : '';
  const method = row.inQuery ? 'GET' : 'POST';
  const body = Buffer.from(row.inQuery ? '' : JSON.stringify(command(size)));
  let headers: [string, string][] = [['host', `127.0.0.1:${row.port}`]];
  if (body.length > 0) headers.push(['content-length', String(body.length)]);
  if (row.signed) {
    headers = sign(
      { method, path: row.path, query: search, headers, body },
      { credentials: DEMO_CREDENTIALS, service: 'lambda', region: 'us-east-1' },
    );
  }
  const cpuBefore = processStat(gateway.pid)?.cpuSeconds ?? 0;
  let peakRssBytes = 0;
  const sample = () => {
    peakRssBytes = Math.max(peakRssBytes, residentMemory(gateway.pid).rssBytes);
  };
  const sampler = row.gateway ? setInterval(sample, 50) : undefined;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const client = request(
      {
        host: '127.0.0.1',
        port: row.port,
        method,
        path: `${row.path}?${search}`,
        headers: headers.flat(),
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`${row.label}: HTTP ${res.statusCode}`));
        let first = 0;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) first = performance.now();
          bytes += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const ended = performance.now();
          // The event stream's framing adds to the function's bytes; every other row gets them exact.
          const expected = row.inQuery ? bytes === size : bytes > size;
          if (!expected) reject(new Error(`${row.label}: ${bytes} bytes for a ${size}-byte stream`));
          clearInterval(sampler);
          sample();
          resolve({
            ttfbMs: first - started,
            totalMs: ended - started,
            bytes,
            ...(row.gateway && {
              cpuSeconds: (processStat(gateway.pid)?.cpuSeconds ?? 0) - cpuBefore,
              peakRssBytes,
            }),
          });
        });
      },
    );
    client.on('error', reject);
    client.end(body);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadBefore = loadavg();
process.stderr.write(
  `bench:stream: ${fmt(BYTES)} bytes, ${RUNS} runs per row, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
);
for (const row of ROWS) await stream(row, 4 * 1024 * 1024); // warm-up
const runs = new Map<Row, Run[]>(ROWS.map((row) => [row, []]));
for (let i = 0; i < RUNS; i++) {
  for (const row of ROWS) runs.get(row)!.push(await stream(row));
  process.stderr.write('.');
}
process.stderr.write('\n');
const loadAfter = loadavg();
await stop(gateway);
await stop(emulator);

console.log(
  `\n${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}`,
);
console.log(
  `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}\n`,
);
console.log(
  '| row | time to first byte ms | total ms | MB/s | lambda-ingress CPU s per 100 MB | lambda-ingress peak RSS MB |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const row of ROWS) {
  const measured = runs.get(row)!;
  const total = median(measured.map((r) => r.totalMs));
  const mbps = measured[0]!.bytes / 1e6 / (total / 1000);
  const cpu = row.gateway ? fmt(median(measured.map((r) => r.cpuSeconds! * (100e6 / r.bytes))), 2) : '–';
  const rss = row.gateway ? fmt(Math.max(...measured.map((r) => r.peakRssBytes!)) / 1024 / 1024) : '–';
  console.log(
    `| ${row.label} | ${fmt(median(measured.map((r) => r.ttfbMs)), 2)} | ${fmt(total)} | ${fmt(mbps)} | ${cpu} | ${rss} |`,
  );
}
