import * as os from 'node:os';
import * as util from 'node:util';
import { describe, expect, it } from 'vitest';
import { SyscallError } from '../lib/index';

describe('SyscallError', () => {
  it('is shaped like Node errno errors', () => {
    const error = new SyscallError('open', os.constants.errno.ENOENT, '/nonexistent');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SyscallError');
    expect(error.code).toBe('ENOENT');
    expect(error.errno).toBe(-2);
    expect(error.syscall).toBe('open');
    expect(error.path).toBe('/nonexistent');
    expect(error.message).toBe("open ENOENT: No such file or directory '/nonexistent'");
    expect(error.stack).toContain('errors.test.ts');
  });

  it('takes errno positive or negative and names every errno: libuv first, then os.constants', () => {
    for (const value of Object.values(os.constants.errno)) {
      const error = new SyscallError('x', -value);
      expect(error.errno).toBe(-value);
      const libuvName = util.getSystemErrorName(-value);
      if (!libuvName.startsWith('Unknown')) expect(error.code).toBe(libuvName);
      // Aliases (EWOULDBLOCK = EAGAIN) get one canonical name, which maps back to the same number.
      expect(os.constants.errno[error.code as keyof typeof os.constants.errno]).toBe(value);
    }
    expect(new SyscallError('x', 74).code).toBe('EBADMSG');
  });

  it('refuses errno 0 (no error) with its own RangeError naming errno (it was Node\'s, about an argument "err")', () => {
    for (const errno of [0, -0]) {
      let thrown: unknown;
      try {
        new SyscallError('x', errno);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect((thrown as Error).message).toContain('"errno"');
    }
  });

  it("never names an errno after one of libuv's own codes (4095 was 'EOF', 3008 'EAI_NONAME'): above Linux's errnos the name is E<n>", () => {
    expect(new SyscallError('x', 4095).code).toBe('E4095');
    expect(new SyscallError('x', -3008).code).toBe('E3008');
    expect(new SyscallError('x', 4094).code).toBe('E4094');
    expect(new SyscallError('x', 1000).code).toBe('E1000');
  });
});
