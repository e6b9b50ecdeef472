// bin/lambda-ingress: standalone | controller | demo | emulator.

import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DURATION_PATTERN, parseDuration } from './api/duration.ts';
import type { Snapshot } from './api/snapshot.ts';
import { DEFAULTS } from './config.ts';
import { ClientIpResolver } from './dataplane/client-ip.ts';
import { Gateway, type GatewayOptions } from './gateway.ts';
import { FileSource } from './sources/files.ts';
import { closest } from './util/closest.ts';
import { createLoggers, type Loggers } from './util/log.ts';
import { runWorker } from './workers.ts';

// The Kubernetes client and the AWS emulator are loaded only by the commands
// that use them: each costs tens of MB of memory in every serving process.
const loadController = () => import('./controller.ts');
const loadDemoEmulator = () => import('./emulator/demo.ts');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** "namespace/name" of a Secret: a DNS label, then a DNS subdomain. */
const SECRET_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const COMMANDS = {
  standalone: {
    synopsis: 'standalone --manifests <file-or-dir> [options]',
    summary: 'Serve LambdaRoutes and Secrets from YAML files, following changes live.',
  },
  controller: {
    synopsis: 'controller [options]',
    summary: 'Watch LambdaRoutes and Secrets in a Kubernetes cluster.',
  },
  demo: {
    synopsis: 'demo [options]',
    summary: 'Standalone mode on examples/ plus a local AWS emulator (/debug/routes on).',
  },
  emulator: {
    synopsis: 'emulator [options]',
    summary: 'Only the AWS emulator the demo uses (for trying things by hand).',
  },
};
type Command = keyof typeof COMMANDS;
const isCommand = (name: string | undefined): name is Command =>
  name !== undefined && Object.hasOwn(COMMANDS, name);

const SERVING: readonly Command[] = ['standalone', 'controller', 'demo'];
const EMULATING: readonly Command[] = ['demo', 'emulator'];
const ALL = Object.keys(COMMANDS) as Command[];

interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Shown after the flag in help, e.g. "<n>". */
  arg?: string;
  /** Shown as --no-<name> (on by default). */
  negated?: boolean;
  help: string;
  /** The commands it applies to; any other refuses it. */
  commands: readonly Command[];
}

// One entry per flag: parsing, per-command help and the "does not apply" check all read this table.
const OPTIONS = {
  port: { type: 'string', arg: '<n>', help: `data plane port (default ${DEFAULTS.port})`, commands: SERVING },
  host: {
    type: 'string',
    arg: '<addr>',
    help: `data plane listen address (default ${DEFAULTS.host})`,
    commands: SERVING,
  },
  'tls-port': {
    type: 'string',
    arg: '<n>',
    help: `HTTPS port, opened once a certificate is known (default ${DEFAULTS.tlsPort})`,
    commands: ['standalone', 'controller'],
  },
  'default-certificate': {
    type: 'string',
    arg: '<ns/name>',
    help: 'kubernetes.io/tls Secret for TLS clients no route certificate covers (default: their handshake is refused)',
    commands: ['standalone', 'controller'],
  },
  'redirect-http': {
    type: 'boolean',
    help: 'answer plain HTTP for hosts that have a certificate with a 308 to https (default off)',
    commands: ['standalone', 'controller'],
  },
  'admin-port': {
    type: 'string',
    arg: '<n>',
    help: `admin port: /healthz, /readyz, /metrics, /debug/routes (default ${DEFAULTS.adminPort})`,
    commands: SERVING,
  },
  'admin-host': {
    type: 'string',
    arg: '<addr>',
    help: `admin listen address (default ${DEFAULTS.adminHost}: this machine only; in a pod, its IP)`,
    commands: SERVING,
  },
  'debug-routes': {
    type: 'boolean',
    help: 'serve /debug/routes, the live table with upstreams, ARNs and file names (default off)',
    commands: ['standalone', 'controller'],
  },
  'route-histograms': {
    type: 'boolean',
    help: 'latency histograms per route (6 buckets) instead of for all routes together (default off)',
    commands: SERVING,
  },
  manifests: {
    type: 'string',
    arg: '<path>',
    help: 'a YAML file or a directory of them',
    commands: ['standalone'],
  },
  kubeconfig: {
    type: 'string',
    arg: '<path>',
    help: 'kubeconfig (default: $KUBECONFIG, else in-cluster config, else ~/.kube/config)',
    commands: ['controller'],
  },
  namespace: {
    type: 'string',
    multiple: true,
    arg: '<ns>',
    help: 'watch this namespace (repeatable; default: all)',
    commands: ['controller'],
  },
  'lease-namespace': {
    type: 'string',
    arg: '<ns>',
    help: `namespace of the leader Lease (default: $POD_NAMESPACE, else ${DEFAULTS.leaseNamespace})`,
    commands: ['controller'],
  },
  'body-limit': {
    type: 'string',
    arg: '<bytes>',
    help: `largest request body buffered for signing (default ${DEFAULTS.bodyLimit})`,
    commands: SERVING,
  },
  'trusted-proxy': {
    type: 'string',
    multiple: true,
    arg: '<cidr>',
    help: 'a proxy whose X-Forwarded-* headers are kept (repeatable; default: none)',
    commands: SERVING,
  },
  'shutdown-grace': {
    type: 'string',
    arg: '<dur>',
    help: `time in-flight requests get to finish on SIGTERM (default ${DEFAULTS.shutdownGraceMs / 1000}s)`,
    commands: SERVING,
  },
  workers: {
    type: 'string',
    arg: '<n>',
    help: `serving processes sharing the port (default ${DEFAULTS.workers}: one process does everything)`,
    commands: SERVING,
  },
  'log-level': {
    type: 'string',
    arg: '<level>',
    help: `fatal, error, warn, info, debug, trace (default ${DEFAULTS.logLevel})`,
    commands: ALL,
  },
  'access-log': {
    type: 'boolean',
    negated: true,
    help: 'no JSON line per request (on by default)',
    commands: SERVING,
  },
  'emulator-port': {
    type: 'string',
    arg: '<n>',
    help: `AWS emulator port (default ${DEFAULTS.emulatorPort})`,
    commands: EMULATING,
  },
  'emulator-host': {
    type: 'string',
    arg: '<addr>',
    help: `AWS emulator listen address (default ${DEFAULTS.emulatorHost}: it accepts the published example keys)`,
    commands: EMULATING,
  },
  version: { type: 'boolean', help: 'print the version', commands: ALL },
  help: { type: 'boolean', short: 'h', help: 'show this help', commands: ALL },
} satisfies Record<string, OptionSpec>;
type OptionName = keyof typeof OPTIONS;
const optionSpecs = Object.entries(OPTIONS) as [OptionName, OptionSpec][];

const flagOf = (name: OptionName, spec: OptionSpec) => `--${spec.negated ? 'no-' : ''}${name}`;

function usage(command?: Command): string {
  if (!command) {
    const width = Math.max(...ALL.map((c) => COMMANDS[c].synopsis.length));
    return `Usage: lambda-ingress <command> [options]

Commands:
${ALL.map((c) => `  ${COMMANDS[c].synopsis.padEnd(width)}   ${COMMANDS[c].summary}`).join('\n')}

Run lambda-ingress <command> --help for the options of a command.
  --version    print the version
  -h, --help   show this help
`;
  }
  const lines = optionSpecs
    .filter(([, spec]) => spec.commands.includes(command))
    .map(([name, spec]) => [
      `${spec.short ? `-${spec.short}, ` : ''}${flagOf(name, spec)}${spec.arg ? ` ${spec.arg}` : ''}`,
      spec.help,
    ]);
  const width = Math.max(...lines.map(([flag]) => flag!.length));
  return `Usage: lambda-ingress ${COMMANDS[command].synopsis}

${COMMANDS[command].summary}

Options:
${lines.map(([flag, help]) => `  ${flag!.padEnd(width)}   ${help}`).join('\n')}
`;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

class UsageError extends Error {
  /** The command whose usage follows the message. */
  readonly command: Command | undefined;
  constructor(message: string, command?: Command) {
    super(message);
    this.command = command;
  }
}

/**
 * Refuses, before anything is parsed for real, a flag we do not have (with
 * the nearest one we do) and one the command does not take. Reads what was
 * typed (parseArgs tokens), not the parsed values, so defaults do not count.
 */
function checkFlags(argv: string[]): Command | undefined {
  const { positionals, tokens } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    allowNegative: true,
    strict: false,
    tokens: true,
  });
  const command = isCommand(positionals[0]) ? positionals[0] : undefined;
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec: OptionSpec | undefined = Object.hasOwn(OPTIONS, token.name)
      ? OPTIONS[token.name as OptionName]
      : undefined;
    const negated = token.rawName.startsWith('--no-');
    if (!spec || negated !== (spec.negated === true)) {
      const known = closest(
        token.rawName,
        optionSpecs.map(([name, s]) => flagOf(name, s)),
      );
      throw new UsageError(
        `unknown option ${token.rawName}${known ? ` (did you mean ${known}?)` : ''}`,
        command,
      );
    }
    if (command && !spec.commands.includes(command)) {
      throw new UsageError(
        `${token.rawName} is not an option of ${command} (lambda-ingress ${command} --help lists them)`,
        command,
      );
    }
  }
  return command;
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: OPTIONS,
  });
  const command = positionals[0];
  const number = (name: OptionName, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = values[name];
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new UsageError(`--${name} must be an integer from 0 to ${max}, got "${text}"`);
    return n;
  };
  const grace = values['shutdown-grace'];
  if (grace !== undefined && !new RegExp(DURATION_PATTERN).test(grace)) {
    throw new UsageError(`--shutdown-grace must be a duration such as 25s, got "${grace}"`);
  }
  const logLevel = values['log-level'] ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const port = number('port', DEFAULTS.port, 65535);
  const tlsPort = number('tls-port', DEFAULTS.tlsPort, 65535);
  if (tlsPort === port && port !== 0) throw new UsageError(`--tls-port must differ from --port (${port})`);
  const namespaces = values.namespace ?? [];
  const defaultCertificate = values['default-certificate'];
  if (defaultCertificate !== undefined) {
    const namespace = SECRET_KEY.exec(defaultCertificate)?.[1];
    if (namespace === undefined) {
      throw new UsageError(`--default-certificate must be <namespace>/<name>, got "${defaultCertificate}"`);
    }
    // A Secret outside the watched namespaces would never be seen.
    if (namespaces.length > 0 && !namespaces.includes(namespace)) {
      throw new UsageError(
        `--default-certificate ${defaultCertificate}: namespace ${namespace} is not watched (add --namespace ${namespace})`,
      );
    }
  }
  const trustedProxies = values['trusted-proxy'] ?? DEFAULTS.trustedProxies;
  try {
    new ClientIpResolver(trustedProxies);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    command,
    extra: positionals.slice(1),
    help: values.help === true,
    version: values.version === true,
    port,
    tlsPort,
    defaultCertificate,
    redirectHttp: values['redirect-http'] ?? DEFAULTS.redirectHttp,
    host: values.host ?? DEFAULTS.host,
    adminPort: number('admin-port', DEFAULTS.adminPort, 65535),
    adminHost: values['admin-host'] ?? DEFAULTS.adminHost,
    debugRoutes: values['debug-routes'] ?? DEFAULTS.debugRoutes,
    routeHistograms: values['route-histograms'] ?? DEFAULTS.routeHistograms,
    manifests: values.manifests,
    kubeconfig: values.kubeconfig,
    namespaces,
    leaseNamespace: values['lease-namespace'] ?? process.env['POD_NAMESPACE'] ?? DEFAULTS.leaseNamespace,
    bodyLimit: number('body-limit', DEFAULTS.bodyLimit),
    trustedProxies,
    shutdownGraceMs: grace === undefined ? DEFAULTS.shutdownGraceMs : parseDuration(grace),
    workers: Math.max(1, number('workers', DEFAULTS.workers)),
    logLevel,
    accessLog: values['access-log'] ?? DEFAULTS.accessLog,
    poolCloseDelayMs: DEFAULTS.poolCloseDelayMs,
    emulatorPort: number('emulator-port', DEFAULTS.emulatorPort, 65535),
    emulatorHost: values['emulator-host'] ?? DEFAULTS.emulatorHost,
  };
}

type Options = ReturnType<typeof parse>;

function gatewayOptions(options: Options, loggers: Loggers): GatewayOptions {
  return {
    loggers,
    accessLog: options.accessLog,
    host: options.host,
    port: options.port,
    tlsPort: options.tlsPort,
    defaultCertificate: options.defaultCertificate,
    redirectHttp: options.redirectHttp,
    adminPort: options.adminPort,
    adminHost: options.adminHost,
    debugRoutes: options.debugRoutes,
    routeHistograms: options.routeHistograms,
    bodyLimit: options.bodyLimit,
    trustedProxies: options.trustedProxies,
    shutdownGraceMs: options.shutdownGraceMs,
    workers: options.workers,
    poolCloseDelayMs: options.poolCloseDelayMs,
  };
}

/** Standalone mode on `manifests`; the demo passes `adjust` to point examples/ at its emulator. */
async function serveFiles(
  options: Options,
  manifests: string,
  adjust: (snapshot: Snapshot) => Snapshot = (snapshot) => snapshot,
) {
  const loggers = createLoggers(options.logLevel, undefined, { sharedStdout: options.workers > 1 });
  const source = new FileSource(manifests);
  let snapshot: Snapshot;
  try {
    snapshot = await source.load();
  } catch (error) {
    throw new UsageError(`cannot read --manifests ${manifests}: ${(error as Error).message}`);
  }
  const gateway = await Gateway.start(gatewayOptions(options, loggers));
  gateway.pipeline.apply(adjust(snapshot));
  await source.watch((next) => gateway.pipeline.apply(adjust(next)));
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
  const loggers = createLoggers(options.logLevel, undefined, {
    fields: { worker: cluster.worker!.id },
    sharedStdout: true,
  });
  return runWorker(gatewayOptions(options, loggers));
}

async function main(argv: string[]): Promise<void> {
  let options: Options;
  const command = checkFlags(argv);
  try {
    options = parse(argv);
  } catch (error) {
    // A value parseArgs or we refuse: shown with the usage of the command it was given to.
    throw new UsageError((error as Error).message, command);
  }
  if (cluster.isWorker) return serveAsWorker(options);
  if (options.version) {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    process.stdout.write(`lambda-ingress ${version}\n`);
    return;
  }
  if (options.command === undefined) {
    process.stdout.write(usage());
    return;
  }
  if (!command) {
    const known = closest(options.command, ALL);
    throw new UsageError(`unknown command "${options.command}"${known ? ` (did you mean ${known}?)` : ''}`);
  }
  if (options.help) {
    process.stdout.write(usage(command));
    return;
  }
  if (options.extra.length > 0) throw new UsageError(`unexpected argument "${options.extra[0]}"`, command);
  let running: { loggers: Loggers; stop: () => Promise<void> };
  switch (command) {
    case 'standalone':
      if (!options.manifests) throw new UsageError('standalone needs --manifests <file-or-dir>', command);
      running = await serveFiles(options, options.manifests);
      break;
    case 'demo': {
      const { startDemoEmulator, pointExamplesAt } = await loadDemoEmulator();
      const emulator = await startDemoEmulator({ host: options.emulatorHost, port: options.emulatorPort });
      // The demo is local: its admin port is loopback unless told otherwise, so the table can be shown.
      const served = await serveFiles(
        { ...options, debugRoutes: true },
        join(repoRoot, 'examples'),
        pointExamplesAt(emulator.url),
      );
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
      const emulator = await startDemoEmulator({ host: options.emulatorHost, port: options.emulatorPort });
      loggers.app.info({ url: emulator.url }, 'AWS emulator listening');
      running = { loggers, stop: () => emulator.close() };
      break;
    }
    case 'controller': {
      const loggers = createLoggers(options.logLevel, undefined, { sharedStdout: options.workers > 1 });
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
            : `cannot reach the cluster (${error.message}); outside a cluster, pass --kubeconfig`,
        );
      });
      running = { loggers, stop: () => controller.stop() };
      break;
    }
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
      // The logs are buffered: every line, the access log's last ones included, is written before exiting.
      running.stop().then(
        () => running.loggers.flush().then(() => process.exit(0)),
        (error) => {
          log.error({ err: error }, 'shutdown failed');
          void running.loggers.flush().then(() => process.exit(1));
        },
      );
    });
  }
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof UsageError) {
    process.stderr.write(`lambda-ingress: ${error.message}\n\n${usage(error.command)}`);
    process.exit(2);
  }
  // System errors (a port in use, a file not readable) say it all in their message; anything else is a bug.
  const systemError = typeof (error as { code?: unknown }).code === 'string';
  process.stderr.write(
    `lambda-ingress: ${systemError ? (error as Error).message : ((error as Error).stack ?? error)}\n`,
  );
  process.exit(1);
});
