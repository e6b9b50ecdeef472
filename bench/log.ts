// npm run bench:log: what writing one access line to stdout costs. The
// process CPU time (main thread and libuv's thread pool) per line of
// src/util/line-writer.ts, next to pino's asynchronous sonic-boom destination
// with an 8 KiB minimum write (what the logs used before), writing the same
// lines to a file; 32 lines per event-loop turn, as a busy data plane
// produces them. Building the line is left out: both get the same string.
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LineWriter } from '../src/util/line-writer.ts';
import { fmt } from './measure.ts';

const LINES = 300_000;
const PER_TURN = 32;
const LINE =
  '{"level":30,"time":1796226068026,"service":"lambda-ingress","log":"access","requestId":"6c1b8f9e-4a8e-4a57-9a43-2b8f3f4d8a11","route":"signed","namespace":"default","method":"GET","path":"/signed","status":200,"durationMs":1.234,"upstreamMs":0.876,"clientIp":"127.0.0.1","msg":"request"}\n';

interface Destination {
  write(line: string): void;
  /** Resolves once every line is written. */
  end(): Promise<void>;
}

const destinations: Record<string, (fd: number) => Destination> = {
  'LineWriter (line-aligned writes of up to 64 KiB)': (fd) => {
    const writer = new LineWriter(fd, { flushMs: 500, maxBytes: 64 * 1024 * 1024, shared: false });
    return { write: (line) => writer.write(line), end: () => writer.drain() };
  },
  'pino.destination, sync: false, minLength 8 KiB (sonic-boom)': (fd) => {
    const stream = pino.destination({ dest: fd, sync: false, minLength: 8192 });
    return {
      write: (line) => stream.write(line),
      end: () => new Promise((resolve) => stream.flush(() => resolve())),
    };
  },
};

/** CPU µs per line over LINES lines, PER_TURN per event-loop turn. */
async function cpuPerLine(make: (fd: number) => Destination, file: string): Promise<number> {
  const destination = make(openSync(file, 'w'));
  const cpu = process.cpuUsage();
  for (let i = 0; i < LINES; i += PER_TURN) {
    // A different line each time, as real ones are (no string is reused whole).
    for (let k = 0; k < PER_TURN; k++) destination.write(LINE.replace('1.234', String(i + k)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await destination.end();
  const { user, system } = process.cpuUsage(cpu);
  return (user + system) / LINES;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-log-'));
try {
  const results = new Map<string, number[]>();
  // Interleaved rounds; the best of each is reported (the machine is shared).
  for (let round = 0; round < 5; round++) {
    for (const [name, make] of Object.entries(destinations)) {
      const us = await cpuPerLine(make, join(dir, 'out.log'));
      results.set(name, [...(results.get(name) ?? []), us]);
    }
  }
  console.log(`${fmt(LINES)} lines of ${LINE.length} bytes to a file, ${PER_TURN} per event-loop turn\n`);
  console.log('| destination | CPU per line (best of 5) | all rounds |');
  console.log('| --- | ---: | --- |');
  for (const [name, rounds] of results) {
    console.log(
      `| ${name} | ${fmt(Math.min(...rounds), 2)} µs | ${rounds.map((r) => fmt(r, 2)).join(', ')} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
