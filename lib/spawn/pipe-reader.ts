// The parent's read end of a child's stdout or stderr pipe, as a Readable read natively
// (native/pty_stream.cc, ReadPipe): each chunk is what the pipe held when read, so a fast writer's
// output arrives in few large chunks instead of one per write (docs/output.md).
import { Readable } from 'node:stream';
import { NativeStream } from '../native-stream';
import { FD_KIND } from '../terminal-binding';

/** @internal Reads what the pipe holds now, then ends the stream (see PipeReader). */
export const endNow = Symbol('endNow');

/** @internal A child's output pipe (child.stdout, child.stderr); owns the fd, closed when destroyed. */
export class PipeReader extends Readable {
  readonly #native: NativeStream;

  constructor(fd: number) {
    super();
    // At its end the fd is of no more use: closed now, not once the output is consumed (an output
    // that nobody reads would hold it for the life of the process).
    this.#native = new NativeStream(this, fd, FD_KIND.pipeReadEnd, { end: () => this.#native.close() });
    this.read(0); // reads from the start, as net.Socket does: an output nobody reads still ends
  }

  /** Lets the event loop end while this stream is open (as net.Socket's unref). */
  unref(): this {
    this.#native.ref(false);
    return this;
  }

  /** Undoes unref(). */
  ref(): this {
    this.#native.ref(true);
    return this;
  }

  /**
   * @internal Delivers what the pipe holds now and ends the stream, whoever else still holds its
   * write end: for a child the library stopped and reaped.
   */
  [endNow](): void {
    if (!this.readableEnded) this.#native.drain();
  }

  /** @internal */
  override _read(): void {
    this.#native.startReading();
  }

  /** @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#native.close();
    callback(error);
  }
}
