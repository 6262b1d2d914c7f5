import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { SIGNAL_MAX, signalName, signalNumber } from '../lib/index';
import { thrown } from './helpers';

describe('signal names and numbers', () => {
  it('agree with os.constants.signals in both directions', () => {
    for (const [name, signo] of Object.entries(os.constants.signals)) {
      expect(signalNumber(name)).toBe(signo);
      expect(signalNumber(signalName(signo))).toBe(signo);
    }
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(29)).toBe('SIGIO');
  });

  it('name real-time signals relative to glibc SIGRTMIN and SIGRTMAX', () => {
    expect(SIGNAL_MAX).toBe(64);
    expect(signalNumber('SIGRTMIN')).toBe(34);
    expect(signalNumber('SIGRTMIN+3')).toBe(37);
    expect(signalNumber('SIGRTMAX')).toBe(64);
    expect(signalNumber('SIGRTMAX-2')).toBe(62);
    expect(signalName(34)).toBe('SIGRTMIN');
    expect(signalName(40)).toBe('SIGRTMIN+6');
    expect(signalName(32)).toBe('SIG32');
  });

  it('name only real-time signals SIGRTMIN+n / SIGRTMAX-n: SIGRTMAX-31 is not glibc 33, SIGRTMAX-40 not SIGXCPU', () => {
    expect(signalNumber('SIGRTMAX-30')).toBe(34);
    expect(signalNumber('SIGRTMIN+30')).toBe(64);
    for (const name of ['SIGRTMAX-31', 'SIGRTMAX-32', 'SIGRTMAX-40', 'SIGRTMAX-63', 'SIGRTMIN+31', 'SIGRTMIN-1', 'SIGRTMAX+1']) {
      expect(thrown(() => signalNumber(name))).toMatchObject({ name: 'TypeError', code: 'ERR_UNKNOWN_SIGNAL' });
    }
  });

  it('take back every name signalName gives, SIG32 and SIG33 included', () => {
    for (let signo = 1; signo <= SIGNAL_MAX; signo++) expect(signalNumber(signalName(signo))).toBe(signo);
    for (const name of ['SIG0', 'SIG31', 'SIG34', 'SIG64', 'SIG032']) {
      expect(thrown(() => signalNumber(name))).toMatchObject({ code: 'ERR_UNKNOWN_SIGNAL' });
    }
  });

  it('allow 0 only where asked', () => {
    expect(signalNumber(0, 'signal', true)).toBe(0);
    expect(() => signalNumber(0)).toThrow(RangeError);
    expect(() => signalName(0)).toThrow(RangeError);
    expect(() => signalName(65)).toThrow(RangeError);
  });
});
