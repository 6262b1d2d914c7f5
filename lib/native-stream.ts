/**
 * @internal The native side of a stream on a pty master, a pipe or a socket (native/pty_stream.cc):
 * its handle, open until closed once, and the read side that pushes what it reads into a Node
 * stream while that stream wants more. Pty and SocketStream (NativeDuplex) and PipeReader share it.
 */
import * as os from 'node:os';
import type { Readable } from 'node:stream';
import { SyscallError } from './errors';
import { STREAM_EVENT, terminalBinding as native, type PtyStreamHandle } from './terminal-binding';

const { ECONNRESET, EPIPE } = os.constants.errno;

/** @internal What the stream does at the events that are not data. */
export interface NativeStreamEvents {
  /** The end of reading (end-of-file, a pty's EIO), before the stream's push(null). */
  end(): void;
  /** The fd can take more of a write that waits (see waitWritable). */
  writable?(): void;
}

/** @internal See the file's comment. */
export class NativeStream {
  readonly #handle: PtyStreamHandle;
  readonly #stream: Readable;
  readonly #events: NativeStreamEvents;
  #closed = false;
  #reading = false;
  #writing = false;

  constructor(stream: Readable, fd: number, kind: number, events: NativeStreamEvents) {
    this.#stream = stream;
    this.#events = events;
    this.#handle = native.ptyStreamOpen(fd, (event, value) => this.#onEvent(event, value), kind);
  }

  #onEvent(kind: number, value: Uint8Array | number | undefined): void {
    if (kind === STREAM_EVENT.data) {
      // undefined: a pipe's read that brought nothing.
      if (value !== undefined && !this.#stream.push(value)) this.#poll(false);
    } else if (kind === STREAM_EVENT.end || (kind === STREAM_EVENT.error && value === ECONNRESET)) {
      // ECONNRESET: a socket's peer closed with our writes unread; what it wrote has been read.
      this.#reading = false;
      this.#events.end();
      this.#stream.push(null);
      this.#stream.read(0); // 'end' (then 'close') at once when nothing is left to consume, as net.Socket
    } else if (kind === STREAM_EVENT.error) {
      this.#stream.destroy(new SyscallError('read', value as number));
    } else {
      this.#events.writable?.();
    }
  }

  #poll(reading: boolean): void {
    this.#reading = reading;
    if (!this.#closed) native.ptyStreamPoll(this.#handle, reading, this.#writing);
  }

  /** The stream's _read: reads until the stream is full (push returns false). */
  startReading(): void {
    if (!this.#reading) this.#poll(true);
  }

  /** Whether a write waits for the fd to be writable (the `writable` event). */
  waitWritable(waiting: boolean): void {
    this.#writing = waiting;
    this.#poll(this.#reading);
  }

  /** Whether the open fd keeps the event loop alive. */
  ref(ref: boolean): void {
    if (!this.#closed) native.ptyStreamRef(this.#handle, ref);
  }

  /** A pipe or a socket: delivers what it holds now, then the end, at once. */
  drain(): void {
    if (!this.#closed) native.ptyStreamDrain(this.#handle);
  }

  /** A pty master after its end: drops what it holds now. */
  discard(): void {
    if (!this.#closed) native.ptyStreamDiscard(this.#handle);
  }

  /** Writes what the fd takes now of `chunk` from `offset`: bytes written, or -errno (EAGAIN: wait for writable; EPIPE once closed). */
  write(chunk: Buffer, offset: number): number {
    return this.#closed ? -EPIPE : native.ptyStreamWrite(this.#handle, chunk, offset);
  }

  /** A socket: shutdown(SHUT_WR); 0 or -errno (0 once closed). */
  shutdown(): number {
    return this.#closed ? 0 : native.ptyStreamShutdown(this.#handle);
  }

  /** Whether the fd has been closed (close() was called). */
  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.ptyStreamClose(this.#handle);
  }
}
