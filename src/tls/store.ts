// The certificates the HTTPS listener serves, chosen by SNI. A new set is
// swapped in whole (update), next to the routing table; the handshake path
// only reads the current index (select).
//
// - One SecureContext per certificate version (its content digest), built in
//   update(), kept across updates while some host still serves that version.
// - Keep-last-good: when a host's certificate becomes unusable (malformed, a
//   key that does not fit, one OpenSSL refuses), the host keeps serving what
//   it served before, and report() says so. A Secret that no longer exists, or
//   a host no longer bound, stops being served.
import { createSecureContext, type SecureContext } from 'node:tls';
import {
  type CertificateDescription,
  type CertificateRead,
  namesHost,
  type TlsCertificate,
  validityProblem,
} from './certificate.ts';
import { SniIndex } from './sni-index.ts';

export const MIN_TLS_VERSION = 'TLSv1.2';

/** The certificate a host (or the default) is bound to, as compile resolved it. */
export interface CertificateBinding {
  /** "namespace/name" of the Secret. */
  secret: string;
  /** The route that binds it ("namespace/name"), echoed in report() for its condition. */
  route?: string;
  certificate: CertificateRead;
}

export interface CertificateSet {
  /** One binding per host pattern ("api.example.com", "*.example.com"); compile settled conflicts. */
  hosts: ReadonlyMap<string, CertificateBinding>;
  /** `--default-certificate`: for clients that send no SNI, or a name no host matches. */
  default?: CertificateBinding | undefined;
}

/** What one host (or the default) is served, for conditions, logs and /debug/routes. */
export interface HostCertificateReport {
  /** The host pattern, or "(default)". */
  host: string;
  secret: string;
  route?: string;
  /** serving: the bound Secret's certificate; kept: the last good one; none: no certificate for this host. */
  state: 'serving' | 'kept' | 'none';
  /** Why the bound Secret's certificate is not served (kept, none). */
  problem?: string;
  /** What is served (serving, kept). */
  certificate?: CertificateDescription;
  /** Served, but clients will object: expired, not yet valid, or does not name the host. */
  warnings: string[];
}

export const DEFAULT_HOST = '(default)';

interface Served {
  binding: CertificateBinding;
  /** What is served: the binding's certificate, or the last good one. */
  certificate: TlsCertificate;
  problem: string | undefined;
}

interface Unserved {
  binding: CertificateBinding;
  problem: string;
}

/** A built context, or why OpenSSL would not build one. */
type Built = { context: SecureContext } | { problem: string };

export class CertificateStore {
  readonly #now: () => number;
  readonly #listeners = new Set<() => void>();
  #served = new Map<string, Served>();
  /** Bound hosts whose certificate cannot be served, and nothing was kept. */
  #unserved = new Map<string, Unserved>();
  #built = new Map<string, Built>();
  #index = new SniIndex<SecureContext>();
  #default: SecureContext | undefined;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Swaps in a new set; returns the report of what is now served. Never throws. */
  update(set: CertificateSet): HostCertificateReport[] {
    const bindings = new Map(set.hosts);
    if (set.default) bindings.set(DEFAULT_HOST, set.default);
    const built = new Map<string, Built>();
    const served = new Map<string, Served>();
    const unserved = new Map<string, Unserved>();
    const index = new SniIndex<SecureContext>();
    let defaultContext: SecureContext | undefined;
    for (const [host, binding] of bindings) {
      const outcome = this.#resolve(host, binding, built);
      if (!('certificate' in outcome)) {
        unserved.set(host, outcome);
        continue;
      }
      served.set(host, outcome);
      const { context } = built.get(outcome.certificate.digest) as { context: SecureContext };
      if (host === DEFAULT_HOST) defaultContext = context;
      else index.set(host, context);
    }
    const defaultChanged = this.defaultCertificate?.digest !== served.get(DEFAULT_HOST)?.certificate.digest;
    // Only contexts still served, and failures still bound, are remembered.
    this.#built = built;
    this.#served = served;
    this.#unserved = unserved;
    this.#index = index;
    this.#default = defaultContext;
    if (defaultChanged) for (const listener of this.#listeners) listener();
    return this.report();
  }

  /** What a host is served under `binding`: its certificate, the last good one, or nothing. */
  #resolve(host: string, binding: CertificateBinding, built: Map<string, Built>): Served | Unserved {
    const read = binding.certificate;
    let problem: string;
    if (read.ok) {
      const certificate = read.value;
      const result =
        built.get(certificate.digest) ?? this.#built.get(certificate.digest) ?? build(certificate);
      built.set(certificate.digest, result);
      if ('context' in result) return { binding, certificate, problem: undefined };
      problem = result.problem;
    } else {
      problem = read.failures[0].message;
    }
    const last = this.#served.get(host);
    // A deleted Secret is not kept: deleting it is how a certificate is withdrawn.
    const deleted = !read.ok && read.failures[0].reason === 'SecretNotFound';
    if (!last || deleted) return { binding, problem };
    built.set(last.certificate.digest, this.#built.get(last.certificate.digest)!);
    return { binding, certificate: last.certificate, problem };
  }

  /** The context for a handshake's server name (undefined: no SNI match and no default). */
  select(servername: string): SecureContext | undefined {
    return this.#index.get(servername) ?? this.#default;
  }

  /** Whether a host has a certificate of its own (not the default): plain HTTP for it may be redirected. */
  hasCertificate(host: string): boolean {
    return this.#index.get(host) !== undefined;
  }

  /** Something to serve over TLS: the listener is only needed then. */
  get empty(): boolean {
    return this.#served.size === 0;
  }

  /** The default certificate served now (kept or not), for clients that send no SNI. */
  get defaultCertificate(): TlsCertificate | undefined {
    return this.#served.get(DEFAULT_HOST)?.certificate;
  }

  /** Calls `listener` after an update that changed the default certificate; returns the unsubscribe. */
  onDefaultChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every bound host (and the default), sorted, with what it is served now. */
  report(): HostCertificateReport[] {
    const now = this.#now();
    const out: HostCertificateReport[] = [];
    for (const [host, { binding, certificate, problem }] of this.#served) {
      const warnings: string[] = [];
      const validity = validityProblem(certificate.description, now);
      if (validity) warnings.push(`the certificate ${validity}`);
      if (host !== DEFAULT_HOST && !namesHost(certificate, host))
        warnings.push(`the certificate does not name ${host}`);
      out.push({
        ...reportOf(host, binding),
        state: problem === undefined ? 'serving' : 'kept',
        ...(problem !== undefined && { problem }),
        certificate: certificate.description,
        warnings,
      });
    }
    for (const [host, { binding, problem }] of this.#unserved) {
      out.push({ ...reportOf(host, binding), state: 'none', problem, warnings: [] });
    }
    return out.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  /** The certificates served now, one per version (for the expiry gauge). */
  served(): TlsCertificate[] {
    const byDigest = new Map<string, TlsCertificate>();
    for (const { certificate } of this.#served.values()) byDigest.set(certificate.digest, certificate);
    return [...byDigest.values()];
  }
}

const reportOf = (host: string, binding: CertificateBinding) => ({
  host,
  secret: binding.secret,
  ...(binding.route !== undefined && { route: binding.route }),
});

function build(certificate: TlsCertificate): Built {
  try {
    return {
      context: createSecureContext({
        cert: certificate.chain,
        key: certificate.key.reveal(),
        minVersion: MIN_TLS_VERSION,
      }),
    };
  } catch (error) {
    // OpenSSL's reason ("ee key too small", "ca md too weak") names the rule, never the key.
    const reason = (error as { reason?: unknown }).reason;
    const why = typeof reason === 'string' ? `: ${reason}` : '';
    return {
      problem: `Secret ${certificate.description.secret}: OpenSSL refuses this certificate or key${why}`,
    };
  }
}
