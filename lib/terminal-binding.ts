/**
 * @internal The native functions of terminals and signal masks (native/pty.cc, native/termios.cc,
 * native/sigmask.cc), typed here rather than in lib/native.ts so that the feature's files stay
 * together.
 */
import { binding } from './native';

/** @internal */
export interface TerminalBinding {
  openPty(cols: number, rows: number): [master: number, slave: number, path: string];
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
}

/** @internal */
export const terminalBinding = binding as unknown as TerminalBinding;
