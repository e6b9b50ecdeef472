// A Log (src/kube/log.ts) for tests of the Kubernetes plumbing.
import type { Log } from '../../src/kube/log.ts';

/** A Log that keeps every entry (to look for leaked secrets) and prints warnings/errors when DEBUG_E2E is set. */
export class CaptureLog implements Log {
  readonly entries: { level: string; msg: string | undefined; obj: object }[] = [];
  debug(obj: object, msg?: string) {
    this.#add('debug', obj, msg);
  }
  info(obj: object, msg?: string) {
    this.#add('info', obj, msg);
  }
  warn(obj: object, msg?: string) {
    this.#add('warn', obj, msg);
  }
  error(obj: object, msg?: string) {
    this.#add('error', obj, msg);
  }
  text(): string {
    return this.entries.map((e) => `${e.level} ${e.msg} ${JSON.stringify(e.obj)}`).join('\n');
  }
  #add(level: string, obj: object, msg?: string) {
    this.entries.push({ level, msg, obj });
    if (process.env['DEBUG_E2E']) process.stderr.write(`${level} ${msg} ${JSON.stringify(obj)}\n`);
  }
}
