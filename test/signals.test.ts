import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { SIGNAL_MAX, signalName, signalNumber } from '../lib/index';

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

  it('allow 0 only where asked', () => {
    expect(signalNumber(0, 'signal', true)).toBe(0);
    expect(() => signalNumber(0)).toThrow(RangeError);
    expect(() => signalName(0)).toThrow(RangeError);
    expect(() => signalName(65)).toThrow(RangeError);
  });
});
