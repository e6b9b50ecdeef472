// The certificates compile hands to the HTTPS listener: each host of an
// accepted route with a certificateRef, bound to the Secret it names, read
// once per Secret object. Routes claim hosts in the order they claim paths,
// the oldest first: the first binds a host, and a later one naming another
// Secret for it gets CertificateConflict, naming the winner. A Secret that
// cannot be served gets InvalidCertificate, and its hosts stay bound to it,
// so that the listener keeps serving the last good certificate they had.
import type { Failure, RefReason } from '../api/failure.ts';
import { objectKey, type Snapshot } from '../api/snapshot.ts';
import type { LambdaRouteObject, SecretObject } from '../api/types.ts';
import { type CertificateRead, readTlsSecret } from '../tls/certificate.ts';
import type { CertificateBinding, CertificateSet } from '../tls/store.ts';
import { perObject } from '../util/per-object.ts';
import { loadedFirst, oldestFirst, winnerName } from './conflicts.ts';

/** A route that names a certificate for its hosts. */
export interface CertificateClaim {
  key: string;
  object: LambdaRouteObject;
  hosts: readonly string[];
  /** The Secret's name, in the route's namespace. */
  secretName: string;
}

type CertificateFailure = Failure<Extract<RefReason, 'InvalidCertificate' | 'CertificateConflict'>>;

export interface BoundCertificates {
  certificates: CertificateSet;
  /** By route key: why the route's certificate is not served for (all of) its hosts. */
  failures: Map<string, CertificateFailure>;
}

const FIELD = 'spec.certificateRef';

/** Sources hand over the same Secret object while it is unchanged: it is read once. */
const certificateOf = perObject((secret: SecretObject) => readTlsSecret(objectKey(secret.metadata), secret));

export function bindCertificates(
  claims: readonly CertificateClaim[],
  secrets: Snapshot['secrets'],
  defaultCertificate: string | undefined,
): BoundCertificates {
  const read = (key: string): CertificateRead => {
    const secret = secrets.get(key);
    return secret ? certificateOf(secret) : readTlsSecret(key, undefined);
  };
  const hosts = new Map<string, CertificateBinding>();
  const owners = new Map<string, CertificateClaim>();
  const failures = new Map<string, CertificateFailure>();
  for (const claim of [...claims].sort(oldestFirst)) {
    const secret = `${claim.object.metadata.namespace}/${claim.secretName}`;
    const certificate = read(secret);
    let conflict: CertificateFailure | undefined;
    for (const host of claim.hosts) {
      const bound = hosts.get(host);
      if (!bound) {
        hosts.set(host, { secret, route: claim.key, certificate });
        owners.set(host, claim);
      } else if (bound.secret !== secret) {
        const winner = owners.get(host)!;
        conflict ??= {
          reason: 'CertificateConflict',
          message: `host ${host} is served the certificate of Secret ${bound.secret} by ${winnerName(winner.key, loadedFirst(winner, claim))}`,
          path: FIELD,
        };
      }
    }
    // A conflict is said first: while it lasts, fixing this route's Secret would change nothing for that host.
    if (conflict) failures.set(claim.key, conflict);
    else if (!certificate.ok) {
      failures.set(claim.key, {
        reason: 'InvalidCertificate',
        message: certificate.failures[0].message,
        path: FIELD,
      });
    }
  }
  return {
    certificates: {
      hosts,
      ...(defaultCertificate !== undefined && {
        default: { secret: defaultCertificate, certificate: read(defaultCertificate) },
      }),
    },
    failures,
  };
}
