// HTTPS mode: a generated self-signed certificate that clients can trust.
import { get } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { call, json } from './client.ts';

describe('HTTPS mode', () => {
  let emulator: Emulator;
  const key = { accessKeyId: 'AKIDTLS', secretAccessKey: 'tls-secret' };

  beforeAll(async () => {
    emulator = await startEmulator({
      tls: true,
      credentials: [key],
      functions: { hello: { handler: () => ({ hello: 'tls' }) } },
      endpoints: [
        { kind: 'function-url', path: '/', auth: 'iam', handler: () => ({ status: 200, body: 'secure' }) },
      ],
    });
  });
  afterAll(() => emulator.close());

  it('serves HTTPS with the certificate it exposes', async () => {
    expect(emulator.tls).toBe(true);
    expect(emulator.url).toBe(`https://127.0.0.1:${emulator.port}`);
    expect(emulator.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const url = await call(emulator, { path: '/x' }, { credentials: key, service: 'lambda' });
    expect(url.body).toBe('secure');
    const invoked = await call(
      emulator,
      { method: 'POST', path: '/2015-03-31/functions/hello/invocations' },
      { credentials: key, service: 'lambda' },
    );
    expect(json(invoked)).toEqual({ hello: 'tls' });
  });

  it('is refused by a client that does not trust the certificate', async () => {
    const error = await new Promise<Error>((resolve) => {
      get(`${emulator.url}/x`, () => resolve(new Error('unexpectedly connected'))).on('error', resolve);
    });
    expect(error.message).toMatch(/self[- ]signed certificate/);
  });
});
