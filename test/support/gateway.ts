// Starts a real lambda-ingress (standalone pipeline, real sockets) on
// manifests written to a temporary directory, with logs captured in memory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SERVING_DEFAULTS } from '../../src/config.ts';
import { Gateway, type GatewayOptions } from '../../src/gateway.ts';
import { FileSource } from '../../src/sources/files.ts';
import { createLoggers } from '../../src/util/log.ts';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  adminUrl: string;
  /** Every log line written so far. */
  logs: string[];
  /** The access log lines so far, parsed. */
  accessLog(): Record<string, unknown>[];
  /** Writes (or replaces) a manifest file; the file source picks it up. */
  write(name: string, yaml: string): void;
  /** Deletes a manifest file, and with it its objects (an emptied file keeps them). */
  remove(name: string): void;
  /** Resolves once the table version has moved past `version`. */
  nextVersion(version?: number): Promise<number>;
  /** The HTTPS listener's URL, once it listens (it opens with the first certificate). */
  tlsUrl(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(
  manifests: Record<string, string>,
  options: Partial<GatewayOptions> = {},
): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-ingress-test-'));
  const write = (name: string, yaml: string) => writeFileSync(join(dir, name), yaml);
  for (const [name, yaml] of Object.entries(manifests)) write(name, yaml);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const loggers = createLoggers('debug', sink);
  const source = new FileSource(dir, { debounceMs: 20, pollIntervalMs: 60_000 });
  const snapshot = await source.load();
  const gateway = await Gateway.start({
    ...SERVING_DEFAULTS,
    loggers,
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    adminPort: 0,
    debugRoutes: true,
    ...options,
  });
  gateway.pipeline.apply(snapshot);
  await source.watch((next) => gateway.pipeline.apply(next));
  const version = () => gateway.pipeline.current?.table.version ?? 0;
  return {
    gateway,
    url: gateway.url,
    adminUrl: gateway.adminUrl,
    logs,
    accessLog: () =>
      logs
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['log'] === 'access'),
    write,
    remove: (name) => rmSync(join(dir, name)),
    async nextVersion(after = version()) {
      const deadline = Date.now() + 5000;
      while (version() <= after) {
        if (Date.now() > deadline) throw new Error(`table version did not move past ${after}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return version();
    },
    async tlsUrl() {
      const deadline = Date.now() + 5000;
      while (gateway.tlsUrl === undefined) {
        if (Date.now() > deadline) throw new Error('the HTTPS listener did not open');
        await new Promise((r) => setTimeout(r, 10));
      }
      return gateway.tlsUrl;
    },
    async close() {
      source.close();
      await gateway.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
