// Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it:
// - a candidate takes the Lease when it is free (no holder) or when its record
//   has not changed for leaseDuration, measured on the candidate's own clock
//   from when it saw the record change (no trust in other clocks);
// - the leader renews every retryPeriod, and stops acting as leader as soon as
//   it has gone renewDeadline without a successful renewal (< leaseDuration, so
//   it stops before anyone else can take over);
// - release() clears holderIdentity so that another replica takes over at its
//   next try instead of waiting for the Lease to expire.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sleep } from './backoff.ts';
import { type KubeClient, microTime, type RequestOptions } from './client.ts';
import { describeError, statusOf } from './errors.ts';
import { type Log, silentLog } from './log.ts';

/** The fields of a coordination.k8s.io/v1 Lease that leader election reads and writes. */
interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    /** metav1.MicroTime: RFC 3339 with microseconds. */
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
    [field: string]: unknown;
  };
}

export interface LeaderElectorOptions {
  client: KubeClient;
  /** Namespace of the Lease (the controller's own). */
  namespace: string;
  /** Lease name (default lambda-ingress-leader). */
  name?: string;
  /** Holder identity; default: defaultIdentity(). */
  identity?: string;
  /** How long a Lease stays valid without renewal (default 15 s; whole seconds in the Lease). */
  leaseDurationMs?: number;
  /** The leader gives up after this long without a successful renewal (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  log?: Log;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

/** POD_NAME (downward API) or the host name, plus a random suffix: unique even across restarts. */
function defaultIdentity(): string {
  const base = process.env['POD_NAME'] || hostname();
  return `${base}_${randomBytes(4).toString('hex')}`;
}

export class LeaderElector {
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #log: Log;
  readonly #options: LeaderElectorOptions;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #leading = false;
  /** When the last successful acquire/renew was sent. */
  #renewedAt = 0;
  /** The Lease as we last wrote or read it. */
  #lease: Lease | undefined;
  #observedRecord = '';
  #observedAt = 0;
  #holder: string | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#client = options.client;
    this.#namespace = options.namespace;
    this.#name = options.name ?? 'lambda-ingress-leader';
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#namespace)}/leases`;
    this.#identity = options.identity ?? defaultIdentity();
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#log = options.log ?? silentLog;
    if (!(this.#renewDeadlineMs < this.#leaseDurationMs && this.#retryPeriodMs < this.#renewDeadlineMs)) {
      throw new Error('leader election needs retryPeriod < renewDeadline < leaseDuration');
    }
  }

  get identity(): string {
    return this.#identity;
  }

  /** Leading, and the last renewal is recent enough to be sure nobody else leads. */
  get isLeader(): boolean {
    return this.#leading && Date.now() - this.#renewedAt < this.#renewDeadlineMs;
  }

  /** The holder as last observed (ourselves included). */
  get holder(): string | undefined {
    return this.#holder;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops trying and, when leading, releases the Lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    if (this.#leading) {
      this.#setLeading(false);
      await this.#release();
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const attemptAt = Date.now();
      // An answer that came after renewDeadline counts as a failure: leading on it would start
      // with isLeader already false (work refused at once, and no new start to redo it).
      const ok = (await this.#tryAcquireOrRenew(signal)) && Date.now() - attemptAt < this.#renewDeadlineMs;
      if (signal.aborted) break;
      if (ok) {
        this.#renewedAt = attemptAt;
        this.#setLeading(true);
      } else if (this.#leading && Date.now() - this.#renewedAt >= this.#renewDeadlineMs) {
        this.#log.warn({ lease: this.#name }, 'could not renew the leader Lease in time; stepping down');
        this.#setLeading(false);
      }
      // Candidates add jitter so that they do not all try at the same moment.
      const wait = this.#leading ? this.#retryPeriodMs : this.#retryPeriodMs * (1 + Math.random() * 0.2);
      await sleep(wait, signal);
    }
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#log.info(
      { lease: this.#name, identity: this.#identity },
      leading ? 'became leader' : 'lost leadership',
    );
    try {
      if (leading) this.#options.onStartedLeading?.();
      else this.#options.onStoppedLeading?.();
    } catch (error) {
      this.#log.error({ error: describeError(error) }, 'leader election callback failed');
    }
  }

  #observe(lease: Lease): void {
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity ?? ''}|${stamp(spec.renewTime)}|${lease.metadata?.resourceVersion ?? ''}`;
    if (record !== this.#observedRecord) {
      this.#observedRecord = record;
      this.#observedAt = Date.now();
    }
    this.#holder = spec.holderIdentity || undefined;
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const namespace = this.#namespace;
    const name = this.#name;
    // Each attempt gets half the renew deadline, so that a hung request cannot hold leadership.
    const options: RequestOptions = { timeoutMs: this.#renewDeadlineMs / 2, signal };
    const now = microTime();
    const durationSeconds = Math.max(1, Math.ceil(this.#leaseDurationMs / 1000));
    let lease = this.#leading ? this.#lease : undefined;
    try {
      if (!lease) {
        try {
          lease = (await this.#client.get(this.#leasePath(), options)) as Lease;
        } catch (error) {
          if (statusOf(error) !== 404) throw error;
          const created: Lease = await this.#client.send(
            'POST',
            this.#path,
            {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name, namespace },
              spec: {
                holderIdentity: this.#identity,
                leaseDurationSeconds: durationSeconds,
                acquireTime: now,
                renewTime: now,
                leaseTransitions: 0,
              },
            },
            options,
          );
          this.#lease = created;
          this.#observe(created);
          return true;
        }
        this.#observe(lease);
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity || undefined;
      if (holder && holder !== this.#identity) {
        const validMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
        if (Date.now() < this.#observedAt + validMs) return false; // held by someone else
      }
      const mine = holder === this.#identity;
      // A PUT carrying the resourceVersion we read: 409 when someone else wrote the Lease meanwhile.
      const updated: Lease = await this.#client.send(
        'PUT',
        this.#leasePath(),
        {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: this.#identity,
            leaseDurationSeconds: durationSeconds,
            renewTime: now,
            acquireTime: mine && spec.acquireTime ? spec.acquireTime : now,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
        options,
      );
      this.#lease = updated;
      this.#observe(updated);
      return true;
    } catch (error) {
      this.#lease = undefined; // read it again next time
      if (signal.aborted) return false;
      const status = statusOf(error);
      if (status === 409) {
        this.#log.debug({ lease: name }, 'Lease changed under us (409); will re-read it');
      } else {
        this.#log.warn({ lease: name, error: describeError(error) }, 'leader election request failed');
      }
      return false;
    }
  }

  #leasePath(): string {
    return `${this.#path}/${encodeURIComponent(this.#name)}`;
  }

  async #release(): Promise<void> {
    const name = this.#name;
    const options: RequestOptions = { timeoutMs: this.#renewDeadlineMs / 2 };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const lease: Lease = this.#lease ?? (await this.#client.get(this.#leasePath(), options));
        if (lease.spec?.holderIdentity !== this.#identity) return; // somebody else holds it already
        const now = microTime();
        const { holderIdentity: _, ...spec } = lease.spec ?? {};
        await this.#client.send(
          'PUT',
          this.#leasePath(),
          { ...lease, spec: { ...spec, leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
          options,
        );
        this.#lease = undefined;
        this.#log.info({ lease: name }, 'released the leader Lease');
        return;
      } catch (error) {
        this.#lease = undefined;
        if (statusOf(error) === 409) continue;
        this.#log.warn({ lease: name, error: describeError(error) }, 'could not release the leader Lease');
        return;
      }
    }
  }
}

const stamp = (time: unknown): string => (typeof time === 'string' ? time : '');
