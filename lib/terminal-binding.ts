/**
 * @internal The native functions of terminals and signal masks (native/pty.cc, native/termios.cc,
 * native/sigmask.cc), typed here rather than in lib/native.ts so that the feature's files stay
 * together.
 */
import { binding } from './native';

/** @internal */
export interface TerminalBinding {
  /** With `hold`, both fds are closed at the environment's teardown until closeFd or ptyStreamOpen takes them (spawn's own pty). */
  openPty(cols: number, rows: number, hold?: boolean): [master: number, slave: number, path: string];
  setWindowSize(fd: number, cols: number, rows: number): void;
  getWindowSize(fd: number): [cols: number, rows: number];
  isatty(fd: number): boolean;
  ttyname(fd: number): string;
  /** [iflag, oflag, cflag, lflag, ispeed, ospeed, ...c_cc] */
  tcgetattr(fd: number): number[];
  tcsetattr(fd: number, when: number, values: number[]): void;
  readonly termiosConstants: {
    readonly flags: Readonly<Record<string, number>>;
    readonly cc: Readonly<Record<string, number>>;
    readonly when: Readonly<Record<'now' | 'drain' | 'flush', number>>;
    /** [B constant, baud] pairs, flattened. */
    readonly speeds: readonly number[];
    readonly nccs: number;
  };
  sigprocmask(how: number, low: number, high: number): [low: number, high: number];
  sigpending(): [low: number, high: number];
  raiseInThreadForTest(signo: number): void;
  closeFd(fd: number): void;
  /**
   * Adopts a master fd, a pipe's read end or a socket (`kind`: FD_KIND); onEvent(kind, value):
   * 0 data (a Buffer, or a pipe's Uint8Array view of a read slab; undefined for a drain's read that
   * brought nothing), 1 end, 2 error (errno), 3 writable.
   */
  ptyStreamOpen(fd: number, onEvent: (kind: number, value: Uint8Array | number | undefined) => void, kind?: number): PtyStreamHandle;
  /** Whether the stream keeps the event loop alive. */
  ptyStreamRef(handle: PtyStreamHandle, ref: boolean): void;
  /** A pipe or a socket: delivers what it holds now, then the end (synchronously). */
  ptyStreamDrain(handle: PtyStreamHandle): void;
  /** A pty master after its end: reads and drops what is there now (never polled). */
  ptyStreamDiscard(handle: PtyStreamHandle): void;
  ptyStreamPoll(handle: PtyStreamHandle, read: boolean, write: boolean): void;
  /** Bytes written, or -errno. */
  ptyStreamWrite(handle: PtyStreamHandle, buffer: Buffer, offset: number): number;
  ptyStreamClose(handle: PtyStreamHandle): void;
  /** A socket: shutdown(SHUT_WR); 0 or -errno. */
  ptyStreamShutdown(handle: PtyStreamHandle): number;
}

/** @internal The kinds of ptyStreamOpen's onEvent(kind, value) (native/pty_stream.cc's EventKind). */
export const STREAM_EVENT = { data: 0, end: 1, error: 2, writable: 3 } as const;

/** @internal What ptyStreamOpen adopts. */
export const FD_KIND = { ptyMaster: 0, pipeReadEnd: 1, socket: 2 } as const;

/** @internal The native side of a Pty (native/pty_stream.cc). */
export type PtyStreamHandle = { readonly __ptyStream: unique symbol };

/** @internal */
export const terminalBinding = binding as unknown as TerminalBinding;
