/**
 * Terminal attributes for the caller: `tcgetattr` / `tcsetattr` as a typed object, `makeRaw`,
 * and `isatty` / `ttyname`.
 */
import { invalidArgType, invalidArgValue } from './errors';
import { terminalBinding as native } from './terminal-binding';
import { isOwnKey, readOptions, validateBoolean, validateInteger, validating } from './validate';

const T = native.termiosConstants;
const FD_MAX = 2 ** 31 - 1;

/** The control characters of a terminal by their c_cc name (VINTR is `intr`, VSUSP `susp`, ...). */
export type ControlCharacter = 'intr' | 'quit' | 'erase' | 'kill' | 'eof' | 'time' | 'min' | 'start' | 'stop' | 'susp' | 'eol' | 'reprint' | 'discard' | 'werase' | 'lnext' | 'eol2';

const CC_NAMES: readonly ControlCharacter[] = ['intr', 'quit', 'erase', 'kill', 'eof', 'time', 'min', 'start', 'stop', 'susp', 'eol', 'reprint', 'discard', 'werase', 'lnext', 'eol2'];

/**
 * A terminal's attributes (struct termios): the four flag words as numbers (bits named by
 * `termiosFlags`), the speeds in baud, the control characters by name, and the common modes as
 * booleans. In `tcsetattr` the booleans, when given, win over the bits they stand for.
 */
export interface TerminalAttributes {
  /** c_iflag: input modes (ICRNL, IXON, ...). */
  iflag: number;
  /** c_oflag: output modes (OPOST, ONLCR, ...). */
  oflag: number;
  /** c_cflag: control modes (CS8, CREAD, ...). */
  cflag: number;
  /** c_lflag: local modes (ECHO, ICANON, ISIG, ...). */
  lflag: number;
  /** Input speed in baud (cfgetispeed(3)). */
  ispeed: number;
  /** Output speed in baud (cfgetospeed(3)). */
  ospeed: number;
  /** The control characters (c_cc), e.g. `{ intr: 3, susp: 26, eof: 4, min: 1, time: 0, ... }`. */
  cc: Record<ControlCharacter, number>;
  /** ECHO: typed characters are echoed. */
  echo: boolean;
  /** ICANON: canonical (line by line, with editing) input. */
  canonical: boolean;
  /** ISIG: INTR, QUIT and SUSP generate SIGINT, SIGQUIT and SIGTSTP. */
  signals: boolean;
}

/** The bits of the flag words by their termios.h names (ECHO, ICANON, ISIG, OPOST, CS8, ...). */
export const termiosFlags: Readonly<Record<string, number>> = Object.freeze({ ...T.flags });

/** When `tcsetattr` applies: 'now' (TCSANOW), 'drain' (TCSADRAIN), 'flush' (TCSAFLUSH). */
export type TcsetattrWhen = 'now' | 'drain' | 'flush';

const speedToBaud = new Map<number, number>();
const baudToSpeed = new Map<number, number>();
for (let i = 0; i < T.speeds.length; i += 2) {
  speedToBaud.set(T.speeds[i]!, T.speeds[i + 1]!);
  baudToSpeed.set(T.speeds[i + 1]!, T.speeds[i]!);
}
const F = T.flags as Record<string, number>;

function fdArgument(fd: unknown): number {
  return validateInteger(fd, 'fd', 0, FD_MAX);
}

/**
 * Reads a terminal's attributes.
 *
 * @param fd - an fd open on a terminal
 * @returns the attributes, see {@link TerminalAttributes}
 * @throws SyscallError `ENOTTY` (not a terminal), `EBADF`
 * @see tcgetattr(3), termios(3)
 * @example
 * ```ts
 * const attrs = tcgetattr(0);
 * tcsetattr(0, 'now', { ...attrs, echo: false }); // read a password
 * ```
 */
export function tcgetattr(fd: number): TerminalAttributes {
  const values = native.tcgetattr(fdArgument(fd));
  const [iflag, oflag, cflag, lflag, ispeed, ospeed] = values as [number, number, number, number, number, number];
  const cc = {} as Record<ControlCharacter, number>;
  for (const name of CC_NAMES) cc[name] = values[6 + T.cc[`V${name.toUpperCase()}`]!]!;
  return {
    iflag,
    oflag,
    cflag,
    lflag,
    ispeed: speedToBaud.get(ispeed) ?? ispeed,
    ospeed: speedToBaud.get(ospeed) ?? ospeed,
    cc,
    echo: (lflag & F.ECHO!) !== 0,
    canonical: (lflag & F.ICANON!) !== 0,
    signals: (lflag & F.ISIG!) !== 0,
  };
}

function withBit(word: number, bit: number, on: boolean | undefined): number {
  if (on === undefined) return word;
  return (on ? word | bit : word & ~bit) >>> 0;
}

function speedOf(baud: unknown, name: string): number {
  const speed = baudToSpeed.get(validateInteger(baud, name, 0, 2 ** 31 - 1));
  if (speed === undefined) throw invalidArgValue(name, `is not a speed termios knows (${[...baudToSpeed.keys()].join(', ')})`, baud);
  return speed;
}

/**
 * Sets a terminal's attributes. Takes a whole {@link TerminalAttributes} (as `tcgetattr` returns
 * it, changed); the booleans, when present, set or clear their bit. SIGTTOU is blocked in the
 * calling thread for the call, as for `tcsetpgrp`, so that a process outside the foreground group
 * is not stopped by it.
 *
 * @param fd - an fd open on a terminal
 * @param when - 'now', 'drain' (after pending output is written) or 'flush' (also discards pending input)
 * @param attributes - the attributes to set
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`, RangeError `ERR_OUT_OF_RANGE`;
 *   SyscallError `ENOTTY`, `EBADF`, `EINVAL` from `tcsetattr`
 * @see tcsetattr(3), termios(3)
 * @example
 * ```ts
 * const saved = tcgetattr(0);
 * tcsetattr(0, 'now', { ...saved, echo: false }); // read a password without echo
 * // ... read it ...
 * tcsetattr(0, 'now', saved);
 * ```
 */
export function tcsetattr(fd: number, when: TcsetattrWhen, attributes: TerminalAttributes): void {
  fdArgument(fd);
  if (typeof when !== 'string' || !isOwnKey(T.when, when)) throw invalidArgValue('when', "must be 'now', 'drain' or 'flush'", when);
  const values = validating('tcsetattr', () => {
    const a = readOptions<TerminalAttributes>(attributes, ['iflag', 'oflag', 'cflag', 'lflag', 'ispeed', 'ospeed', 'cc', 'echo', 'canonical', 'signals'], 'attributes');
    const word = (value: unknown, name: keyof TerminalAttributes): number => validateInteger(value, `attributes.${name}`, 0, 2 ** 32 - 1);
    let lflag = word(a.lflag, 'lflag');
    lflag = withBit(lflag, F.ECHO!, a.echo === undefined ? undefined : validateBoolean(a.echo, 'attributes.echo'));
    lflag = withBit(lflag, F.ICANON!, a.canonical === undefined ? undefined : validateBoolean(a.canonical, 'attributes.canonical'));
    lflag = withBit(lflag, F.ISIG!, a.signals === undefined ? undefined : validateBoolean(a.signals, 'attributes.signals'));
    if (typeof a.cc !== 'object' || a.cc === null) throw invalidArgType('attributes.cc', 'an object', a.cc);
    const ccIn = readOptions<Record<ControlCharacter, number>>(a.cc, [...CC_NAMES], 'attributes.cc');
    const current = native.tcgetattr(fd); // unnamed c_cc slots keep their values
    current[0] = word(a.iflag, 'iflag');
    current[1] = word(a.oflag, 'oflag');
    current[2] = word(a.cflag, 'cflag');
    current[3] = lflag;
    current[4] = speedOf(a.ispeed, 'attributes.ispeed');
    current[5] = speedOf(a.ospeed, 'attributes.ospeed');
    for (const name of CC_NAMES) {
      const value = ccIn[name];
      if (value !== undefined) current[6 + T.cc[`V${name.toUpperCase()}`]!] = validateInteger(value, `attributes.cc.${name}`, 0, 255);
    }
    return current;
  });
  native.tcsetattr(fd, T.when[when], values);
}

/**
 * The attributes of raw mode, from `attributes` (what cfmakeraw(3) does): no echo, no canonical
 * input, no signals from INTR/QUIT/SUSP, no input or output processing, 8-bit characters, reads
 * return after 1 byte.
 *
 * @param attributes - the attributes to start from (from `tcgetattr`)
 * @returns a new object; pass it to `tcsetattr`
 * @throws TypeError `ERR_INVALID_ARG_TYPE`, RangeError `ERR_OUT_OF_RANGE` for attributes that are not
 *   an object with integer flag words and a `cc` object
 * @see cfmakeraw(3)
 */
export function makeRaw(attributes: TerminalAttributes): TerminalAttributes {
  return validating('makeRaw', () => {
    const a = readOptions<TerminalAttributes>(attributes, ['iflag', 'oflag', 'cflag', 'lflag', 'ispeed', 'ospeed', 'cc', 'echo', 'canonical', 'signals'], 'attributes');
    const word = (name: 'iflag' | 'oflag' | 'cflag' | 'lflag'): number => validateInteger(a[name], `attributes.${name}`, 0, 2 ** 32 - 1);
    if (typeof a.cc !== 'object' || a.cc === null) throw invalidArgType('attributes.cc', 'an object', a.cc);
    const iflag = word('iflag') & ~(F.IGNBRK! | F.BRKINT! | F.PARMRK! | F.ISTRIP! | F.INLCR! | F.IGNCR! | F.ICRNL! | F.IXON!);
    const oflag = word('oflag') & ~F.OPOST!;
    const lflag = word('lflag') & ~(F.ECHO! | F.ECHONL! | F.ICANON! | F.ISIG! | F.IEXTEN!);
    const cflag = (word('cflag') & ~(F.CSIZE! | F.PARENB!)) | F.CS8!;
    return {
      iflag: iflag >>> 0,
      oflag: oflag >>> 0,
      cflag: cflag >>> 0,
      lflag: lflag >>> 0,
      ispeed: a.ispeed!,
      ospeed: a.ospeed!,
      cc: { ...a.cc, min: 1, time: 0 },
      echo: false,
      canonical: false,
      signals: false,
    };
  });
}

/**
 * Whether `fd` is open on a terminal. A closed fd is not (false, nothing thrown).
 *
 * @param fd - the fd
 * @returns true for a terminal (a pty's slave or master, a console)
 * @throws RangeError `ERR_OUT_OF_RANGE` for a negative or non-integer fd
 * @see isatty(3)
 */
export function isatty(fd: number): boolean {
  return native.isatty(fdArgument(fd));
}

/**
 * The path of the terminal open on `fd`.
 *
 * @param fd - the fd
 * @returns e.g. `/dev/pts/3`
 * @throws SyscallError `ENOTTY` (not a terminal), `EBADF`
 * @see ttyname(3)
 */
export function ttyname(fd: number): string {
  return native.ttyname(fdArgument(fd));
}
