// The parent's read end of a child's stdout or stderr pipe, as a Readable read natively
// (native/pty_stream.cc, ReadPipe): each chunk is what the pipe held when read, so a fast writer's
// output arrives in few large chunks instead of one per write (docs/output.md).
import { Readable } from 'node:stream';
import { SyscallError } from '../errors';
import { FD_KIND, STREAM_EVENT, terminalBinding as native, type PtyStreamHandle } from '../terminal-binding';

/** @internal Reads what the pipe holds now, then ends the stream (see PipeReader). */
export const endNow = Symbol('endNow');

/** @internal A child's output pipe (child.stdout, child.stderr); owns the fd, closed when destroyed. */
export class PipeReader extends Readable {
  readonly #handle: PtyStreamHandle;
  #closed = false;
  #reading = false;

  constructor(fd: number) {
    super();
    this.#handle = native.ptyStreamOpen(fd, (kind, value) => this.#onEvent(kind, value), FD_KIND.pipeReadEnd);
    this.read(0); // reads from the start, as net.Socket does: an output nobody reads still ends
  }

  #onEvent(kind: number, value: Buffer | number | undefined): void {
    if (kind === STREAM_EVENT.data) {
      if (value !== undefined && !this.push(value)) this.#poll(false);
    } else if (kind === STREAM_EVENT.end) {
      this.#reading = false;
      // The fd is of no more use: closed now, not once the output is consumed (an output that
      // nobody reads would hold it for the life of the process).
      this.#close();
      this.push(null);
      this.read(0); // 'end' (then 'close') at once when nothing is left to consume, as net.Socket

    } else {
      this.destroy(new SyscallError('read', value as number));
    }
  }

  #poll(reading: boolean): void {
    this.#reading = reading;
    if (!this.#closed) native.ptyStreamPoll(this.#handle, reading, false);
  }

  /** Lets the event loop end while this stream is open (as net.Socket's unref). */
  unref(): this {
    if (!this.#closed) native.ptyStreamRef(this.#handle, false);
    return this;
  }

  /** Undoes unref(). */
  ref(): this {
    if (!this.#closed) native.ptyStreamRef(this.#handle, true);
    return this;
  }

  /**
   * @internal Delivers what the pipe holds now and ends the stream, whoever else still holds its
   * write end: for a child the library stopped and reaped.
   */
  [endNow](): void {
    if (this.#closed || this.readableEnded) return;
    native.ptyStreamDrain(this.#handle);
  }

  /** @internal */
  override _read(): void {
    if (!this.#reading) this.#poll(true);
  }

  /** @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close();
    callback(error);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.ptyStreamClose(this.#handle);
  }
}
