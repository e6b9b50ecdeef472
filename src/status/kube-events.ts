// Kubernetes Events (events.k8s.io/v1) about LambdaRoutes, shown by
// `kubectl describe lr` and `kubectl events`. Best effort: a failed Event is
// logged, never retried, and never blocks status writing.
import { randomBytes } from 'node:crypto';
import { API_VERSION, KIND } from '../api/types.ts';
import { type KubeClient, microTime } from '../kube/client.ts';
import { describeError } from '../kube/errors.ts';
import { type Log, silentLog } from '../kube/log.ts';
import type { ObservedRoute } from '../kube/route-status.ts';

const REPORTING_CONTROLLER = 'lambda-ingress.io/controller';

export interface RouteEvent {
  type: 'Normal' | 'Warning';
  /** UpperCamelCase, e.g. SecretNotFound, Conflicted. */
  reason: string;
  message: string;
  /** What the controller did (events.k8s.io `action`). */
  action?: string;
}

export interface EventRecorderOptions {
  client: KubeClient;
  /** reportingInstance: who reports (the holder identity). */
  instance: string;
  log?: Log;
  requestTimeoutMs?: number;
}

/** Limits of events.k8s.io/v1 validation. */
const MAX_NOTE = 1024;
const MAX_FIELD = 128;

export class EventRecorder {
  readonly #client: KubeClient;
  readonly #instance: string;
  readonly #log: Log;
  readonly #timeoutMs: number;

  constructor(options: EventRecorderOptions) {
    this.#client = options.client;
    this.#instance = options.instance.slice(0, MAX_FIELD);
    this.#log = options.log ?? silentLog;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** Creates one Event about `route`; a failure is logged, never thrown. */
  async record(route: ObservedRoute, event: RouteEvent): Promise<void> {
    const { namespace, name } = route;
    try {
      await this.#client.send(
        'POST',
        `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`,
        {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name: `${name.slice(0, 236)}.${randomBytes(8).toString('hex')}`, namespace },
          eventTime: microTime(),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.#instance,
          action: (event.action ?? 'Reconcile').slice(0, MAX_FIELD),
          reason: event.reason.slice(0, MAX_FIELD),
          note: truncateUtf8(event.message, MAX_NOTE),
          type: event.type,
          regarding: {
            apiVersion: API_VERSION,
            kind: KIND,
            namespace,
            name,
            ...(route.uid && { uid: route.uid }),
            ...(route.resourceVersion && { resourceVersion: route.resourceVersion }),
          },
        },
        { timeoutMs: this.#timeoutMs },
      );
    } catch (error) {
      this.#log.warn(
        { route: `${namespace}/${name}`, reason: event.reason, error: describeError(error) },
        'could not create Event',
      );
    }
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes - 3);
  while (Buffer.byteLength(cut) > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}…`;
}
