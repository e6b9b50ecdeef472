// A 50 MB response stream through lambda-ingress, run as its own process, to a
// client that reads slowly: the client's backpressure pauses the read from
// Lambda, so the gateway's resident memory stays flat instead of growing
// with the stream (it would hold most of it without backpressure).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts } from '../../hack/lib/ports.ts';
import { hasProcfs, residentMemory } from '../../hack/lib/procfs.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { streamOnCommand } from '../../src/emulator/streaming-functions.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';

const KEYS = { accessKeyId: 'AKIDSTREAM', secretAccessKey: 'stream-secret-key' };
const STREAM_BYTES = 50 * 1024 * 1024;
/** The client reads this much, then stops reading for PAUSE_MS. */
const BURST_BYTES = 1024 * 1024;
const PAUSE_MS = 40;

let emulator: Emulator;
let dir: string;
let proc: RunningProcess;
let port: number;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    keepRecords: false,
    functions: { stream: { streamingHandler: streamOnCommand, timeoutMs: 600_000 } },
  });
  dir = mkdtempSync(join(tmpdir(), 'stream-memory-'));
  writeFileSync(
    join(dir, 'routes.yaml'),
    documents(
      credentialsSecret('keys', KEYS),
      lambdaRoute(
        'stream',
        `match: {path: /stream}
target: {function: {name: stream, invokeMode: ResponseStream, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}
timeout: 30s`,
      ),
    ),
  );
  const [dataPort, adminPort] = await freePorts(2);
  port = dataPort;
  // A small young generation, so that the stream's dead buffers (socket reads, reassembled frames)
  // are collected as they die and what stays resident is what the gateway holds. By default V8
  // lets up to 64 MB of dead buffers pile up before it collects them: more than the stream.
  proc = startCli(['standalone', '--manifests', dir, ...listenOn(dataPort, adminPort), '--no-access-log'], {
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --max-semi-space-size=1`,
  });
  await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 15_000, proc);
});
afterAll(async () => {
  await proc?.stop('SIGKILL');
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Streams `bytes` from the route, reading in bursts with pauses; calls `sample` on every chunk read. */
function readSlowly(bytes: number, sample: () => void): Promise<{ status: number; received: number }> {
  return new Promise((resolve, reject) => {
    const client = request(
      { host: '127.0.0.1', port, path: `/stream?bytes=${bytes}&size=65536`, agent: false },
      (res) => {
        let received = 0;
        let burst = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          burst += chunk.length;
          sample();
          if (burst >= BURST_BYTES) {
            burst = 0;
            res.pause();
            setTimeout(() => res.resume(), PAUSE_MS);
          }
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, received }));
      },
    );
    client.on('error', reject);
    client.end();
  });
}

it.runIf(hasProcfs())(
  'keeps the gateway resident memory flat under a 50 MB stream to a slow client',
  async () => {
    const pid = proc.child.pid!;
    // Warm up (code paths compiled, pools and buffers allocated), then take the baseline.
    expect(await readSlowly(4 * 1024 * 1024, () => {})).toEqual({ status: 200, received: 4 * 1024 * 1024 });
    const baseline = residentMemory(pid).rssBytes;
    let peak = baseline;
    const sample = () => {
      peak = Math.max(peak, residentMemory(pid).rssBytes);
    };
    expect(await readSlowly(STREAM_BYTES, sample)).toEqual({ status: 200, received: STREAM_BYTES });
    // Without backpressure the gateway holds most of the stream (RSS grew by 57 to 70 MB when
    // tried); with it, a few socket buffers (6 to 9 MB).
    const growth = peak - baseline;
    expect(growth, `RSS grew by ${(growth / 1024 / 1024).toFixed(1)} MB`).toBeLessThan(STREAM_BYTES / 2);
  },
  120_000,
);
