// LambdaRoute v1alpha1 as users write it (after defaults are applied) and the
// Kubernetes object shapes the sources hand to the compiler.
import type { Reason } from './failure.ts';

export const GROUP = 'lambda-ingress.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'LambdaRoute';
export const PLURAL = 'lambdaroutes';

export type PathType = 'Exact' | 'Prefix';
export type InvocationType = 'RequestResponse' | 'Event';
export type PayloadFormat = '2.0' | '1.0' | 'alb';
export type InvokeMode = 'Buffered' | 'ResponseStream';

export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface SecretRef {
  name: string;
  /** Secrets must live in the route's namespace; any other value is refused (RefNotPermitted). */
  namespace?: string;
}

export interface FunctionTargetSpec {
  name: string;
  qualifier?: string;
  region?: string;
  invocationType: InvocationType;
  payloadFormat: PayloadFormat;
  invokeMode: InvokeMode;
  endpoint?: string;
}

export interface LambdaRouteSpec {
  hosts?: string[];
  match: {
    path: string;
    pathType: PathType;
    methods?: string[];
  };
  target: {
    url?: string;
    forwardSubpath: boolean;
    function?: FunctionTargetSpec;
  };
  auth?: {
    apiKey?: { secretRef: SecretKeyRef & { namespace?: string } };
    iam?: {
      secretRef?: SecretRef;
      region?: string;
      service?: string;
      roleArn?: string;
      roleSessionName?: string;
    };
  };
  /** A kubernetes.io/tls Secret in the route's namespace, served by SNI for `hosts`. */
  certificateRef?: { name: string };
  timeout: string;
  tls: { insecureSkipVerify: boolean };
  keepalive: {
    enabled: boolean;
    idleTimeout: string;
    maxConnections?: number;
  };
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  /** Of a cluster route: the version last seen with a change compile() reads (not status-only ones). */
  resourceVersion?: string;
  creationTimestamp?: string;
}

/** A LambdaRoute as read from a source: metadata is trusted, spec is not validated yet. */
export interface LambdaRouteObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: unknown;
  /** Where the object came from, for error messages ("routes.yaml#2", "cluster"). */
  origin?: string;
  /**
   * Standalone files, objects without a creationTimestamp: when this process
   * first read the object, as a rank (objects read together are ranked by file
   * path and document index). It settles their conflicts: the one read first wins.
   */
  readOrder?: number;
}

/** The data keys an `auth.iam.secretRef` Secret is read for (sessionToken optional). */
export const IAM_SECRET_KEYS = {
  accessKeyId: 'accessKeyId',
  secretAccessKey: 'secretAccessKey',
  sessionToken: 'sessionToken',
} as const;
/** The data keys a `certificateRef` (`kubernetes.io/tls`) Secret is read for. */
export const TLS_SECRET_KEYS = { certificate: 'tls.crt', privateKey: 'tls.key' } as const;

/** A Secret's decoded data. Values are bytes as in Kubernetes; they are wrapped when resolved. */
export interface SecretObject {
  metadata: ObjectMeta;
  /** "kubernetes.io/tls", "Opaque", …; absent is Opaque, as in Kubernetes. */
  type?: string;
  data: Record<string, Buffer>;
  /** Keys whose value could not be read (standalone: not base64), with why; routes using one get InvalidSecret. */
  invalidKeys?: Readonly<Record<string, string>>;
  origin?: string;
}

export type ConditionType = 'Accepted' | 'ResolvedRefs' | 'Ready';

/** metav1.Condition without lastTransitionTime, which the status writer owns. */
export interface Condition {
  type: ConditionType;
  /** Unknown: not evaluated (the references of a route that was not accepted). */
  status: 'True' | 'False' | 'Unknown';
  /** Why it is False or Unknown; the condition's own type when it is True. */
  reason: Reason | ConditionType;
  message: string;
  observedGeneration?: number;
}
