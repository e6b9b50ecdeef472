// bin/lambda-ingress: standalone | controller | demo | emulator.

import cluster from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DURATION_PATTERN, parseDuration } from './api/duration.ts';
import { ClientIpResolver } from './dataplane/client-ip.ts';
import { Gateway, type GatewayOptions } from './gateway.ts';
import { createLoggers, type Loggers } from './log.ts';
import { FileSource } from './sources/files.ts';
import { runWorker } from './workers.ts';

// The Kubernetes client and the AWS emulator are loaded only by the commands
// that use them: each costs tens of MB of memory in every serving process.
const loadController = () => import('./controller.ts');
const loadDemoEmulator = () => import('./emulator/demo.ts');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Where the demo's AWS emulator listens; examples/ point at it. */
const DEMO_EMULATOR_PORT = 9092;

const USAGE = `Usage: lambda-ingress <command> [options]

Commands:
  standalone --manifests <file-or-dir>   Serve LambdaRoutes and Secrets from YAML files, following changes live.
  controller                             Watch LambdaRoutes and Secrets in a Kubernetes cluster.
  demo                                   Standalone mode on examples/ plus a local AWS emulator.
  emulator                               Only the AWS emulator the demo uses (for trying things by hand).

Options:
  --port <n>              data plane port (default 9080)
  --host <addr>           listen address (default 0.0.0.0)
  --admin-port <n>        admin port: /healthz, /readyz, /metrics, /debug/routes (default 9091)
  --manifests <path>      standalone: a YAML file or a directory of them
  --kubeconfig <path>     controller: kubeconfig (default: in-cluster config)
  --namespace <ns>        controller: watch this namespace (repeatable; default: all)
  --lease-namespace <ns>  controller: namespace of the leader Lease (default: $POD_NAMESPACE, else default)
  --body-limit <bytes>    largest request body buffered for signing (default 6291456)
  --trusted-proxy <cidr>  a proxy whose X-Forwarded-* headers are kept (repeatable; default: none)
  --shutdown-grace <dur>  time in-flight requests get to finish on SIGTERM (default 25s)
  --workers <n>           serving processes sharing the port (default 1: one process does everything)
  --log-level <level>     fatal, error, warn, info, debug, trace (default info)
  --no-access-log         no JSON line per request (on by default)
  --emulator-port <n>     demo/emulator: AWS emulator port (default ${DEMO_EMULATOR_PORT})
  -h, --help              show this help
`;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'admin-port': { type: 'string' },
      manifests: { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      'lease-namespace': { type: 'string' },
      'body-limit': { type: 'string' },
      'trusted-proxy': { type: 'string', multiple: true },
      'shutdown-grace': { type: 'string' },
      workers: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'access-log': { type: 'boolean', default: true },
      'emulator-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const number = (name: keyof typeof values, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = values[name];
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new UsageError(`--${name} must be an integer from 0 to ${max}, got "${text}"`);
    return n;
  };
  const grace = values['shutdown-grace'] ?? '25s';
  if (!new RegExp(DURATION_PATTERN).test(grace)) {
    throw new UsageError(`--shutdown-grace must be a duration such as 25s, got "${grace}"`);
  }
  const logLevel = values['log-level']!;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const trustedProxies = values['trusted-proxy'] ?? [];
  try {
    new ClientIpResolver(trustedProxies);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    command: positionals[0],
    extra: positionals.slice(1),
    help: values.help === true,
    port: number('port', 9080, 65535),
    host: values.host ?? '0.0.0.0',
    adminPort: number('admin-port', 9091, 65535),
    manifests: values.manifests,
    kubeconfig: values.kubeconfig,
    namespaces: values.namespace ?? [],
    leaseNamespace: values['lease-namespace'] ?? process.env['POD_NAMESPACE'] ?? 'default',
    bodyLimit: number('body-limit', 6 * 1024 * 1024),
    trustedProxies,
    shutdownGraceMs: parseDuration(grace),
    workers: Math.max(1, number('workers', 1)),
    logLevel,
    accessLog: values['access-log'] !== false,
    emulatorPort: number('emulator-port', DEMO_EMULATOR_PORT, 65535),
  };
}

type Options = ReturnType<typeof parse>;

function gatewayOptions(options: Options, loggers: Loggers): GatewayOptions {
  return {
    loggers,
    accessLog: options.accessLog,
    host: options.host,
    port: options.port,
    adminPort: options.adminPort,
    bodyLimit: options.bodyLimit,
    trustedProxies: options.trustedProxies,
    shutdownGraceMs: options.shutdownGraceMs,
    workers: options.workers,
  };
}

async function serveFiles(options: Options, manifests: string) {
  const loggers = createLoggers(options.logLevel);
  const source = new FileSource(manifests);
  let snapshot: Awaited<ReturnType<FileSource['load']>>;
  try {
    snapshot = await source.load();
  } catch (error) {
    throw new UsageError(`cannot read --manifests ${manifests}: ${(error as Error).message}`);
  }
  const gateway = await Gateway.start(gatewayOptions(options, loggers));
  gateway.pipeline.apply(snapshot);
  await source.watch((next) => gateway.pipeline.apply(next));
  loggers.app.info(
    { url: gateway.url, admin: gateway.adminUrl, manifests },
    'lambda-ingress standalone is serving',
  );
  const stop = async () => {
    source.close();
    await gateway.shutdown();
  };
  return { loggers, stop };
}

/** A --workers process: serve what the primary sends; the primary owns sources, status and the admin port. */
function serveAsWorker(options: Options): Promise<void> {
  return runWorker({
    loggers: createLoggers(options.logLevel, undefined, { worker: cluster.worker!.id }),
    host: options.host,
    port: options.port,
    accessLog: options.accessLog,
    bodyLimit: options.bodyLimit,
    trustedProxies: options.trustedProxies,
  });
}

async function main(argv: string[]): Promise<void> {
  const options = parse(argv);
  if (cluster.isWorker) return serveAsWorker(options);
  if (options.help || options.command === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  if (options.extra.length > 0) throw new UsageError(`unexpected argument "${options.extra[0]}"`);
  let running: { loggers: Loggers; stop: () => Promise<void> };
  switch (options.command) {
    case 'standalone':
      if (!options.manifests) throw new UsageError('standalone needs --manifests <file-or-dir>');
      running = await serveFiles(options, options.manifests);
      break;
    case 'demo': {
      const { startDemoEmulator } = await loadDemoEmulator();
      const emulator = await startDemoEmulator({ host: '127.0.0.1', port: options.emulatorPort });
      const served = await serveFiles(options, join(repoRoot, 'examples'));
      served.loggers.app.info(
        { emulator: emulator.url },
        `demo: try  curl -i 'localhost:${options.port}/aws?name=APISIX'`,
      );
      const stop = async () => {
        await served.stop();
        await emulator.close();
      };
      running = { loggers: served.loggers, stop };
      break;
    }
    case 'emulator': {
      const loggers = createLoggers(options.logLevel);
      const { startDemoEmulator } = await loadDemoEmulator();
      const emulator = await startDemoEmulator({ host: options.host, port: options.emulatorPort });
      loggers.app.info({ url: emulator.url }, 'AWS emulator listening');
      running = { loggers, stop: () => emulator.close() };
      break;
    }
    case 'controller': {
      const loggers = createLoggers(options.logLevel);
      const { runController } = await loadController();
      const controller = await runController({
        ...gatewayOptions(options, loggers),
        kubeconfig: options.kubeconfig,
        namespaces: options.namespaces,
        leaseNamespace: options.leaseNamespace,
      }).catch((error: Error) => {
        throw new UsageError(
          options.kubeconfig
            ? `cannot use --kubeconfig ${options.kubeconfig}: ${error.message}`
            : `no in-cluster configuration (${error.message}); outside a cluster, pass --kubeconfig`,
        );
      });
      running = { loggers, stop: () => controller.stop() };
      break;
    }
    default:
      throw new UsageError(`unknown command "${options.command}"`);
  }
  const log = running.loggers.app;
  // A failure that escaped every handler is logged and counted; one bad request never stops the process.
  process.on('uncaughtException', (error) => log.error({ err: error }, 'uncaught exception'));
  process.on('unhandledRejection', (error) => log.error({ err: error }, 'unhandled promise rejection'));
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1); // a second signal: stop waiting
      stopping = true;
      log.info({ signal }, 'stopping');
      running.stop().then(
        () => process.exit(0),
        (error) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`lambda-ingress: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  // System errors (a port in use, a file not readable) say it all in their message; anything else is a bug.
  const systemError = typeof (error as { code?: unknown }).code === 'string';
  process.stderr.write(
    `lambda-ingress: ${systemError ? (error as Error).message : ((error as Error).stack ?? error)}\n`,
  );
  process.exit(1);
});
