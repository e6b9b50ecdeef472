import type { LambdaRouteObject, SecretObject } from './types.ts';

/** A problem a source found before compiling (unreadable file, broken document). */
export interface SourceError {
  /** Where: "routes/hello.yaml", "routes/hello.yaml#2" (document index), or a cluster object key. */
  origin: string;
  message: string;
}

/** Everything the compiler needs, as plain data. Sources build it; compile() reads it. */
export interface Snapshot {
  routes: readonly LambdaRouteObject[];
  /** Secrets by "namespace/name". */
  secrets: ReadonlyMap<string, SecretObject>;
  errors: readonly SourceError[];
}

export const objectKey = (meta: { namespace: string; name: string }): string =>
  `${meta.namespace}/${meta.name}`;
