// Log lines to a file descriptor (stdout), gathered in one buffer and written
// by libuv's thread pool, so that the event loop never waits on the reader of
// the pipe. One write carries many lines, as a thread-pool write costs tens of
// µs whatever its size: the access log costs a fraction of a write per
// request. Every write ends at a line's end. When other processes write to the
// same pipe (--workers), a write is at most PIPE_BUF bytes when it can be, so
// that lines never interleave (writes to one open regular file never do).
import { fstatSync, write, writeSync } from 'node:fs';

/** The most a write to a pipe carries with the guarantee that no other writer's bytes come in between (Linux). */
const PIPE_BUF = 4096;
const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
/** Room for a few hundred lines; more is taken while the reader lags, and given back once it has caught up. */
const INITIAL_BYTES = 64 * 1024;
const NAP = new Int32Array(new SharedArrayBuffer(4));

export interface LineWriterOptions {
  /** Gathered lines wait for this long at most. */
  flushMs: number;
  /** Lines waiting beyond this many bytes (the reader is stuck) are dropped, and the drop is reported later. */
  maxBytes: number;
  /** Other processes write to the same descriptor. */
  shared: boolean;
}

export class LineWriter {
  readonly #fd: number;
  readonly #maxBytes: number;
  /** The most one write carries (unless a line is longer). */
  readonly #chunk: number;
  #buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  /** [#start, #end) of #buffer waits to be written; a write under way covers its beginning. */
  #start = 0;
  #end = 0;
  #writing = false;
  /** The descriptor refused a write for good (EPIPE: the reader is gone): lines are discarded. */
  #closed = false;
  #dropped = 0;
  #drained: (() => void)[] = [];

  constructor(fd: number, options: LineWriterOptions) {
    this.#fd = fd;
    this.#maxBytes = options.maxBytes;
    this.#chunk = options.shared && !fstatSync(fd).isFile() ? PIPE_BUF : CHUNK;
    setInterval(() => this.flush(), options.flushMs).unref();
    // A process leaving through process.exit() (not our shutdown, which drains) still writes what it holds.
    process.once('exit', () => this.flushSync());
  }

  /** Adds a line (ending with "\n"); it goes out with the next write. */
  write(line: string): void {
    if (this.#closed) return;
    if (!this.#append(line)) this.#dropped++;
    else if (this.#end - this.#start >= this.#chunk) this.flush();
  }

  /** Starts writing what is gathered, unless a write is under way (it goes on with the rest when done). */
  flush(): void {
    if (this.#closed) {
      this.#resolveDrained();
      return;
    }
    if (this.#writing) return;
    if (this.#dropped > 0 && this.#append(droppedLine(this.#dropped))) this.#dropped = 0;
    if (this.#start === this.#end) {
      this.#resolveDrained();
      return;
    }
    this.#writing = true;
    this.#writeChunk(this.#buffer, this.#start, this.#chunkLength());
  }

  /** Resolves once every line written so far has been handed to the descriptor (or the descriptor is gone). */
  drain(): Promise<void> {
    return new Promise((resolve) => {
      this.#drained.push(resolve);
      this.flush();
    });
  }

  /** Writes what is gathered synchronously, after what a write under way carries: at exit only. */
  flushSync(): void {
    // Bytes of a write under way are in [#start, …): they may be written twice rather than lost.
    // A full non-blocking pipe gets a second to take them (in 1 ms naps), not forever.
    for (let naps = 0; !this.#closed && this.#start < this.#end; ) {
      try {
        this.#start += writeSync(this.#fd, this.#buffer, this.#start, this.#end - this.#start);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++naps > 1000) this.#close();
        else Atomics.wait(NAP, 0, 0, 1);
      }
    }
  }

  #writeChunk(buffer: Buffer, offset: number, length: number): void {
    write(this.#fd, buffer, offset, length, null, (error, written) => {
      if (error) {
        if (error.code === 'EAGAIN') {
          // A non-blocking pipe that is full: the reader will catch up.
          setTimeout(() => this.#writeChunk(buffer, offset, length), 10).unref();
          return;
        }
        this.#close();
        return;
      }
      this.#start += written;
      this.#writing = false;
      if (this.#start === this.#end) {
        this.#start = this.#end = 0;
        if (this.#buffer.length > INITIAL_BYTES) this.#buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
      }
      // More waits (lines added meanwhile, or a partial write): on with it if it makes a full write or someone waits.
      if (this.#end - this.#start >= this.#chunk || this.#drained.length > 0) this.flush();
    });
  }

  #append(line: string): boolean {
    // UTF-8 needs at most 3 bytes per UTF-16 unit: the exact length is counted only when that might not fit.
    if (this.#end + line.length * 3 > this.#buffer.length && !this.#makeRoom(Buffer.byteLength(line))) {
      return false;
    }
    this.#end += this.#buffer.write(line, this.#end);
    return true;
  }

  /** Up to the end of the last line that fits in one write; a longer line goes alone. */
  #chunkLength(): number {
    const start = this.#start;
    const pending = this.#end - start;
    if (pending <= this.#chunk) return pending;
    const last = this.#buffer.lastIndexOf(NEWLINE, start + this.#chunk - 1);
    if (last >= start) return last + 1 - start;
    const first = this.#buffer.indexOf(NEWLINE, start);
    return (first === -1 ? this.#end : first + 1) - start;
  }

  /** Makes room for `bytes` more; false when that would hold more than maxBytes. */
  #makeRoom(bytes: number): boolean {
    const pending = this.#end - this.#start;
    if (this.#end + bytes <= this.#buffer.length) return true;
    if (pending + bytes > this.#maxBytes) return false;
    // The bytes of a write under way are copied too: its callback advances #start by what it wrote.
    const size = Math.max(this.#buffer.length, 2 * (pending + bytes));
    const next = size === this.#buffer.length && !this.#writing ? this.#buffer : Buffer.allocUnsafeSlow(size);
    this.#buffer.copy(next, 0, this.#start, this.#end);
    this.#buffer = next;
    this.#start = 0;
    this.#end = pending;
    return true;
  }

  #close(): void {
    this.#closed = true;
    this.#writing = false;
    this.#start = this.#end = 0;
    this.#resolveDrained();
  }

  #resolveDrained(): void {
    const waiting = this.#drained;
    if (waiting.length === 0) return;
    this.#drained = [];
    for (const resolve of waiting) resolve();
  }
}

function droppedLine(dropped: number): string {
  return `{"level":40,"time":${Date.now()},"service":"lambda-ingress","msg":"${dropped} log lines dropped: stdout did not keep up"}\n`;
}
