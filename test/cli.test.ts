// bin/lambda-ingress refuses bad flags with exit code 2 and a message that names
// the flag, and reports system errors (a port in use) in one line, not a stack.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, listenOn, startCli } from './support/process.ts';

const EXAMPLES = new URL('../examples/', import.meta.url).pathname;

it.each([
  [
    ['--log-level', 'loud'],
    '--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
  ],
  [['--trusted-proxy', '10.0.0.0/33'], '--trusted-proxy 10.0.0.0/33 is not an IP address or CIDR range'],
  [['--trusted-proxy', 'proxy.local'], '--trusted-proxy proxy.local is not an IP address or CIDR range'],
  [['--port', '70000'], '--port must be an integer from 0 to 65535, got "70000"'],
  [['--shutdown-grace', '25'], '--shutdown-grace must be a duration such as 25s, got "25"'],
  [['--workers', 'two'], '--workers must be an integer from 0 to'],
  [['--no-such-flag'], "Unknown option '--no-such-flag'"],
])('standalone %j exits 2: %s', async (flags, message) => {
  const proc = startCli(['standalone', '--manifests', EXAMPLES, ...flags]);
  expect(await proc.exited).toBe(2);
  expect(proc.output()).toContain(message);
  expect(proc.output()).toContain('Usage:');
});

let taken: Server;
let takenPort: number;
beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

it('exits 1 with one line when the port is in use', async () => {
  const proc = startCli(['standalone', '--manifests', EXAMPLES, ...listenOn(takenPort, await freePort())]);
  expect(await proc.exited).toBe(1);
  const errorLine = proc
    .output()
    .split('\n')
    .filter((line) => line.startsWith('lambda-ingress:'));
  expect(errorLine).toEqual([expect.stringMatching(new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${takenPort}`))]);
  expect(proc.output()).not.toMatch(/\n\s+at /); // no stack trace
});
