/**
 * Pseudo-terminals: `openpty` (a master/slave pair), and `Pty`, the duplex stream on a master
 * that `spawn(..., { pty })` gives as `child.pty`.
 *
 * Reading a master: once the last fd of the slave is closed, read(2) on the master returns what
 * is still buffered, then fails with EIO. That EIO is the end of the terminal's output, not an
 * error: `Pty` ends its readable side there, and only there. The master is read natively
 * (native/pty_stream.cc), not as a libuv stream, which would end at the first POLLHUP and lose
 * the tail (docs/terminals.md).
 */
import { invalidArgType } from './errors';
import { NativeDuplex } from './native-duplex';
import { FD_KIND, terminalBinding as native } from './terminal-binding';
import { readOptions, validateInteger, validating } from './validate';

/** The size of a terminal, in character cells. */
export interface WindowSize {
  /** Columns (ws_col). */
  cols: number;
  /** Rows (ws_row). */
  rows: number;
}

/** Options of `openpty` and of `spawn`'s `pty` option. */
export interface PtyOptions {
  /** Columns, 1 to 65535 (default 80). */
  cols?: number;
  /** Rows, 1 to 65535 (default 24). */
  rows?: number;
}

/** A pseudo-terminal pair made by `openpty`. Both fds are close-on-exec; close them when done. */
export interface PtyPair {
  /** The master (controlling) end: what a terminal emulator reads and writes. */
  master: number;
  /** The slave end: the terminal a program sees (its fds 0..2). */
  slave: number;
  /** The slave's path, e.g. `/dev/pts/3` (ptsname(3)). */
  path: string;
}

/** @internal The size of `options`, validated; 80 x 24 by default. */
export function ptySize(options: unknown, name: string): WindowSize {
  if (options === undefined) return { cols: 80, rows: 24 };
  if (typeof options !== 'object' || options === null) throw invalidArgType(name, 'an object', options);
  const { cols, rows } = readOptions<PtyOptions>(options, ['cols', 'rows'], name);
  return {
    cols: cols === undefined ? 80 : validateInteger(cols, `${name}.cols`, 1, 65535),
    rows: rows === undefined ? 24 : validateInteger(rows, `${name}.rows`, 1, 65535),
  };
}

/**
 * Opens a new pseudo-terminal pair: posix_openpt(3) (O_RDWR, O_NOCTTY, O_CLOEXEC), grantpt(3),
 * unlockpt(3), ptsname(3), then the slave opened with O_NOCTTY and O_CLOEXEC, and the window size
 * set. Opening it never gives the caller a controlling terminal.
 *
 * @param options - `{ cols, rows }`, 80 x 24 by default
 * @returns `{ master, slave, path }`; the caller closes both fds (`fs.closeSync`)
 * @throws TypeError `ERR_INVALID_ARG_TYPE`, RangeError `ERR_OUT_OF_RANGE` for a bad size;
 *   SyscallError from `posix_openpt` (ENOSPC, EMFILE), `grantpt`, `unlockpt`, `ptsname`, `open`
 * @see posix_openpt(3), pty(7), openpty(3)
 * @example
 * ```ts
 * const { master, slave, path } = openpty({ cols: 100, rows: 30 });
 * ```
 */
export function openpty(options?: PtyOptions): PtyPair {
  const { cols, rows } = validating('openpty', () => ptySize(options, 'options'));
  const [master, slave, path] = native.openPty(cols, rows);
  return { master, slave, path };
}

/** @internal Tells a Pty whether its child runs (ChildProcess: true at the spawn, false at the reap). */
export const childRuns = Symbol('childRuns');

// Only createPty may construct a Pty: it adopts the fd it is given and closes it.
const constructing = Symbol('Pty');

/** @internal A Pty on `master` (spawn's pty option). */
export function createPty(master: number, path: string): Pty {
  return new Pty(constructing, master, path);
}

/**
 * A duplex stream on a pseudo-terminal's master: what the program writes to its terminal is read
 * here, and what is written here is the program's keyboard input (Ctrl-C is `'\x03'`, Ctrl-Z
 * `'\x1a'`, Ctrl-D `'\x04'`, all interpreted by the terminal's line discipline). It ends when
 * every fd of the slave has been closed, after everything written before that has been read:
 * wait for `'end'` (or `finished()`) to have the whole output. The master is closed then (what was
 * read stays readable), or when the stream is destroyed. Writes after the terminal has hung up are
 * dropped, as the kernel drops them: their callback gets no error, also once the stream has ended
 * (where a `net.Socket` fails them with EPIPE), so that a keystroke forwarded late is no error.
 *
 * Only `spawn(..., { pty })` makes one (`child.pty`): `new Pty()` throws TypeError
 * `ERR_ILLEGAL_CONSTRUCTOR`; the class is exported for `instanceof`.
 */
export class Pty extends NativeDuplex {
  readonly #master: number;
  /** The slave's path, e.g. `/dev/pts/3`. */
  readonly path: string;

  /** @internal Made by spawn (createPty): adopts `master`, which it closes when destroyed. */
  constructor(key: typeof constructing, master: number, path: string) {
    if (key !== constructing) throw Object.assign(new TypeError('Illegal constructor: a Pty is made by spawn() with the pty option'), { code: 'ERR_ILLEGAL_CONSTRUCTOR' });
    super(master, FD_KIND.ptyMaster, 'drop'); // writes after the hang-up are dropped, as the kernel drops them
    this.#master = master;
    this.path = path;
  }

  /**
   * The master fd, or -1 once it is closed (the terminal has ended, or the stream was destroyed;
   * while the child runs, only at its reap),
   * as `net.Socket`'s handle: a number kept past its close could name a file opened since.
   */
  get fd(): number {
    return this.native.closed ? -1 : this.#master;
  }

  /** The window size (TIOCGWINSZ). @throws Error `ERR_PTY_ENDED` once its terminal has ended, `ERR_STREAM_DESTROYED` once the stream was destroyed before that */
  get size(): WindowSize {
    this.#checkOpen();
    const [cols, rows] = native.getWindowSize(this.#master);
    return { cols, rows };
  }

  /** Columns of the window. @throws Error `ERR_PTY_ENDED` once its terminal has ended, `ERR_STREAM_DESTROYED` once the stream was destroyed before that */
  get cols(): number {
    return this.size.cols;
  }

  /** Rows of the window. @throws Error `ERR_PTY_ENDED` once its terminal has ended, `ERR_STREAM_DESTROYED` once the stream was destroyed before that */
  get rows(): number {
    return this.size.rows;
  }

  /**
   * Changes the window size (TIOCSWINSZ): the kernel sends SIGWINCH to the terminal's foreground
   * process group when the size changes.
   *
   * @param cols - columns, 1 to 65535
   * @param rows - rows, 1 to 65535
   * @throws RangeError `ERR_OUT_OF_RANGE`; Error `ERR_PTY_ENDED` once its terminal has ended (the
   *   master is closed then), `ERR_STREAM_DESTROYED` once the stream was destroyed before that
   * @see ioctl_tty(2)
   */
  resize(cols: number, rows: number): void {
    validateInteger(cols, 'cols', 1, 65535);
    validateInteger(rows, 'rows', 1, 65535);
    this.#checkOpen();
    native.setWindowSize(this.#master, cols, rows);
  }

  /** @internal Whether the child whose terminal this is runs (see NativeDuplex.keepOpenAfterEnd). */
  [childRuns](runs: boolean): void {
    this.keepOpenAfterEnd(runs);
  }

  #checkOpen(): void {
    // The end first: a stream whose output has all been read is destroyed by its own end, not by the caller.
    if (this.peerEnded) throw Object.assign(new Error("The pty's terminal has ended (every fd of its slave was closed): its master is closed"), { code: 'ERR_PTY_ENDED' });
    if (this.destroyed) throw Object.assign(new Error('The pty has been destroyed'), { code: 'ERR_STREAM_DESTROYED' });
  }
}
