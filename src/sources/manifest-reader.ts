// Reads and parses manifest files in a worker thread, so that a large file
// never holds up the event loop that serves requests. The worker starts when
// a file needs reading and stops after a quiet while, taking the memory a big
// parse needed with it; its heap is capped, and a file that needs more is
// reported rather than taking the process down.
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ReadReply, ReadRequest } from './manifest-reader-worker.ts';
import type { ParsedManifests } from './manifests.ts';

/** Heap the parse worker may use: about 60 bytes for each byte of YAML (a file at the 8 MiB limit needs ~500 MB). */
const WORKER_HEAP_MB = 1024;
/** The worker's file: .ts next to this one in src/, .js in the compiled dist/ (import rewriting does not reach URLs). */
const WORKER_URL = new URL(`./manifest-reader-worker${extname(import.meta.url)}`, import.meta.url);
/** The worker is stopped after this long without a file to read. */
const IDLE_MS = 30_000;

export class ReadError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

interface Pending {
  resolve: (parsed: ParsedManifests) => void;
  reject: (error: ReadError) => void;
}

export class ManifestReader {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #idle: NodeJS.Timeout | undefined;

  /** Reads and parses `path`; `name` is how problems refer to the file. Rejects with a ReadError. */
  read(path: string, name: string): Promise<ParsedManifests> {
    clearTimeout(this.#idle);
    this.#worker ??= this.#start();
    const worker = this.#worker;
    worker.ref();
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, path, name } satisfies ReadRequest);
    });
  }

  /** Stops the worker (reads in progress fail); a later read starts a new one. */
  close(): void {
    clearTimeout(this.#idle);
    const worker = this.#worker;
    if (!worker) return;
    this.#fail(worker, 'not read: the source was closed');
    void worker.terminate();
  }

  #start(): Worker {
    const worker = new Worker(WORKER_URL, {
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    worker.on('message', (reply: ReadReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if ('parsed' in reply) pending?.resolve(withBuffers(reply.parsed));
      else pending?.reject(new ReadError(reply.error.message, reply.error.code));
      if (this.#pending.size === 0) this.#rest(worker);
    });
    // Out of memory (ERR_WORKER_OUT_OF_MEMORY) or any other failure: the files being read are reported.
    worker.on('error', (error) => this.#fail(worker, `cannot parse: ${error.message}`));
    worker.on('exit', () => this.#fail(worker, 'cannot parse: the parse worker stopped'));
    return worker;
  }

  /** No file to read: let the process exit if it wants to, and stop the worker after a quiet while. */
  #rest(worker: Worker): void {
    worker.unref();
    this.#idle = setTimeout(() => this.close(), IDLE_MS);
    this.#idle.unref();
  }

  #fail(worker: Worker, message: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    for (const { reject } of this.#pending.values()) reject(new ReadError(message));
    this.#pending.clear();
  }
}

/** Secret values cross the thread as plain Uint8Arrays; the rest of the code works with Buffers. */
function withBuffers(parsed: ParsedManifests): ParsedManifests {
  for (const secret of parsed.secrets) {
    for (const [key, bytes] of Object.entries(secret.data)) {
      secret.data[key] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
  }
  return parsed;
}
