// The parent's end of the socket pair of a child's fd 3 and up (`fds: { 3: 'pipe' }`), read and
// written natively (native/pty_stream.cc) as PipeReader reads stdout: a net.Socket keeps its fd
// open until its data has been consumed, so every such output nobody read held an fd for the life
// of the process (child_process drains them at exit, losing the data of a late reader).
import os from 'node:os';
import { Duplex } from 'node:stream';
import { SyscallError } from '../errors';
import { FD_KIND, STREAM_EVENT, terminalBinding as native, writeSome, type PendingWrite, type PtyStreamHandle } from '../terminal-binding';
import { endNow } from './pipe-reader';

const { EAGAIN, ECONNRESET, ENOTCONN, EPIPE } = os.constants.errno;

type WriteCallback = (error: Error | null | undefined) => void;

/**
 * @internal A child's fd 3 and up given as 'pipe' (`child.stdio[3]`). It behaves as
 * child_process's `net.Socket` on the same socket pair: `end()` half-closes (the child reads
 * end-of-file and may still answer), and the end of the child's side ends this side too
 * (allowHalfOpen false), after which writes fail with EPIPE. Its fd is closed at end-of-file
 * rather than when the data is consumed, so what was read stays readable.
 */
export class SocketStream extends Duplex {
  readonly #handle: PtyStreamHandle;
  #closed = false;
  #reading = false;
  #peerEnded = false; // end-of-file read: the fd closes once no write is under way or queued
  // A write that the socket could not take at once.
  #pending: PendingWrite | undefined;

  constructor(fd: number) {
    super({ allowHalfOpen: false });
    this.#handle = native.ptyStreamOpen(fd, (kind, value) => this.#onEvent(kind, value), FD_KIND.socket);
    this.read(0); // reads from the start, as net.Socket does: an output nobody reads still ends
  }

  #onEvent(kind: number, value: Buffer | number | undefined): void {
    if (kind === STREAM_EVENT.data) {
      if (value !== undefined && !this.push(value)) this.#poll(false);
    } else if (kind === STREAM_EVENT.end || (kind === STREAM_EVENT.error && value === ECONNRESET)) {
      // ECONNRESET: the child closed its end with our writes unread; what it wrote has been read.
      this.#reading = false;
      this.#peerEnded = true;
      this.#closeIfDone();
      this.push(null);
      this.read(0); // 'end' at once when nothing is left to consume
    } else if (kind === STREAM_EVENT.error) {
      this.destroy(new SyscallError('read', value as number));
    } else {
      this.#continueWrite();
    }
  }

  /**
   * As net.Socket's: once the child's end has ended this side's too (allowHalfOpen false), a
   * write fails with EPIPE (to its callback, and as an 'error'), not with "write after end".
   */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (!this.#peerEnded || !this.writableEnded) return super.write(chunk, encoding as BufferEncoding, callback);
    const error = new SyscallError('write', EPIPE);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (done !== undefined) process.nextTick(done, error);
    this.destroy(error);
    return false;
  }

  #poll(reading: boolean): void {
    this.#reading = reading;
    if (!this.#closed) native.ptyStreamPoll(this.#handle, reading, this.#pending !== undefined);
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
   * @internal Delivers what the socket holds now and ends both directions, whoever else still
   * holds the child's end: for a child the library stopped and reaped.
   */
  [endNow](): void {
    if (!this.#closed && !this.readableEnded) native.ptyStreamDrain(this.#handle);
    // Writing ends too: a write waiting for room that the leftover may never make (or a corked
    // one) fails with EPIPE, as at the child's end, instead of holding 'close' for ever.
    this.#close();
    this.#continueWrite();
  }

  /** @internal */
  override _read(): void {
    if (!this.#reading) this.#poll(true);
  }

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pending = { chunk, offset: 0, callback };
    this.#continueWrite();
  }

  // Writes what the socket takes now; the rest waits for it to be writable.
  #continueWrite(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    const result = writeSome(this.#closed ? null : this.#handle, pending, EPIPE);
    if (result === -EAGAIN) return this.#poll(this.#reading);
    const error = result < 0 ? new SyscallError('write', -result) : undefined;
    this.#pending = undefined;
    this.#poll(this.#reading);
    pending.callback(error); // may start the next write queued behind this one
    this.#closeIfDone();
  }

  // Once the child's end has come, the fd is closed when no write is under way or queued (a child
  // that shut down only its writing still reads what was written before, as with net.Socket).
  #closeIfDone(): void {
    if (this.#peerEnded && this.#pending === undefined && this.writableLength === 0) this.#close();
  }

  /** @internal The child reads end-of-file; its answers are still read. */
  override _final(callback: (error?: Error | null) => void): void {
    const result = this.#closed ? 0 : native.ptyStreamShutdown(this.#handle);
    callback(result < 0 && result !== -ENOTCONN ? new SyscallError('shutdown', -result) : null);
  }

  /** @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.callback(error);
    callback(error);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.ptyStreamClose(this.#handle);
  }
}
