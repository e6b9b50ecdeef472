// Structured JSON logs (pino, Fastify's own logger). Secrets never reach a
// log line: credential-bearing fields are redacted by path, and as a last line
// of defence every warning and error is scrubbed of the secret values
// currently known (Secret data, temporary credentials), so an error message
// or stack trace that quotes one is cleaned too. Info lines and the access log
// (one line per request) are built only from safe fields.
import { pino } from 'pino';
import { LineWriter } from './line-writer.ts';

const REDACTED = '<redacted>';

const REDACTED_PATHS = [
  '*.authorization',
  '*.Authorization',
  '*["x-api-key"]',
  '*["x-amz-security-token"]',
  '*.cookie',
  '*["set-cookie"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers["x-amz-security-token"]',
  '*.headers.cookie',
];

/** Secret values by owner (the snapshot, one credential source, …). */
const secretsByOwner = new Map<object, string[]>();
/** All of them, longest first; rebuilt on the next scrub after a change, as compiles outnumber warnings. */
let secretValues: string[] | undefined = [];

/** Declares the secret values `owner` holds now, replacing what it declared before. */
export function registerSecrets(owner: object, values: readonly string[]): void {
  // Very short values would scrub ordinary words; AWS keys and tokens are long.
  const kept = values.filter((v) => v.length >= 8);
  if (kept.length === 0) secretsByOwner.delete(owner);
  else secretsByOwner.set(owner, kept);
  secretValues = undefined;
}

function knownSecrets(): string[] {
  if (secretValues) return secretValues;
  // Longest first, so a secret containing another is replaced whole; JSON-escaped forms too, as lines are JSON.
  const all = new Set<string>();
  for (const list of secretsByOwner.values()) {
    for (const v of list) all.add(v).add(JSON.stringify(v).slice(1, -1));
  }
  secretValues = [...all].sort((a, b) => b.length - a.length);
  return secretValues;
}

export function scrubSecrets(line: string): string {
  for (const value of knownSecrets()) if (line.includes(value)) line = line.replaceAll(value, REDACTED);
  return line;
}

/**
 * The application log's last line of defence. Warnings and errors carry
 * messages from libraries and the outside world (an STS error, a stack
 * trace), so they are scrubbed; info and debug lines are built by
 * lambda-ingress from names and counts, and are too many at startup with
 * thousands of routes to search each for thousands of secrets.
 */
function scrubWarnings(line: string): string {
  const level = line.startsWith('{"level":') ? Number(line.slice(9, 11)) : Number.NaN;
  return level < 40 ? line : scrubSecrets(line);
}

/**
 * The access log: one info line per request, in the application log's JSON
 * shape. Its members are written by the caller (they come from fields that
 * carry no secrets): pino's generic serialiser cost three times as much per
 * request as a line built for its one shape.
 */
export interface AccessLog {
  /** False below level info: nothing is written. */
  readonly enabled: boolean;
  /** Writes a line with these members: JSON text without braces, starting with a comma. */
  write(members: string): void;
}

export interface Loggers {
  /** The application log: scrubbed. */
  app: pino.Logger;
  access: AccessLog;
  /** Writes out every line logged so far (after the writes under way): before the process exits. */
  flush(): Promise<void>;
}

/**
 * Lines to stdout wait in memory for at most FLUSH_MS (or until a write's
 * worth is gathered), and are written without blocking the event loop; a
 * stdout that stops reading costs at most MAX_BUFFERED_BYTES of memory.
 */
const FLUSH_MS = 500;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface LoggerOptions {
  /** Members of every line (e.g. the worker id with --workers). */
  fields?: Record<string, unknown>;
  /** Other processes write to the same stdout (--workers): a pipe then gets writes it keeps whole. */
  sharedStdout?: boolean;
}

/** The destination is stdout unless given. */
export function createLoggers(
  level: string,
  destination?: pino.DestinationStream,
  { fields = {}, sharedStdout = false }: LoggerOptions = {},
): Loggers {
  const base = { service: 'lambda-ingress', ...fields };
  const redact = { paths: REDACTED_PATHS, censor: REDACTED };
  const stdout = destination
    ? undefined
    : new LineWriter(1, { flushMs: FLUSH_MS, maxBytes: MAX_BUFFERED_BYTES, shared: sharedStdout });
  // One stream for both, so lines keep their order; the application's lines are rare and go out at once.
  const app = stdout
    ? {
        write(line: string) {
          stdout.write(line);
          stdout.flush();
        },
      }
    : destination!;
  return {
    app: pino({ level, base, redact, hooks: { streamWrite: scrubWarnings } }, app),
    access: accessLog(level, { ...base, log: 'access' }, stdout ?? destination!),
    flush: () => (stdout ? stdout.drain() : Promise.resolve()),
  };
}

const INFO = pino.levels.values['info']!;

function accessLog(level: string, base: Record<string, unknown>, stream: pino.DestinationStream): AccessLog {
  const bindings = JSON.stringify(base).slice(1, -1);
  return {
    enabled: (pino.levels.values[level] ?? Number.POSITIVE_INFINITY) <= INFO,
    write(members) {
      stream.write(`{"level":${INFO},"time":${Date.now()},${bindings}${members},"msg":"request"}\n`);
    },
  };
}
