/**
 * Terminal attributes for the caller: `tcgetattr` / `tcsetattr` as a typed object, `makeRaw`,
 * and `isatty` / `ttyname`.
 */
import { invalidArgType, invalidArgValue, SyscallError } from './errors';
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

/** A baud rate termios has a speed constant for (B0 ... B4000000). */
function baud(value: unknown, name: string): number {
  if (!baudToSpeed.has(validateInteger(value, name, 0, 2 ** 31 - 1))) throw invalidArgValue(name, `is not a speed termios knows (${[...baudToSpeed.keys()].join(', ')})`, value);
  return value as number;
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
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` (a speed termios does not
 *   know, a `cc` key that names no control character), RangeError `ERR_OUT_OF_RANGE` (a control
 *   character outside 0..255), all checked before the fd is used; SyscallError `ENOTTY`, `EBADF`,
 *   `EINVAL` from `tcsetattr`
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
  const a = validating('tcsetattr', () => readAttributes(attributes));
  let lflag = withBit(a.lflag, F.ECHO!, a.echo);
  lflag = withBit(lflag, F.ICANON!, a.canonical);
  lflag = withBit(lflag, F.ISIG!, a.signals);
  let values: number[];
  try {
    values = native.tcgetattr(fd); // unnamed c_cc slots keep their values
  } catch (error) {
    // That read is tcsetattr's first step: its ENOTTY or EBADF is tcsetattr's, as the C call reports it.
    throw error instanceof SyscallError ? new SyscallError('tcsetattr', error.errno) : error;
  }
  values[0] = a.iflag;
  values[1] = a.oflag;
  values[2] = a.cflag;
  values[3] = lflag;
  values[4] = baudToSpeed.get(a.ispeed)!;
  values[5] = baudToSpeed.get(a.ospeed)!;
  for (const name of CC_NAMES) {
    const value = a.cc[name];
    if (value !== undefined) values[6 + T.cc[`V${name.toUpperCase()}`]!] = value;
  }
  native.tcsetattr(fd, T.when[when], values);
}

/** The checked attributes of tcsetattr and makeRaw, each read once: the booleans may be absent, and so may any control character. */
type CheckedAttributes = Omit<TerminalAttributes, 'cc' | 'echo' | 'canonical' | 'signals'> & {
  cc: Partial<Record<ControlCharacter, number>>;
} & { [Name in 'echo' | 'canonical' | 'signals']: boolean | undefined };

const ATTRIBUTE_KEYS = ['iflag', 'oflag', 'cflag', 'lflag', 'ispeed', 'ospeed', 'cc', 'echo', 'canonical', 'signals'] as const;

/**
 * Reads and checks `attributes` before anything is done with them: the flag words, speeds that
 * termios knows, the booleans, and a `cc` object whose own keys all name control characters with
 * values from 0 to 255 (an unknown name is refused, not ignored).
 */
function readAttributes(attributes: unknown): CheckedAttributes {
  const a = readOptions<TerminalAttributes>(attributes, ATTRIBUTE_KEYS, 'attributes');
  const word = (name: 'iflag' | 'oflag' | 'cflag' | 'lflag'): number => validateInteger(a[name], `attributes.${name}`, 0, 2 ** 32 - 1);
  const flag = (name: 'echo' | 'canonical' | 'signals'): boolean | undefined => (a[name] === undefined ? undefined : validateBoolean(a[name], `attributes.${name}`));
  const checked = {
    iflag: word('iflag'),
    oflag: word('oflag'),
    cflag: word('cflag'),
    lflag: word('lflag'),
    ispeed: baud(a.ispeed, 'attributes.ispeed'),
    ospeed: baud(a.ospeed, 'attributes.ospeed'),
    echo: flag('echo'),
    canonical: flag('canonical'),
    signals: flag('signals'),
  };
  const ccIn: unknown = a.cc;
  if (typeof ccIn !== 'object' || ccIn === null || Array.isArray(ccIn)) throw invalidArgType('attributes.cc', 'an object', ccIn);
  for (const key of Object.keys(ccIn)) {
    if (!CC_NAMES.includes(key as ControlCharacter)) throw invalidArgValue(`attributes.cc.${key}`, `is not a control character (${CC_NAMES.join(', ')})`, (ccIn as Record<string, unknown>)[key]);
  }
  const ccRead = readOptions<Record<ControlCharacter, number>>(ccIn, CC_NAMES, 'attributes.cc');
  const cc: Partial<Record<ControlCharacter, number>> = {};
  for (const name of CC_NAMES) {
    const value = ccRead[name];
    if (value !== undefined) cc[name] = validateInteger(value, `attributes.cc.${name}`, 0, 255);
  }
  return { ...checked, cc };
}

/**
 * The attributes of raw mode, from `attributes` (what cfmakeraw(3) does): no echo, no canonical
 * input, no signals from INTR/QUIT/SUSP, no input or output processing, 8-bit characters, reads
 * return after 1 byte.
 *
 * @param attributes - the attributes to start from (from `tcgetattr`)
 * @returns a new object; pass it to `tcsetattr`
 * @throws the argument errors of {@link tcsetattr}: attributes it would refuse are refused here
 *   too (flag words, speeds, booleans, control characters)
 * @see cfmakeraw(3)
 */
export function makeRaw(attributes: TerminalAttributes): TerminalAttributes {
  const a = validating('makeRaw', () => readAttributes(attributes));
  const iflag = a.iflag & ~(F.IGNBRK! | F.BRKINT! | F.PARMRK! | F.ISTRIP! | F.INLCR! | F.IGNCR! | F.ICRNL! | F.IXON!);
  const oflag = a.oflag & ~F.OPOST!;
  const lflag = a.lflag & ~(F.ECHO! | F.ECHONL! | F.ICANON! | F.ISIG! | F.IEXTEN!);
  const cflag = (a.cflag & ~(F.CSIZE! | F.PARENB!)) | F.CS8!;
  return {
    iflag: iflag >>> 0,
    oflag: oflag >>> 0,
    cflag: cflag >>> 0,
    lflag: lflag >>> 0,
    ispeed: a.ispeed,
    ospeed: a.ospeed,
    cc: { ...a.cc, min: 1, time: 0 } as Record<ControlCharacter, number>,
    echo: false,
    canonical: false,
    signals: false,
  };
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
