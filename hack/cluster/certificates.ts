// The cluster's certificates, made with the openssl CLI: a CA, the apiserver's
// serving certificate, an admin client certificate (group system:masters) and
// the ServiceAccount signing key pair. ECDSA P-256 keys: fast to generate,
// accepted by Go, Node and kubectl.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Paths } from './directory.ts';

const execFileP = promisify(execFile);

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** Makes the certificates and keys unless they are all there (when one is missing, all are made anew). */
export async function ensureCerts(p: Paths, log: (m: string) => void): Promise<void> {
  const all = [p.ca, p.caKey, p.servingCert, p.servingKey, p.adminCert, p.adminKey, p.saKey, p.saPub];
  if (all.every((f) => existsSync(f))) return;
  log(`generating certificates in ${p.pki}`);
  rmSync(p.pki, { recursive: true, force: true });
  mkdirSync(p.pki, { recursive: true, mode: 0o700 });
  const cnf = path.join(p.pki, 'openssl.cnf');
  writeFileSync(cnf, OPENSSL_CNF);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    '-config',
    cnf,
    '-extensions',
    'v3_ca',
    ...newKey,
    '-keyout',
    p.caKey,
    '-out',
    p.ca,
    '-days',
    '3650',
    '-subj',
    '/CN=lambda-ingress-test-ca',
  ]);
  const leaf = async (name: string, subj: string, ext: string, cert: string, key: string) => {
    const csr = path.join(p.pki, `${name}.csr`);
    await openssl(['req', '-new', '-config', cnf, ...newKey, '-keyout', key, '-out', csr, '-subj', subj]);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      p.ca,
      '-CAkey',
      p.caKey,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '3650',
      '-extfile',
      cnf,
      '-extensions',
      ext,
      '-out',
      cert,
    ]);
    rmSync(csr);
  };
  await Promise.all([
    leaf('apiserver', '/CN=kube-apiserver', 'v3_server', p.servingCert, p.servingKey),
    leaf('admin', '/O=system:masters/CN=lambda-ingress-admin', 'v3_client', p.adminCert, p.adminKey),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p.saKey]);
      await openssl(['pkey', '-in', p.saKey, '-pubout', '-out', p.saPub]);
    })(),
  ]);
}
