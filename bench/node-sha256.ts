// SHA-256 and HMAC-SHA256 on node:crypto for @smithy/signature-v4, for
// bench:sign's smithy rows (the data plane signs with src/aws/sigv4.ts).
// HMAC keys are turned into KeyObjects once and reused: an HMAC with a cached
// KeyObject costs a fifth of one with a raw key.

import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import type { Checksum, SourceData } from '@smithy/types';
import { perObject } from '../src/util/per-object.ts';

/** Derived signing keys are Uint8Arrays that the Signer caches, so their identity is stable. */
const binaryKey = perObject((secret: ArrayBuffer | ArrayBufferView) => createSecretKey(toBuffer(secret)));
/** Secret access keys arrive as strings; bounded so rotated keys do not pile up. */
const stringKeys = new Map<string, KeyObject>();
const MAX_STRING_KEYS = 1024;

function keyObject(secret: SourceData): KeyObject {
  if (typeof secret === 'string') {
    let key = stringKeys.get(secret);
    if (!key) {
      if (stringKeys.size >= MAX_STRING_KEYS) stringKeys.clear();
      key = createSecretKey(Buffer.from(secret, 'utf8'));
      stringKeys.set(secret, key);
    }
    return key;
  }
  return binaryKey(secret);
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export class NodeSha256 implements Checksum {
  readonly #key: KeyObject | undefined;
  #chunks: (Uint8Array | string)[] = [];

  constructor(secret?: SourceData) {
    this.#key = secret === undefined ? undefined : keyObject(secret);
  }

  update(data: Uint8Array | string): void {
    this.#chunks.push(data);
  }

  digest(): Promise<Uint8Array> {
    // smithy hashes one chunk at a time: hand it to node:crypto as it is, without copying.
    const data = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks.map(toBuffer));
    const digest = this.#key
      ? createHmac('sha256', this.#key).update(data).digest()
      : hash('sha256', data, 'buffer');
    return Promise.resolve(digest);
  }

  reset(): void {
    this.#chunks = [];
  }
}
