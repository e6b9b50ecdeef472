// What InvokeWithResponseStream's event stream says: PayloadChunk events carry
// the function's bytes, one InvokeComplete event ends the stream (with an
// ErrorCode when the function failed), and `error` or `exception` messages
// are Lambda's own failures in mid-stream. Pure, no I/O.
import { EventStreamDecoder, EventStreamError, type Message } from './eventstream.ts';

export { EventStreamError } from './eventstream.ts';

export type InvokeStreamEvent =
  | { kind: 'chunk'; payload: Uint8Array }
  /** The function finished; with errorCode when it failed (errorDetails is the function's own text: log it, never send it). */
  | { kind: 'complete'; errorCode?: string; errorDetails?: string; logResult?: string }
  /** Lambda failed mid-stream (`:message-type` error or exception); nothing follows. */
  | { kind: 'error'; code: string; message: string };

export class InvokeStreamDecoder {
  readonly #messages: EventStreamDecoder;
  #finished = false;
  #failure: EventStreamError | undefined;

  constructor(options: { maxMessageBytes?: number } = {}) {
    this.#messages = new EventStreamDecoder(options);
  }

  /**
   * The events `chunk` completes, one at a time, then EventStreamError if the
   * stream breaks (after the good events before it). Iterate it to its end or
   * error before the next push.
   */
  *push(chunk: Uint8Array): Generator<InvokeStreamEvent, void, undefined> {
    if (this.#failure) throw this.#failure;
    try {
      for (const message of this.#messages.push(chunk)) {
        if (this.#finished) throw new EventStreamError('the event stream goes on after its last event');
        const event = toEvent(message);
        if (event === undefined) continue;
        if (event.kind !== 'chunk') this.#finished = true;
        yield event;
      }
    } catch (error) {
      this.#failure = error as EventStreamError;
      throw error;
    }
  }

  /** The HTTP body ended: an error unless the stream ended with InvokeComplete or an error message. */
  end(): void {
    if (this.#failure) throw this.#failure;
    try {
      this.#messages.end();
      if (!this.#finished) throw new EventStreamError('the event stream ended without InvokeComplete');
    } catch (error) {
      this.#failure = error as EventStreamError;
      throw error;
    }
  }
}

/** Lambda reports a function timeout as Sandbox.Timedout (or, in the details, "Task timed out"). */
export function isTimeout(event: Extract<InvokeStreamEvent, { kind: 'complete' }>): boolean {
  return event.errorCode === 'Sandbox.Timedout' || /Task timed out/.test(event.errorDetails ?? '');
}

/** undefined for events of types this version does not know (the SDKs skip them too). */
function toEvent(message: Message): InvokeStreamEvent | undefined {
  const messageType = stringHeader(message, ':message-type');
  if (messageType === 'error') {
    return {
      kind: 'error',
      code: stringHeader(message, ':error-code') ?? 'UnknownError',
      message: stringHeader(message, ':error-message') ?? '',
    };
  }
  if (messageType === 'exception') {
    return {
      kind: 'error',
      code: stringHeader(message, ':exception-type') ?? 'UnknownException',
      message: exceptionMessage(message.body),
    };
  }
  if (messageType !== 'event') {
    throw new EventStreamError(`an event stream message has :message-type ${JSON.stringify(messageType)}`);
  }
  const eventType = stringHeader(message, ':event-type');
  if (eventType === 'PayloadChunk') return { kind: 'chunk', payload: message.body };
  if (eventType === 'InvokeComplete') return complete(message.body);
  return undefined;
}

function stringHeader(message: Message, name: string): string | undefined {
  const header = message.headers[name];
  return header?.type === 'string' ? header.value : undefined;
}

function complete(body: Uint8Array): InvokeStreamEvent {
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? {} : JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new EventStreamError('the InvokeComplete event is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EventStreamError('the InvokeComplete event is not a JSON object');
  }
  const fields = parsed as Record<string, unknown>;
  const text = (name: string) => {
    const value = fields[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const errorCode = text('ErrorCode');
  const errorDetails = text('ErrorDetails');
  const logResult = text('LogResult');
  return {
    kind: 'complete',
    ...(errorCode !== undefined && { errorCode }),
    ...(errorDetails !== undefined && { errorDetails }),
    ...(logResult !== undefined && { logResult }),
  };
}

function exceptionMessage(body: Uint8Array): string {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { message?: unknown; Message?: unknown };
    const message = parsed.message ?? parsed.Message;
    return typeof message === 'string' ? message : '';
  } catch {
    return '';
  }
}
