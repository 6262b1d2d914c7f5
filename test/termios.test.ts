// Terminal attributes: what tcsetattr and makeRaw refuse, checked against a real pty.
import { describe, expect, it } from 'vitest';
import { close, makeRaw, openpty, tcgetattr, tcsetattr, type TerminalAttributes } from '../lib/index';
import { openFds, thrown } from './helpers';

/** Runs `fn` with a fresh pty's slave and the attributes it starts with; closes both ends. */
function withPty(fn: (slave: number, attrs: TerminalAttributes) => void): void {
  const before = openFds();
  const { master, slave } = openpty();
  try {
    fn(slave, tcgetattr(slave));
  } finally {
    close(master);
    close(slave);
  }
  expect(openFds()).toEqual(before);
}

describe('makeRaw', () => {
  it('refuses speeds termios does not know, as tcsetattr does', () => {
    withPty((_, attrs) => {
      expect(thrown(() => makeRaw({ ...attrs, ispeed: 12345 }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => makeRaw({ ...attrs, ospeed: 'fast' as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => makeRaw({ ...attrs, ospeed: Infinity }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    });
  });

  it('refuses control characters out of range, unknown names and a cc that is an array', () => {
    withPty((_, attrs) => {
      expect(thrown(() => makeRaw({ ...attrs, cc: { ...attrs.cc, intr: 256 } }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => makeRaw({ ...attrs, cc: { ...attrs.cc, eof: -1 } }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => makeRaw({ ...attrs, cc: { ...attrs.cc, susp: 'z' as never } }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      const unknown = thrown(() => makeRaw({ ...attrs, cc: { ...attrs.cc, intrr: 3 } as never }));
      expect(unknown).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect((unknown as Error).message).toContain('attributes.cc.intrr');
      expect(thrown(() => makeRaw({ ...attrs, cc: [3, 28] as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  it('returns only the named control characters, with min 1 and time 0', () => {
    withPty((slave, attrs) => {
      const raw = makeRaw(attrs);
      expect(Object.keys(raw.cc).sort()).toEqual(Object.keys(attrs.cc).sort());
      expect(raw).toMatchObject({ ispeed: attrs.ispeed, ospeed: attrs.ospeed, echo: false, canonical: false, signals: false, cc: { ...attrs.cc, min: 1, time: 0 } });
      tcsetattr(slave, 'now', raw);
      expect(tcgetattr(slave)).toMatchObject({ echo: false, canonical: false, cc: { min: 1, time: 0 } });
    });
  });
});

describe('tcsetattr', () => {
  it('refuses an unknown control character name or a cc array instead of ignoring it, and changes nothing', () => {
    withPty((slave, attrs) => {
      const typo = thrown(() => tcsetattr(slave, 'now', { ...attrs, cc: { ...attrs.cc, intrr: 7 } as never }));
      expect(typo).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect((typo as Error).message).toContain('attributes.cc.intrr');
      expect(thrown(() => tcsetattr(slave, 'now', { ...attrs, echo: false, cc: [7] as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(tcgetattr(slave)).toEqual(attrs);
    });
  });

  it('checks the attributes before the fd: a bad argument is reported as such, whatever the fd', () => {
    withPty((_, attrs) => {
      const closedFd = 1_000_000;
      expect(thrown(() => tcsetattr(closedFd, 'now', { ...attrs, iflag: 'x' as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => tcsetattr(closedFd, 'now', { ...attrs, ospeed: 12345 }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => tcsetattr(closedFd, 'now', attrs))).toMatchObject({ name: 'SyscallError', code: 'EBADF', syscall: 'tcsetattr' });
    });
  });

  it('reads each attribute once: a getter that answers differently the second time changes nothing', () => {
    withPty((slave, attrs) => {
      let reads = 0;
      const changing = {
        ...attrs,
        get cc() {
          reads++;
          return reads === 1 ? { ...attrs.cc, intr: 7 } : { ...attrs.cc, intr: 999 };
        },
      };
      tcsetattr(slave, 'now', changing);
      expect(reads).toBe(1);
      expect(tcgetattr(slave).cc.intr).toBe(7);
    });
  });
});
