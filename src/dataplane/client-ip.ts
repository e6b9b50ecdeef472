// The client's address: the socket peer, or, when the peer is a trusted
// proxy (--trusted-proxy), the nearest address in X-Forwarded-For that is not
// itself trusted. Anyone else's X-Forwarded-For is ignored: it is just text.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export interface ClientAddress {
  /** The client: the peer, or the address a trusted proxy named. */
  ip: string;
  /** The socket's peer. */
  peer: string;
  /** The peer is a trusted proxy. */
  trustedPeer: boolean;
}

export class ClientIpResolver {
  readonly #trusted: BlockList | undefined;

  /** `trusted`: addresses or CIDR ranges, e.g. ["10.0.0.0/8", "::1"]. */
  constructor(trusted: readonly string[] = []) {
    if (trusted.length === 0) return;
    this.#trusted = new BlockList();
    for (const entry of trusted) {
      const [address, prefix] = entry.split('/');
      const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
      const bits = Number(prefix);
      const maxBits = family === 'ipv6' ? 128 : 32;
      if (
        !isIP(address ?? '') ||
        (prefix !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= maxBits))
      ) {
        throw new Error(`--trusted-proxy ${entry} is not an IP address or CIDR range (such as 10.0.0.0/8)`);
      }
      if (prefix === undefined) this.#trusted.addAddress(address!, family);
      else this.#trusted.addSubnet(address!, bits, family);
    }
  }

  resolve(req: IncomingMessage): ClientAddress {
    const peer = unmap(req.socket.remoteAddress ?? '');
    if (!this.#trusted || !this.#isTrusted(peer)) return { ip: peer, peer, trustedPeer: false };
    return { ip: this.#forwardedClient(req, peer), peer, trustedPeer: true };
  }

  #forwardedClient(req: IncomingMessage, peer: string): string {
    const forwarded = req.headers['x-forwarded-for'];
    if (!forwarded) return peer;
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)
      .split(',')
      .map((h) => unmap(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (!isIP(hop)) return peer; // garbage in the chain: trust nothing beyond the peer
      if (!this.#isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  }

  #isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.#trusted!.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

const unmap = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address);
