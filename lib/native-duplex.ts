/**
 * The duplex stream that `Pty` and a child's `fds: {N: 'pipe'}` stream share: the fd read and
 * written natively (native/pty_stream.cc), a write the fd cannot take at once waiting for it to
 * be writable, and what becomes of writes once the other end has gone.
 */
import * as os from 'node:os';
import { Duplex } from 'node:stream';
import { SyscallError } from './errors';
import { NativeStream } from './native-stream';

const { EAGAIN, EPIPE } = os.constants.errno;
// How often a terminal kept open after its end is emptied (see keepOpenAfterEnd).
const DISCARD_MS = 50;

type WriteCallback = (error: Error | null | undefined) => void;

/**
 * A duplex stream on an fd that the library reads and writes natively: the base of {@link Pty}.
 * Its readable side ends when the other end does (a terminal's hang-up, a socket's end-of-file),
 * which ends its writable side too (`allowHalfOpen` false, as a socket of `child_process`).
 */
export abstract class NativeDuplex extends Duplex {
  readonly #native: NativeStream;
  // What becomes of writes once the other end has ended: dropped (a terminal), or failed with EPIPE (a socket).
  readonly #afterEnd: 'drop' | 'EPIPE';
  #peerEnded = false;
  // A terminal whose session still runs: its master is kept open past the end (see keepOpenAfterEnd),
  // and emptied now and then meanwhile.
  #keepOpen = false;
  #discarding: ReturnType<typeof setInterval> | undefined;
  // A write that the fd could not take at once: the rest, and its callback.
  #pending: { chunk: Buffer; offset: number; callback: WriteCallback } | undefined;

  /** @internal Adopts `fd` (FD_KIND `kind`), which it closes; `afterEnd`: see #afterEnd. */
  protected constructor(fd: number, kind: number, afterEnd: 'drop' | 'EPIPE') {
    super({ allowHalfOpen: false, decodeStrings: true });
    this.#afterEnd = afterEnd;
    this.#native = new NativeStream(this, fd, kind, { end: () => this.#onPeerEnd(), writable: () => this.#continueWrite() });
    this.read(0); // reads from the start, as net.Socket does: an output nobody reads still ends
  }

  /** @internal The native side, for what a subclass adds (shutdown, drain). */
  protected get native(): NativeStream {
    return this.#native;
  }

  /** @internal Whether the other end has ended (a terminal's hang-up, a socket's end-of-file). */
  protected get peerEnded(): boolean {
    return this.#peerEnded;
  }

  #onPeerEnd(): void {
    this.#peerEnded = true;
    // A terminal's master is of no more use: closed now, not once the output is consumed (a pty
    // nobody read held it for ever), unless its session still runs. A socket's child may still
    // read what was written before.
    if (this.#afterEnd === 'drop') {
      if (!this.#keepOpen) this.closeNow();
      // A process that opens the terminal again and writes to it would block once its buffer is
      // full, with nobody reading: what it writes is dropped (the output has ended), every 50 ms.
      else this.#discarding = setInterval(() => this.#native.discard(), DISCARD_MS).unref();
    } else {
      this.#closeIfDone();
    }
  }

  /**
   * @internal A terminal's master while its child runs: kept open after the end of its output
   * (every fd of the slave closed), since closing a master hangs its terminal up, and the kernel
   * then sends SIGHUP to the session of a child that closed its terminal's fds and runs on.
   * Closed once `keep` is false again (the child reaped) if the end has come.
   */
  protected keepOpenAfterEnd(keep: boolean): void {
    const held = this.#heldOpen;
    this.#keepOpen = keep;
    if (!held || keep) return;
    clearInterval(this.#discarding);
    this.closeNow();
  }

  // A terminal whose output has ended while its child runs: open, not read, emptied now and then.
  get #heldOpen(): boolean {
    return this.#keepOpen && this.#peerEnded && this.#afterEnd === 'drop';
  }

  /**
   * Writes `chunk` as any Writable; once the other end has ended the writable side too, the write
   * is dropped (a terminal: its callback gets no error) or fails with EPIPE as net.Socket's (to its
   * callback, and as an 'error'), not with "write after end".
   *
   * @param chunk - a string, Buffer or Uint8Array
   * @param callback - called once the chunk is written (or dropped), or with the error
   * @returns false when the caller should wait for 'drain' before writing more
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for a chunk that is not a string, Buffer or
   *   Uint8Array (`ERR_STREAM_NULL_VALUES` for null), also after the end, as any Writable
   */
  override write(chunk: unknown, callback?: (error: Error | null | undefined) => void): boolean;
  /**
   * As the other `write`, with the string's encoding.
   *
   * @param chunk - a string, Buffer or Uint8Array
   * @param encoding - the string's encoding
   * @param callback - called once the chunk is written (or dropped), or with the error
   * @returns false when the caller should wait for 'drain' before writing more
   * @throws TypeError as the other `write`
   */
  override write(chunk: unknown, encoding: BufferEncoding, callback?: (error: Error | null | undefined) => void): boolean;
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    // A chunk of the wrong type is refused by Writable's write (a TypeError), before and after the end alike.
    const valid = typeof chunk === 'string' || chunk instanceof Uint8Array;
    if (!valid || !this.#peerEnded || !this.writableEnded) return super.write(chunk, encoding as BufferEncoding, callback);
    const error = this.#writeError(EPIPE);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (done !== undefined) process.nextTick(done, error ?? null);
    if (error === undefined) return true;
    this.destroy(error);
    return false;
  }

  #writeError(errno: number): Error | undefined {
    return this.#afterEnd === 'drop' ? undefined : new SyscallError('write', errno);
  }

  /**
   * Lets the event loop end while this stream is open (as `net.Socket`'s `unref()`);
   * `child.unref()` calls it.
   *
   * @returns this stream
   */
  unref(): this {
    this.#native.ref(false);
    return this;
  }

  /**
   * Undoes `unref()`: while it is read or written, the open stream keeps the event loop alive.
   *
   * @returns this stream
   */
  ref(): this {
    this.#native.ref(true);
    return this;
  }

  /** @internal */
  override _read(): void {
    this.#native.startReading();
  }

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#pending = { chunk, offset: 0, callback };
    this.#continueWrite();
  }

  // Writes what the fd takes now; the rest waits for it to be writable.
  #continueWrite(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    let result = 0;
    while (result >= 0 && pending.offset < pending.chunk.length) {
      result = this.#native.write(pending.chunk, pending.offset);
      if (result > 0) pending.offset += result;
    }
    if (result === -EAGAIN) return this.#native.waitWritable(true);
    this.#pending = undefined;
    this.#native.waitWritable(false);
    pending.callback(result < 0 ? this.#writeError(-result) : undefined); // may start the next write queued behind this one
    this.#closeIfDone();
  }

  // Once the other end has ended, the fd is closed when no write is under way or queued.
  #closeIfDone(): void {
    if (this.#peerEnded && this.#pending === undefined && this.writableLength === 0) this.#native.close();
  }

  /** @internal Closes the fd now: a write waiting for room is dropped or fails with EPIPE, as after the end. */
  protected closeNow(): void {
    this.#native.close();
    this.#continueWrite();
  }

  /** @internal */
  override _destroy(error: Error | null, callback: WriteCallback): void {
    // The end's own destroy (autoDestroy) leaves a running child's terminal open, as the end does.
    if (!this.#heldOpen) this.#native.close();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.callback(error);
    callback(error);
  }
}
