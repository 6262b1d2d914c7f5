import * as child_process from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeWaitStatus, waitStatusToExitCode, type WaitStatus } from '../lib/index';

// Every 16-bit status, ptrace event stops, and values outside 16 bits (negative ones too).
const raws = [
  ...Array.from({ length: 0x10000 }, (_, i) => i),
  0x1057f, 0x2057f, 0x3057f, 0x4057f, 0x6057f, 0x7057f, 0x8057f, 0x1137f, 0x10000, 0x7fffffff,
  // PTRACE_EVENT_STOP (0x80): PTRACE_INTERRUPT's SIGTRAP, and group-stops under PTRACE_SEIZE.
  0x80057f, 0x80137f, 0x80147f, 0x80157f, 0x80167f, 0x80097f,
  -1, -256, -0x7f, -0x10000, -(2 ** 31),
];

interface PythonView {
  exitcode: number | 'ValueError';
  exited: boolean;
  exitstatus: number;
  signaled: boolean;
  termsig: number;
  coredump: boolean;
  stopped: boolean;
  stopsig: number;
  continued: boolean;
}

// Python's os module on this machine decides what each raw value means.
function pythonViews(values: number[]): PythonView[] {
  const script = `
import json, os, sys
out = []
for raw in json.load(sys.stdin):
    try:
        code = os.waitstatus_to_exitcode(raw)
    except ValueError:
        code = 'ValueError'
    out.append({'exitcode': code, 'exited': os.WIFEXITED(raw), 'exitstatus': os.WEXITSTATUS(raw),
                'signaled': os.WIFSIGNALED(raw), 'termsig': os.WTERMSIG(raw), 'coredump': os.WCOREDUMP(raw),
                'stopped': os.WIFSTOPPED(raw), 'stopsig': os.WSTOPSIG(raw), 'continued': os.WIFCONTINUED(raw)})
json.dump(out, sys.stdout)`;
  const result = child_process.spawnSync('python3', ['-c', script], { input: JSON.stringify(values), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as PythonView[];
}

function tryDecode(raw: number): WaitStatus | RangeError {
  try {
    return decodeWaitStatus(raw);
  } catch (error) {
    if (error instanceof RangeError) return error;
    throw error;
  }
}

describe('waitStatusToExitCode', () => {
  it("matches Python's os.waitstatus_to_exitcode for every 16-bit status and more", () => {
    const python = pythonViews(raws);
    const mismatches: string[] = [];
    raws.forEach((raw, i) => {
      let ours: number | 'ValueError';
      try {
        ours = waitStatusToExitCode(raw);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        ours = 'ValueError';
      }
      if (ours !== python[i]!.exitcode) mismatches.push(`0x${raw.toString(16)}: ours ${ours}, python ${python[i]!.exitcode}`);
    });
    expect(mismatches).toEqual([]);
  });

  it('reads decoded statuses', () => {
    expect(waitStatusToExitCode({ kind: 'exited', code: 3 })).toBe(3);
    expect(waitStatusToExitCode({ kind: 'signaled', signal: 'SIGKILL', signo: 9, coreDumped: false })).toBe(-9);
    expect(() => waitStatusToExitCode({ kind: 'continued' })).toThrow(RangeError);
    expect(() => waitStatusToExitCode({ kind: 'stopped', signal: 'SIGSTOP', signo: 19 })).toThrow(RangeError);
    expect(() => waitStatusToExitCode('0' as never)).toThrow(TypeError);
    expect(() => waitStatusToExitCode(1.5)).toThrow(RangeError);
  });
});

describe('decodeWaitStatus', () => {
  it("agrees with Python's W* macros wherever it decodes, and fields stay in their own case", () => {
    const valid = raws.filter((raw) => raw >= 0);
    const python = pythonViews(valid);
    let decoded = 0;
    valid.forEach((raw, i) => {
      const view = python[i]!;
      const status = tryDecode(raw);
      if (status instanceof RangeError) return;
      decoded++;
      switch (status.kind) {
        case 'exited':
          expect(view.exited && view.exitstatus === status.code, `0x${raw.toString(16)}`).toBe(true);
          expect(Object.keys(status).sort()).toEqual(['code', 'kind']);
          break;
        case 'signaled':
          expect(view.signaled && view.termsig === status.signo && view.coredump === status.coreDumped).toBe(true);
          break;
        case 'stopped':
          expect(view.stopped && (view.stopsig & 0x7f) === status.signo).toBe(true);
          break;
        case 'continued':
          // glibc's WCOREDUMP(0xffff) is true; our continued status has no such field.
          expect(view.continued && view.coredump).toBe(true);
          expect(Object.keys(status)).toEqual(['kind']);
          break;
      }
    });
    // 256 exit codes, 64 signals with and without core, 64 stops, continued, a syscall stop, 7
    // ptrace events, 5 PTRACE_EVENT_STOPs (SIGKILL's 0x80097f is no stop).
    expect(decoded).toBe(256 + 128 + 64 + 1 + 1 + 7 + 5);
  });

  it.each([
    [0x0000, { kind: 'exited', code: 0 }],
    [0x2a00, { kind: 'exited', code: 42 }],
    [0xff00, { kind: 'exited', code: 255 }],
    [0x0009, { kind: 'signaled', signal: 'SIGKILL', signo: 9, coreDumped: false }],
    [0x0086, { kind: 'signaled', signal: 'SIGABRT', signo: 6, coreDumped: true }],
    [0x0022, { kind: 'signaled', signal: 'SIGRTMIN', signo: 34, coreDumped: false }],
    [0x137f, { kind: 'stopped', signal: 'SIGSTOP', signo: 19 }],
    [0x3057f, { kind: 'stopped', signal: 'SIGTRAP', signo: 5, ptraceEvent: 3 }],
    [0x857f, { kind: 'stopped', signal: 'SIGTRAP', signo: 5, ptraceSyscall: true }],
    [0x80137f, { kind: 'stopped', signal: 'SIGSTOP', signo: 19, ptraceEvent: 128 }],
    [0xffff, { kind: 'continued' }],
  ])('decodes %i', (raw, expected) => {
    expect(decodeWaitStatus(raw)).toEqual(expected);
  });

  it.each([0x7f7f, 0x0080, 0x0180, 0x0041, 0x0109, 0x007f, 0x10000, 0x3137f, 0x867f, -1])(
    'rejects the impossible status %i with RangeError',
    (raw) => {
      expect(() => decodeWaitStatus(raw)).toThrow(RangeError);
    },
  );

  it('rejects non-numbers with TypeError', () => {
    expect(() => decodeWaitStatus('0' as never)).toThrow(TypeError);
    expect(() => decodeWaitStatus(1.5)).toThrow(RangeError);
  });
});
