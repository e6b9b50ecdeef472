// Every setting's default, in this one place (the README's Command line
// table). cli.ts reads the command line and the environment once, validating
// each value, and hands the settings on whole: Gateway, DataPlane, Runtime
// and the worker processes take them as given and default nothing.
import { SYNC_PAYLOAD_LIMIT } from './dataplane/invoke-outcome.ts';
import type { GatewayOptions } from './gateway.ts';

/** The settings of a serving process that have a default. */
export type ServingSettings = Omit<GatewayOptions, 'loggers' | 'sourcesReady' | 'credentialRefresh'>;

export const SERVING_DEFAULTS: Readonly<ServingSettings> = {
  host: '0.0.0.0',
  port: 9080,
  tlsPort: 9443,
  defaultCertificate: undefined,
  redirectHttp: false,
  adminHost: '127.0.0.1',
  adminPort: 9091,
  debugRoutes: false,
  // Per-route latency histograms multiply /metrics by the routes: off, all routes share one.
  routeHistograms: false,
  workers: 1,
  trustedProxies: [],
  // A body larger than a synchronous Lambda payload could not be invoked with anyway.
  bodyLimit: SYNC_PAYLOAD_LIMIT,
  shutdownGraceMs: 25_000,
  accessLog: true,
  // Not a flag: how long the pool of a removed upstream stays open for requests that matched before.
  poolCloseDelayMs: 30_000,
};

export const DEFAULTS = {
  ...SERVING_DEFAULTS,
  logLevel: 'info',
  /** Where the demo's AWS emulator listens; examples/ point at it. */
  emulatorPort: 9092,
  emulatorHost: '127.0.0.1',
  /** Namespace of the leader Lease when $POD_NAMESPACE is not set. */
  leaseNamespace: 'default',
} as const;
