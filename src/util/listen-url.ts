import type { AddressInfo } from 'node:net';

/** The URL to reach a listening socket at: 127.0.0.1 when it listens on every address. */
export function listenUrl(address: AddressInfo, scheme: 'http' | 'https' = 'http'): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
}
