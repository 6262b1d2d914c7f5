// The parent's end of the socket pair of a child's fd 3 and up (`fds: { 3: 'pipe' }`), read and
// written natively (native/pty_stream.cc) as PipeReader reads stdout: a net.Socket keeps its fd
// open until its data has been consumed, so every such output nobody read held an fd for the life
// of the process (child_process drains them at exit, losing the data of a late reader).
import os from 'node:os';
import { SyscallError } from '../errors';
import { NativeDuplex } from '../native-duplex';
import { FD_KIND } from '../terminal-binding';
import { endNow } from './pipe-reader';

const { ENOTCONN } = os.constants.errno;

/**
 * @internal A child's fd 3 and up given as 'pipe' (`child.stdio[3]`). It behaves as
 * child_process's `net.Socket` on the same socket pair: `end()` half-closes (the child reads
 * end-of-file and may still answer), and the end of the child's side ends this side too
 * (allowHalfOpen false), after which writes fail with EPIPE. Its fd is closed at end-of-file
 * once no write is under way or queued (a child that shut down only its writing still reads what
 * was written before), rather than when the data is consumed, so what was read stays readable.
 */
export class SocketStream extends NativeDuplex {
  constructor(fd: number) {
    super(fd, FD_KIND.socket, 'EPIPE');
  }

  /**
   * @internal Delivers what the socket holds now and ends both directions, whoever else still
   * holds the child's end: for a child the library stopped and reaped.
   */
  [endNow](): void {
    if (!this.readableEnded) this.native.drain();
    // Writing ends too: a write waiting for room that the leftover may never make (or a corked
    // one) fails with EPIPE, as at the child's end, instead of holding 'close' for ever.
    this.closeNow();
  }

  /** @internal The child reads end-of-file; its answers are still read. */
  override _final(callback: (error?: Error | null) => void): void {
    const result = this.native.shutdown();
    callback(result < 0 && result !== -ENOTCONN ? new SyscallError('shutdown', -result) : null);
  }
}
