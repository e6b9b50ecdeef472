// The buffered stdout writer of the logs (src/util/line-writer.ts), in child
// processes writing to a real socket and a real pipe: lines of two processes
// sharing one stdout never interleave, and a reader that stops reading neither
// blocks the writer nor makes it lose more than it says.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const WRITER = fileURLToPath(new URL('../../src/util/line-writer.ts', import.meta.url));

/** A child that writes N JSON lines to stdout (with LONG, every 50th over a pipe's atomic size), then drains. */
function childScript(): string {
  return `
import { LineWriter } from ${JSON.stringify(WRITER)};
const w = new LineWriter(1, { flushMs: 20, maxBytes: Number(process.env.MAX), shared: process.env.SHARED === '1' });
const n = Number(process.env.N);
for (let i = 0; i < n; i++) {
  w.write(JSON.stringify({ id: process.env.ID, i, text: 'é€😀'.repeat(i % 50 === 0 && process.env.LONG ? 2000 : i % 40) }) + '\\n');
  if (i % 500 === 0 && process.env.YIELD) await new Promise((r) => setImmediate(r));
}
process.stderr.write('written\\n');
await w.drain();
`;
}

/** Runs `command` in bash, reading its stdout (a socket; `| cat` makes it a pipe) only after `readAfterMs`. */
function run(command: string, env: Record<string, string>, readAfterMs = 0) {
  const child = spawn('bash', ['-c', command], {
    env: { ...process.env, ...env, SCRIPT: childScript() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let readFrom = 0;
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8');
  child.stdout.pause();
  setTimeout(() => {
    readFrom = stderr.split('written').length - 1;
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stdout.resume();
  }, readAfterMs);
  return new Promise<{ code: number | null; lines: string[]; writtenBeforeRead: number }>((resolve) =>
    child.on('close', (code) =>
      resolve({ code, lines: stdout.split('\n').slice(0, -1), writtenBeforeRead: readFrom }),
    ),
  );
}

const NODE = `${JSON.stringify(process.execPath)} --input-type=module -e "$SCRIPT"`;

it('two processes sharing one stdout: every line (up to a pipe’s atomic size) whole, once, in order', async () => {
  // Both write a few MB at once to one stream socket (the stdout Node's spawn gives): writes over a
  // pipe's atomic size from the two do get spliced there (seen with shared: false).
  const n = 20_000;
  const { code, lines } = await run(`ID=a ${NODE} & ID=b ${NODE}; wait`, {
    N: String(n),
    MAX: String(64 * 1024 * 1024),
    SHARED: '1',
  });
  expect(code).toBe(0);
  const parsed = lines.map((line) => JSON.parse(line) as { id: string; i: number });
  for (const id of ['a', 'b']) {
    expect(parsed.filter((l) => l.id === id).map((l) => l.i)).toEqual(Array.from({ length: n }, (_, i) => i));
  }
});

it('a reader that stops reading does not block the writer; what is dropped is counted and reported', async () => {
  const n = 20_000; // about 6 MB of lines, against 1 MB of room and a pipe that is not read for a while
  const { code, lines, writtenBeforeRead } = await run(
    `ID=a ${NODE} | cat`,
    { N: String(n), MAX: String(1024 * 1024), YIELD: '1', LONG: '1' },
    1500,
  );
  expect(code).toBe(0);
  expect(writtenBeforeRead).toBe(1); // the write loop finished while nobody read
  const parsed = lines.map((line) => JSON.parse(line) as { id?: string; i?: number; msg?: string });
  const kept = parsed.filter((l) => l.id === 'a');
  const notices = parsed.filter((l) => l.msg?.endsWith('log lines dropped: stdout did not keep up'));
  expect(notices).toHaveLength(1);
  const dropped = Number(notices[0]!.msg!.split(' ')[0]);
  expect(dropped).toBeGreaterThan(0);
  expect(kept.length + dropped).toBe(n);
  // What is kept is in order, each line once (a short line may still fit where a long one did not).
  const order = kept.map((l) => l.i!);
  expect(order).toEqual([...new Set(order)].sort((a, b) => a - b));
  expect(order.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => i));
});
