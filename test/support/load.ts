// Continuous load for tests that change something under traffic (key
// rotation, credential refresh): every response is recorded.
import { send } from './http.ts';

export interface LoadResult {
  at: number;
  status: number;
  text: string;
}

/** Sends requests from `clients` parallel loops until `done()` is true or `timeoutMs` passes. */
export async function underLoad(
  baseUrl: string,
  path: string,
  done: (results: LoadResult[]) => boolean,
  { clients = 2, timeoutMs = 30_000 } = {},
): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  const deadline = Date.now() + timeoutMs;
  const loop = async () => {
    while (!done(results) && Date.now() < deadline) {
      const response = await send(baseUrl, { path });
      results.push({ at: Date.now(), status: response.status, text: response.text });
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return results;
}
