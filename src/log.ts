// Structured JSON logs (pino, Fastify's own logger). Anything that could
// carry a credential is redacted by path, whatever logs it.
import { pino } from 'pino';

export const REDACTED_PATHS = [
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

export function createLogger(level: string, destination?: NodeJS.WritableStream) {
  return pino(
    { level, redact: { paths: REDACTED_PATHS, censor: '<redacted>' }, base: { service: 'lambda-ingress' } },
    destination as pino.DestinationStream | undefined,
  );
}
