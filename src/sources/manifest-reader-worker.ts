// The parse worker of manifest-reader.ts: reads and parses one file per
// message, away from the event loop that serves requests.
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { parseManifests } from './manifests.ts';

export interface ReadRequest {
  id: number;
  path: string;
  /** The file's name in errors ("routes/a.yaml"). */
  name: string;
}

export type ReadReply =
  | { id: number; parsed: ReturnType<typeof parseManifests> }
  | { id: number; error: { message: string; code?: string } };

const port = parentPort!;
port.on('message', async ({ id, path, name }: ReadRequest) => {
  let reply: ReadReply;
  try {
    reply = { id, parsed: parseManifests(await readFile(path, 'utf8'), name) };
  } catch (error) {
    const { message, code } = error as NodeJS.ErrnoException;
    reply = { id, error: { message, ...(code && { code }) } };
  }
  port.postMessage(reply);
});
