// A throwaway certificate authority for TLS tests, made with the openssl CLI
// so that wildcard, chain and mismatch cases are real certificates and no
// private key is ever committed.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The two keys of a `kubernetes.io/tls` Secret, as PEM text. */
export interface KeyPair {
  cert: string;
  key: string;
}

export interface IssueOptions {
  /** Subject common name; also the first DNS name unless `dns` is given. */
  cn: string;
  /** subjectAltName DNS entries (default: [cn]). */
  dns?: string[];
  /** Key algorithm (default EC P-256, the fastest to make). */
  key?: 'ec' | 'rsa2048' | 'rsa512';
  /** Validity from now (default 2). */
  days?: number;
  /** Sign with an intermediate CA and append it to `cert` (leaf first, as in tls.crt). */
  viaIntermediate?: boolean;
}

export class TestCa {
  readonly #dir: string;
  readonly cert: string;
  #serial = 0;

  private constructor(dir: string, cert: string) {
    this.#dir = dir;
    this.cert = cert;
  }

  static async create(): Promise<TestCa> {
    const dir = await mkdtemp(join(tmpdir(), 'lambda-ingress-test-ca-'));
    await run('openssl', [
      'req',
      '-x509',
      ...newKey('ec'),
      '-days',
      '2',
      '-subj',
      '/CN=lambda-ingress test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
    ]);
    const ca = new TestCa(dir, await readFile(join(dir, 'ca.pem'), 'utf8'));
    await ca.#sign('intermediate', '/CN=lambda-ingress test intermediate', 'ca', [
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return ca;
  }

  /** A server certificate (leaf first, then the intermediate when asked) and its unencrypted key. */
  async issue(options: IssueOptions): Promise<KeyPair> {
    const name = `leaf${++this.#serial}`;
    const dns = options.dns ?? [options.cn];
    const issuer = options.viaIntermediate ? 'intermediate' : 'ca';
    await this.#sign(
      name,
      `/CN=${options.cn}`,
      issuer,
      [`subjectAltName=${dns.map((d) => `DNS:${d}`).join(',')}`, 'extendedKeyUsage=serverAuth'],
      options.key,
      options.days,
    );
    let cert = await readFile(join(this.#dir, `${name}.pem`), 'utf8');
    if (options.viaIntermediate) cert += await readFile(join(this.#dir, 'intermediate.pem'), 'utf8');
    return { cert, key: await readFile(join(this.#dir, `${name}.key`), 'utf8') };
  }

  /**
   * `key` (EC) encrypted with a passphrase: PKCS#8 ("ENCRYPTED PRIVATE KEY"), or
   * the traditional form ("EC PRIVATE KEY" with a "Proc-Type: 4,ENCRYPTED" header).
   */
  encrypt(key: string, form: 'pkcs8' | 'traditional'): Promise<string> {
    return form === 'pkcs8'
      ? this.#convert(key, ['pkcs8', '-topk8', '-passout', 'pass:secret'])
      : this.#convert(key, ['ec', '-aes128', '-passout', 'pass:secret']);
  }

  /** `key` (EC) in the traditional, unencrypted form ("EC PRIVATE KEY"). */
  traditional(key: string): Promise<string> {
    return this.#convert(key, ['ec']);
  }

  async #convert(key: string, args: string[]): Promise<string> {
    const file = join(this.#dir, `plain${++this.#serial}.key`);
    await writeFile(file, key);
    return (await run('openssl', [...args, '-in', file])).stdout;
  }

  close(): Promise<void> {
    return rm(this.#dir, { recursive: true, force: true });
  }

  async #sign(
    name: string,
    subject: string,
    issuer: string,
    extensions: string[],
    key: IssueOptions['key'] = 'ec',
    days = 2,
  ): Promise<void> {
    const file = (ext: string) => join(this.#dir, `${name}.${ext}`);
    await run('openssl', [
      'req',
      '-new',
      ...newKey(key),
      '-subj',
      subject,
      '-keyout',
      file('key'),
      '-out',
      file('csr'),
    ]);
    await writeFile(file('ext'), `${extensions.join('\n')}\n`);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('csr'),
      '-CA',
      join(this.#dir, `${issuer}.pem`),
      '-CAkey',
      join(this.#dir, `${issuer}.key`),
      '-set_serial',
      String(Date.now() * 1000 + this.#serial),
      '-days',
      String(days),
      '-extfile',
      file('ext'),
      '-out',
      file('pem'),
    ]);
  }
}

function newKey(kind: IssueOptions['key']): string[] {
  const nodes = ['-nodes'];
  if (kind === 'rsa2048') return ['-newkey', 'rsa:2048', ...nodes];
  if (kind === 'rsa512') return ['-newkey', 'rsa:512', ...nodes];
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', ...nodes];
}
