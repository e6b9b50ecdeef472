// lambda_ingress_certificate_expiry_timestamp_seconds{namespace, secret}: when
// each certificate being served expires, for alerts such as
// `… - time() < 14 * 86400`. One series per Secret, not per host: a Secret
// serving fifty hosts is one certificate, and the label set stays bounded by
// the Secrets the configuration names. When two versions of one Secret are
// served at once (a host on its last good version), the sooner expiry counts.
import { Gauge, type Registry } from 'prom-client';
import type { CertificateStore } from './store.ts';

export interface CertificateExpiry {
  namespace: string;
  secret: string;
  /** Unix time, seconds. */
  expiresAt: number;
}

export function certificateExpiries(store: CertificateStore): CertificateExpiry[] {
  const bySecret = new Map<string, CertificateExpiry>();
  for (const certificate of store.served()) {
    const { secret } = certificate.description;
    const expiresAt = certificate.notAfter.getTime() / 1000;
    const known = bySecret.get(secret);
    if (known && known.expiresAt <= expiresAt) continue;
    const slash = secret.indexOf('/');
    bySecret.set(secret, { namespace: secret.slice(0, slash), secret: secret.slice(slash + 1), expiresAt });
  }
  return [...bySecret.values()];
}

/** Registers the gauge; it reads `store` when scraped. */
export function registerCertificateExpiryGauge(registry: Registry, store: CertificateStore): Gauge {
  return new Gauge({
    name: 'lambda_ingress_certificate_expiry_timestamp_seconds',
    help: 'When each served TLS certificate expires (Unix time), by the Secret it comes from.',
    labelNames: ['namespace', 'secret'] as const,
    registers: [registry],
    // Worker processes serve the same certificates: aggregated, their values are the same, not a sum.
    aggregator: 'min',
    collect() {
      this.reset();
      for (const { namespace, secret, expiresAt } of certificateExpiries(store)) {
        this.set({ namespace, secret }, expiresAt);
      }
    },
  });
}
