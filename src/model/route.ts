// The compiled form of one LambdaRoute: everything the data plane needs,
// parsed and defaulted once, so a request does no parsing of its own.
import type { Reason } from '../api/failure.ts';
import type { Sensitive } from '../api/sensitive.ts';
import type { InvocationType, InvokeMode, PathType, PayloadFormat } from '../api/types.ts';

export interface StaticCredentials {
  kind: 'static';
  accessKeyId: Sensitive;
  secretAccessKey: Sensitive;
  sessionToken?: Sensitive;
}

/** Credentials from the pod's environment (env vars, IRSA, Pod Identity, IMDS). */
export interface ChainCredentials {
  kind: 'chain';
}

export interface IamAuth {
  credentials: StaticCredentials | ChainCredentials;
  /** STS AssumeRole on top of the base credentials. */
  assumeRole?: { roleArn: string; sessionName: string };
  region: string;
  service: string;
}

export interface ConnectionSettings {
  timeoutMs: number;
  insecureSkipVerify: boolean;
  keepalive: boolean;
  idleTimeoutMs: number;
  maxConnections?: number;
}

export interface UrlTarget {
  kind: 'url';
  /** scheme://host[:port], the connection pool key together with the TLS setting. */
  origin: string;
  /** Host header sent upstream (the target's host, with port when not default). */
  host: string;
  /** Path of the target URL without a trailing slash ("" for the root). */
  basePath: string;
  /** Prefix routes: append the rest of the request path to basePath. */
  forwardSubpath: boolean;
}

export interface FunctionTarget {
  kind: 'function';
  /** The function as configured (name, partial or full ARN, optional :qualifier). */
  functionName: string;
  origin: string;
  host: string;
  /**
   * Ready to send: /2015-03-31/functions/<encoded name>/invocations[?Qualifier=…] (Buffered), or
   * /2021-11-15/functions/<encoded name>/response-streaming-invocations[?Qualifier=…] (ResponseStream).
   */
  invokePath: string;
  invocationType: InvocationType;
  payloadFormat: PayloadFormat;
  invokeMode: InvokeMode;
  region: string;
}

export interface RouteMatch {
  /** Lower-cased; empty means any host. */
  hosts: readonly string[];
  path: string;
  pathType: PathType;
  /** Empty means any method. */
  methods: readonly string[];
}

interface RouteBase {
  /** "namespace/name". */
  key: string;
  namespace: string;
  name: string;
  generation?: number;
  origin?: string;
  match: RouteMatch;
}

/** A route that serves; ReadyRoute<UrlTarget> is one known to forward to a URL. */
export interface ReadyRoute<T extends UrlTarget | FunctionTarget = UrlTarget | FunctionTarget>
  extends RouteBase {
  ready: true;
  target: T;
  connection: ConnectionSettings;
  auth: { apiKey?: Sensitive; iam?: IamAuth };
}

/** A route that owns its path but cannot serve: the data plane answers 503 with this reason. */
export interface NotReadyRoute extends RouteBase {
  ready: false;
  reason: Reason;
  message: string;
}

export type CompiledRoute = ReadyRoute | NotReadyRoute;
