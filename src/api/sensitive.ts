import { inspect } from 'node:util';

const REDACTED = '<redacted>';

/**
 * A secret value (key, token, API key). It prints as <redacted> in logs, JSON,
 * util.inspect and string interpolation; only reveal() gives the value, at the
 * point where it is sent upstream.
 */
export class Sensitive {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: Sensitive): boolean {
    return this.#value === other.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
