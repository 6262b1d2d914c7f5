'use strict';
/**
 * The fuzzer of test/fuzz.test.ts, run as its own Node process (a crash, an abort or a hang is
 * then seen as this process's exit status or timeout): `node test/fuzz-driver.js <seed> <rounds>`.
 * It calls every export with random bad arguments and prints one JSON report on stdout.
 *
 * Calls that act on real processes get only argument shapes that must be refused (pids that
 * cannot exist, never 0 or -1, for kill/killpg/sigqueue; a refused value for exit, exec, spawns,
 * setpgid, ...); a few valid spawns at the end are reaped. FUZZ_LIB names another build to load.
 */
const fs = require('node:fs');
const path = require('node:path');
const { seededRandom } = require('./seeded-random');

const lib = require(process.env.FUZZ_LIB ?? path.join(__dirname, '..', 'dist', 'index.js'));
const seed = Number(process.argv[2] ?? 1);
const rounds = Number(process.argv[3] ?? 3000);

// Seeded: the same sequence on every Node version.
const random = seededRandom(seed);
const pick = (list) => list[Math.floor(random() * list.length)];
const chance = (p) => random() < p;

// Values are made fresh for each call (a proxy revoked, an array emptied...), with a label for
// the report. v(label, make) or v(label, constant).
const v = (label, make) => ({ label, make: typeof make === 'function' && !make.isValue ? make : () => make });
const fn = (f) => Object.assign(f, { isValue: true }); // a function that is itself the value

function revoked(target = {}) {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}
const throwingGetter = (key) =>
  Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error(`getter ${key}`);
    },
  });
function throwingIndex() {
  const array = ['a', 'b'];
  Object.defineProperty(array, 0, {
    get() {
      throw new Error('index getter');
    },
  });
  return array;
}
const huge = (length = 2 ** 31) => {
  const array = [];
  array.length = length;
  return array;
};
const sparse = (...entries) => {
  const array = [...entries];
  delete array[0];
  return array;
};

// Any type, valid or not: for arguments whose validity does not matter.
const junk = [
  v('undefined', undefined),
  v('null', null),
  v('true', true),
  v('false', false),
  v('0', 0),
  v('-0', -0),
  v('1', 1),
  v('-1', -1),
  v('NaN', NaN),
  v('Infinity', Infinity),
  v('-Infinity', -Infinity),
  v('2**31', 2 ** 31),
  v('2**32', 2 ** 32),
  v('2**53', 2 ** 53),
  v('-(2**53)', -(2 ** 53)),
  v('1.5', 1.5),
  v('1e308', 1e308),
  v('5n', 5n),
  v('-1n', -1n),
  v('2n**64n', 2n ** 64n),
  v("''", ''),
  v("'x'", 'x'),
  v("'a\\0b'", 'a\0b'),
  v("'toString'", 'toString'),
  v("'constructor'", 'constructor'),
  v("'__proto__'", '__proto__'),
  v("'SIGTERM'", 'SIGTERM'),
  v("'SIGBOGUS'", 'SIGBOGUS'),
  v("'SIGRTMAX-99'", 'SIGRTMAX-99'),
  v('Symbol()', () => Symbol('fuzz')),
  v('function', () => fn(() => {})),
  v('throwing function', () =>
    fn(() => {
      throw new Error('callback');
    }),
  ),
  v('{}', () => ({})),
  v('[]', () => []),
  v('[, a]', () => sparse('x', 'a')),
  v('huge []', () => huge()),
  v('huge [] 2**32-1', () => huge(2 ** 32 - 1)),
  v('{ toString: 1 }', () => ({ toString: 1 })),
  v('{ constructor: 1 }', () => ({ constructor: 1 })),
  v('Object.create(null)', () => Object.create(null)),
  v('getter throws', () => throwingGetter('x')),
  v('revoked proxy', () => revoked()),
  v('revoked array proxy', () => revoked([])),
  v('index getter throws', throwingIndex),
  v("Buffer 'a\\0'", () => Buffer.from('a\0')),
  v('Buffer', () => Buffer.from('x')),
  v('Date', () => new Date(0)),
  v('RegExp', () => /x/),
  v('{ length: 1, 0: a }', () => ({ length: 1, 0: 'a' })),
];

// Values that every slot of the kind named must refuse.
const badBytes = [
  v('null', null),
  v('1', 1),
  v('true', true),
  v('Symbol()', () => Symbol('b')),
  v('{}', () => ({})),
  v('[]', () => []),
  v("'a\\0b'", 'a\0b'),
  v("Buffer 'x\\0y'", () => Buffer.from('x\0y')),
  v('revoked proxy', () => revoked()),
  v('getter throws', () => throwingGetter('length')),
  v('5n', 5n),
  v('NaN', NaN),
];
const badArray = [
  v('34', 34),
  v("'SIGTERM'", 'SIGTERM'),
  v('null', null),
  v('{}', () => ({})),
  v('revoked proxy', () => revoked()),
  v('revoked array proxy', () => revoked([])),
  v('{ length: 1, 0: a }', () => ({ length: 1, 0: 'a' })),
  v('huge []', () => huge()),
  v('huge [] 2**32-1', () => huge(2 ** 32 - 1)),
  v('index getter throws', throwingIndex),
];
const badArgv = [
  ...badArray,
  v('[, a]', () => sparse('x', 'a')),
  v('[a, , b]', () => ['a', , 'b']), // eslint-disable-line no-sparse-arrays
  v('[null]', () => [null]),
  v('[1]', () => [1]),
  v("['a\\0']", () => ['a\0']),
  v('[Symbol()]', () => [Symbol('a')]),
];
const badSignal = [
  v("'SIGBOGUS'", 'SIGBOGUS'),
  v("'toString'", 'toString'),
  v("'constructor'", 'constructor'),
  v("'hasOwnProperty'", 'hasOwnProperty'),
  v("'SIGRTMAX-99'", 'SIGRTMAX-99'),
  v("'SIGRTMIN+99'", 'SIGRTMIN+99'),
  v("'15'", '15'),
  v('65', 65),
  v('-1', -1),
  v('1.5', 1.5),
  v('NaN', NaN),
  v('Infinity', Infinity),
  v('2**53', 2 ** 53),
  v('15n', 15n),
  v('{}', () => ({})),
  v('[]', () => []),
  v('Symbol()', () => Symbol('s')),
  v('revoked proxy', () => revoked()),
  v('getter throws', () => throwingGetter('valueOf')),
];
const badSignalArray = [
  ...badArray.filter((x) => x.label !== 'null'),
  v('[, SIGUSR1]', () => sparse('SIGTERM', 'SIGUSR1')),
  v('[SIGBOGUS]', () => ['SIGBOGUS']),
  v('[0]', () => [0]),
  v('[65]', () => [65]),
  v('[toString]', () => ['toString']),
  v('65 signals', () => new Array(65).fill('SIGUSR2')),
];
const badBool = [v('0', 0), v('1', 1), v("'true'", 'true'), v('null', null), v('{}', () => ({})), v('NaN', NaN), v('revoked proxy', () => revoked())];
const badCount = [v('-1', -1), v('1.5', 1.5), v('NaN', NaN), v('Infinity', Infinity), v('-Infinity', -Infinity), v('2**53', 2 ** 53), v("'0'", '0'), v('null', null), v('{}', () => ({})), v('1n', 1n), v('Symbol()', () => Symbol('n')), v('revoked proxy', () => revoked())];
const badId = [...badCount, v('2**32-1', 2 ** 32 - 1), v('2**32', 2 ** 32)];
const badEnv = [
  v('5', 5),
  v("'A=1'", 'A=1'),
  v('true', true),
  v('5n', 5n),
  v('Symbol()', () => Symbol('e')),
  v("['NOEQUALS']", () => ['NOEQUALS']),
  v("['=x']", () => ['=x']),
  v('[1]', () => [1]),
  v('[, A=1]', () => sparse('B=2', 'A=1')),
  v('huge []', () => huge()),
  v("{ 'A=B': '1' }", () => ({ 'A=B': '1' })),
  v("{ '': 'x' }", () => ({ '': 'x' })),
  v("{ A: 'x\\0' }", () => ({ A: 'x\0' })),
  v('{ A: 1 }', () => ({ A: 1 })),
  v('{ [Symbol()]: x }', () => ({ [Symbol('k')]: 'x' })),
  v('revoked proxy', () => revoked()),
  v('revoked array proxy', () => revoked([])),
  v('getter throws', () => throwingGetter('A')),
  v('index getter throws', throwingIndex),
];
const badStdio = [
  v("'bogus'", 'bogus'),
  v('-1', -1),
  v('1.5', 1.5),
  v("'toString'", 'toString'),
  v('[1, 2, 3, 4]', () => [1, 2, 3, 4]),
  v('huge []', () => huge()),
  v('{ path: 1 }', () => ({ path: 1 })),
  v("{ path, flags: 'toString' }", () => ({ path: '/dev/null', flags: 'toString' })),
  v('{ path, mode: -1 }', () => ({ path: '/dev/null', mode: -1 })),
  v("[{ path: 'a\\0' }]", () => [{ path: 'a\0' }]),
  v('revoked proxy', () => revoked()),
  v('[revoked proxy]', () => [revoked()]),
  v('getter throws', () => throwingGetter('path')),
  v('Symbol()', () => Symbol('s')),
  v('true', true),
];
const badFds = [v('{ 2: 1 }', () => ({ 2: 1 })), v('{ 3: -1 }', () => ({ 3: -1 })), v('{ 3: 1.5 }', () => ({ 3: 1.5 })), v('{ 70000: 1 }', () => ({ 70000: 1 })), v('{ toString: 1 }', () => ({ toString: 1 })), v("'x'", 'x'), v('null', null), v('5', 5), v('revoked proxy', () => revoked()), v('getter throws', () => throwingGetter('3'))];
const badRlimits = [
  v('{ toString: 1 }', () => ({ toString: 1 })),
  v('{ constructor: 1 }', () => ({ constructor: 1 })),
  v('{ nofile: -1 }', () => ({ nofile: -1 })),
  v('{ nofile: [2, 1] }', () => ({ nofile: [2, 1] })),
  v('{ nofile: [1] }', () => ({ nofile: [1] })),
  v('{ nofile: [1, 2, 3] }', () => ({ nofile: [1, 2, 3] })),
  v('{ nofile: [, 1] }', () => ({ nofile: sparse(0, 1) })),
  v("{ nofile: 'x' }", () => ({ nofile: 'x' })),
  v('{ nofile: NaN }', () => ({ nofile: NaN })),
  v('{ nofile: 2n**64n }', () => ({ nofile: 2n ** 64n })),
  v('{ bogus: 1 }', () => ({ bogus: 1 })),
  v('5', 5),
  v('null', null),
  v("'x'", 'x'),
  v('revoked proxy', () => revoked()),
  v('getter throws', () => throwingGetter('nofile')),
];
const badAbortSignal = [v('{}', () => ({})), v("'abort'", 'abort'), v('1', 1), v('null', null), v('revoked proxy', () => revoked()), v('{ aborted: false }', () => ({ aborted: false }))];
// (0 is left out: issue 12 item 12 may make it mean 'no timeout'.)
const badTimeout = [v('-1', -1), v('1.5', 1.5), v('2**31', 2 ** 31), v('NaN', NaN), v('Infinity', Infinity), v("'10'", '10'), v('null', null)];
const nonNull = (list) => list.filter((x) => x.label !== 'null');

const spawnBad = {
  argv0: badBytes,
  env: badEnv,
  cwd: badBytes,
  stdio: nonNull(badStdio).concat(v('null', null)),
  fds: badFds,
  setsid: badBool,
  pgid: badCount,
  sigmask: badSignalArray.concat(v('null', null)),
  umask: [...badCount, v('0o1000', 0o1000)],
  uid: badId,
  gid: badId,
  groups: [...badArray, v('[, 1]', () => sparse(0, 1)), v('[-1]', () => [-1]), v("['0']", () => ['0']), v('65537 groups', () => new Array(65537).fill(0))],
  rlimits: badRlimits,
  pdeathsig: badSignal,
  nice: [v('-21', -21), v('20', 20), v('1.5', 1.5), v('NaN', NaN), v("'0'", '0'), v('null', null)],
  signal: badAbortSignal,
  timeout: badTimeout,
  killSignal: badSignal,
  pty: [v("'yes'", 'yes'), v('5', 5), v('null', null), v('{ cols: 0 }', () => ({ cols: 0 })), v('{ rows: 1.5 }', () => ({ rows: 1.5 })), v('revoked proxy', () => revoked())],
  setctty: badCount,
  foreground: [v('-1', -1), v('1.5', 1.5), v("'0'", '0'), v('null', null), v('{}', () => ({}))],
  noctty: badBool,
  forceKillAfter: [v('-1', -1), v('1.5', 1.5), v('true', true), v("'5'", '5'), v('null', null)],
  contain: [v("'jail'", 'jail'), v('1', 1), v('null', null), v('{}', () => ({}))],
  cgroup: [v('42', 42), v("'/tmp' without contain", '/tmp')],
};
const runBad = {
  ...spawnBad,
  stdio: undefined,
  stdin: [v("'pipe'", 'pipe'), v("'bogus'", 'bogus'), v('-1', -1), v('{ path: 1 }', () => ({ path: 1 })), v('1.5', 1.5), v('Symbol()', () => Symbol('s'))],
  input: [v('5', 5), v('{}', () => ({})), v('[]', () => []), v('null', null), v('true', true), v('revoked proxy', () => revoked())],
  maxBuffer: [v('-1', -1), v('1.5', 1.5), v('NaN', NaN), v("'1'", '1'), v('null', null), v('2**53', 2 ** 53)],
};
delete runBad.stdio;
// Output options of run, runSync and pipeline (issue 15); null encoding means the default.
Object.assign(runBad, {
  encoding: [v('5', 5), v("'klingon'", 'klingon'), v('{}', () => ({})), v('revoked proxy', () => revoked())],
  lines: [v('1', 1), v("'yes'", 'yes'), v('null', null)],
  all: [v('1', 1), v("'yes'", 'yes'), v('null', null)],
  check: [v('1', 1), v("'yes'", 'yes'), v('null', null)],
});
// runSync: run's refusals (but a stream input, which run takes) and the options posix_spawn cannot apply.
const runSyncBad = {
  ...runBad,
  input: [...runBad.input, v('a stream', () => require('node:stream').Readable.from(['x']))],
  uid: [v('0', 0)],
  rlimits: [v('{ core: 0 }', () => ({ core: 0 }))],
  fds: [v("{ 3: 'pipe' }", () => ({ 3: 'pipe' }))],
};
const pipelineBad = {
  encoding: runBad.encoding,
  lines: runBad.lines,
  maxBuffer: runBad.maxBuffer,
  input: runBad.input,
  stdin: runBad.stdin,
  pipefail: [v('1', 1), v('null', null)],
  check: runBad.check,
  timeout: [v('-1', -1), v('1.5', 1.5), v("'1'", '1')],
  signal: [v('{}', () => ({})), v('5', 5)],
  killSignal: [v("'SIGBOGUS'", 'SIGBOGUS'), v('-1', -1)],
};
const badStages = [
  ...badArray,
  v('[]', () => []),
  v('[[]]', () => [[]]),
  v('[5]', () => [5]),
  v("[['/bin/true', 5]]", () => [['/bin/true', 5]]),
  v("[['/bin/true', [], 5]]", () => [['/bin/true', [], 5]]),
  v("[['/bin/true', [], { stderr: 'pipe' }]]", () => [['/bin/true', [], { stderr: 'pipe' }]]),
  v("[['/bin/true', [], { stdio: 'pipe' }]]", () => [['/bin/true', [], { stdio: 'pipe' }]]),
  v("[['/bin/true'], ['a\\0']]", () => [['/bin/true'], ['a\0']]),
  v("[['/bin/true'], [null]]", () => [['/bin/true'], [null]]),
  v("[['/bin/true', [], { uid: -1 }]]", () => [['/bin/true', [], { uid: -1 }]]),
  v('[revoked proxy]', () => [revoked()]),
];
// fd arguments refused for sure: never a real fd (a call that got through could close or
// overwrite this fuzzer's own stdout).
const badFd = [v('-1', -1), v('1.5', 1.5), v('NaN', NaN), v('Infinity', Infinity), v('2**31', 2 ** 31), v("'3'", '3'), v('null', null), v('{}', () => ({})), v('1n', 1n), v('Symbol()', () => Symbol('f')), v('revoked proxy', () => revoked())];
const daemonBad = {
  argv0: badBytes,
  env: badEnv,
  cwd: nonNull(badBytes),
  umask: nonNull(spawnBad.umask),
  stdio: [...nonNull(badStdio), v("'inherit'", 'inherit'), v("'pipe'", 'pipe'), v("['ignore', 'pipe']", () => ['ignore', 'pipe'])],
  pidFile: [v("''", ''), v("'a\\0b'", 'a\0b'), v('5', 5), v('null', null), v('{}', () => ({})), v('revoked proxy', () => revoked())],
};
const badFileActions = [
  ...badArray,
  v('[null]', () => [null]),
  v('[{ action: bogus }]', () => [{ action: 'bogus' }]),
  v('[{ action: toString }]', () => [{ action: 'toString' }]),
  v('[{ open fd -1 }]', () => [{ action: 'open', fd: -1, path: 'x' }]),
  v('[{ open flags toString }]', () => [{ action: 'open', fd: 3, path: 'x', flags: 'toString' }]),
  v('[{ close }]', () => [{ action: 'close' }]),
  v('[{ dup2 fd 1 }]', () => [{ action: 'dup2', fd: 1 }]),
  v("[{ chdir 'a\\0' }]", () => [{ action: 'chdir', path: 'a\0' }]),
  v('[, close 3]', () => sparse({ action: 'close', fd: 3 }, { action: 'close', fd: 3 })),
  v('[revoked proxy]', () => [revoked()]),
  v('[getter throws]', () => [throwingGetter('action')]),
  v('65537 actions', () => new Array(65537).fill({ action: 'close', fd: 3 })),
];
const posixBad = {
  env: badEnv,
  fileActions: badFileActions,
  inheritStdio: badBool,
  setpgroup: badCount,
  setsid: badBool,
  setsigmask: nonNull(badSignalArray),
  setsigdef: nonNull(badSignalArray),
  resetids: badBool,
  scheduler: [
    v('null', null),
    v('5', 5),
    v("'fifo'", 'fifo'),
    v('{ policy: toString }', () => ({ policy: 'toString' })),
    v('{ policy: bogus }', () => ({ policy: 'bogus' })),
    v('{ other, priority: 100 }', () => ({ policy: 'other', priority: 100 })),
    v('{ other, priority: -1 }', () => ({ policy: 'other', priority: -1 })),
    v('{}', () => ({})),
    v('revoked proxy', () => revoked()),
    v('getter throws', () => throwingGetter('policy')),
  ],
};

// Pids and groups that cannot exist (above the largest pid_max, 2**22), never 0, -1 or a group.
const nonexistentPid = [v('2**22+1', 2 ** 22 + 1), v('2**31-1', 2 ** 31 - 1), v('3e6+7', 3_000_007 + 2 ** 22)];
const badPid = [v('1.5', 1.5), v('NaN', NaN), v('Infinity', Infinity), v('-Infinity', -Infinity), v('2**31', 2 ** 31), v('-(2**31)-1', -(2 ** 31) - 1), v('2**53', 2 ** 53), v("'1'", '1'), v('null', null), v('undefined', undefined), v('{}', () => ({})), v('1n', 1n), v('Symbol()', () => Symbol('p')), v('revoked proxy', () => revoked())];
const harmlessPid = [...nonexistentPid, ...badPid];
const reservedSignals = [v("'SIGKILL'", 'SIGKILL'), v("'SIGSTOP'", 'SIGSTOP'), v("'SIGUSR1'", 'SIGUSR1'), v('32', 32), v('33', 33), v("'SIGSEGV'", 'SIGSEGV'), v("'SIGPROF'", 'SIGPROF')];
const badExitCode = [v('NaN', NaN), v('Infinity', Infinity), v('-Infinity', -Infinity), v('1.5', 1.5), v('2**53', 2 ** 53), v('-(2**60)', -(2 ** 60)), v("'0'", '0'), v('null', null), v('{}', () => ({})), v('0n', 0n), v('Symbol()', () => Symbol('c')), v('revoked proxy', () => revoked()), v('getter throws', () => throwingGetter('valueOf'))];
const waitStatusObjects = [v("{ kind: 'exited', code: 3 }", () => ({ kind: 'exited', code: 3 })), v("{ kind: 'exited', code: 'x' }", () => ({ kind: 'exited', code: 'x' })), v("{ kind: 'signaled' }", () => ({ kind: 'signaled' })), v('{ kind: Symbol() }', () => ({ kind: Symbol('k') })), v('{ kind: {} }', () => ({ kind: {} })), v("{ kind: 'stopped' }", () => ({ kind: 'stopped' })), v('getter throws', () => throwingGetter('kind'))];
const idTypes = [v("'pid'", 'pid'), v("'pgid'", 'pgid'), v("'all'", 'all'), v("'pidfd'", 'pidfd'), v("'toString'", 'toString'), v("'__proto__'", '__proto__')];
const waitOptions = [...junk, v('{ nohang: true }', () => ({ nohang: true })), v('{ toString: true }', () => ({ toString: true })), v('{ exited: true, nohang: true }', () => ({ exited: true, nohang: true })), v('{ nohang: 1 }', () => ({ nohang: 1 })), v('getter throws', () => throwingGetter('nohang'))];

// lib/resources.ts: a call that changes something gets a target that cannot exist (ESRCH) or a
// value that is refused for sure, never a valid change of this process, its group or its user.
const priorityWhich = [v("'process'", 'process'), v("'group'", 'group'), v("'user'", 'user')];
const badRlimitValue = [...badRlimits.filter((x) => !x.label.startsWith('{') && x.label !== '5'), v('-1', -1), v('[2, 1]', () => [2, 1]), v('[1]', () => [1]), v('2n**64n', 2n ** 64n), v('1.5', 1.5), v('-Infinity', -Infinity)];
const badNice = [v('-21', -21), v('20', 20), v('1.5', 1.5), v('NaN', NaN), v("'0'", '0'), v('null', null), v('0n', 0n)];
const badCpus = [...badArray, v('[]', () => []), v('[-1]', () => [-1]), v('[65536]', () => [65536]), v("['0']", () => ['0']), v('[0.5]', () => [0.5]), v('[, 0]', () => sparse(1, 0)), v('[null]', () => [null])];
const schedulers = [v('{ fifo 99 }', () => ({ policy: 'fifo', priority: 99 })), v('{ idle }', () => ({ policy: 'idle' })), v('{ batch, resetOnFork }', () => ({ policy: 'batch', resetOnFork: true }))];
const badScheduler = [
  ...posixBad.scheduler,
  v('{ deadline }', () => ({ policy: 'deadline' })),
  v('{ fifo }', () => ({ policy: 'fifo' })),
  v('{ rr, priority: 100 }', () => ({ policy: 'rr', priority: 100 })),
  v('{ idle, priority: 1 }', () => ({ policy: 'idle', priority: 1 })),
  v('{ batch, resetOnFork: 1 }', () => ({ policy: 'batch', resetOnFork: 1 })),
];
const resourceTargets = {
  prlimit: () => (chance(0.5) ? [arg(harmlessPid), arg(junk.concat(v("'nofile'", 'nofile'))), arg(junk)] : [arg(junk), arg(junk.concat(v("'core'", 'core'))), arg(badRlimitValue)]),
  getrusage: () => [arg(junk.concat(v("'children'", 'children'), v("'thread'", 'thread')))],
  getpriority: () => [arg(junk.concat(priorityWhich)), arg(junk.concat(nonexistentPid))],
  setpriority: () => (chance(0.5) ? [arg(junk.concat(priorityWhich)), arg(harmlessPid), arg(junk)] : [arg(junk.concat(priorityWhich)), arg(junk), arg(badNice)]),
  schedGetAffinity: () => [arg(junk.concat(nonexistentPid))],
  schedSetAffinity: () => (chance(0.5) ? [arg(harmlessPid), arg(junk.concat(v('[0]', () => [0])))] : [arg(junk), arg(badCpus)]),
  schedGetScheduler: () => [arg(junk.concat(nonexistentPid))],
  schedSetScheduler: () => (chance(0.5) ? [arg(harmlessPid), arg(junk.concat(schedulers))] : [arg(junk), arg(badScheduler)]),
};

/** One bad option among random ones: `bad` maps each option to values it must refuse. */
function optionsWithOneBad(bad) {
  const keys = Object.keys(bad);
  const badKey = pick(keys);
  const labels = [];
  const options = {};
  for (const key of keys) {
    if (key === badKey) {
      const value = pick(bad[key]);
      options[key] = value.make();
      labels.push(`${key}: ${value.label}`);
    } else if (chance(0.15)) {
      // Another value that is bad too, or anything at all (never a valid process-wide effect:
      // the one bad option above is refused before anything runs).
      const value = chance(0.5) ? pick(bad[key]) : pick(junk);
      options[key] = value.make();
      labels.push(`${key}: ${value.label}`);
    }
  }
  return { value: options, label: `{ ${labels.join(', ')} }` };
}

/** The options argument itself bad: not an object, revoked, or throwing from a getter. */
function badOptionsArgument(keys) {
  return pick([
    v('null', null),
    v('5', 5),
    v("'x'", 'x'),
    v('true', true),
    v('Symbol()', () => Symbol('o')),
    v('revoked proxy', () => revoked()),
    v('getter throws', () => throwingGetter(pick(keys))),
  ]);
}

const arg = (list) => {
  const value = pick(list);
  return { value: value.make(), label: value.label };
};
const fixed = (value, label = JSON.stringify(value)) => ({ value, label });

/** Arguments for a program starter: exactly one of file, argv and options refused for sure. */
function starterArguments(badOptions, validArgv) {
  const which = pick(['file', 'argv', 'options', 'options', 'options']);
  const file = which === 'file' ? arg(badBytes) : chance(0.8) ? fixed('/bin/true') : arg(junk);
  const argv = which === 'argv' ? arg(badArgv) : chance(0.8) ? fixed(validArgv) : arg(junk);
  let options;
  if (which === 'options') options = chance(0.2) ? arg([badOptionsArgument(Object.keys(badOptions))]) : optionsWithOneBad(badOptions);
  else options = chance(0.7) ? fixed(undefined, 'undefined') : optionsWithOneBad(badOptions);
  return [file, argv, options];
}

// Each entry: the export, how to make its arguments, and `starts` when a call that succeeds has
// started a process (a bug of the fuzzer or of validation: reported, then killed and reaped).
const targets = {
  getpid: () => [arg(junk)],
  getppid: () => [arg(junk)],
  getpgrp: () => [arg(junk)],
  isChildSubreaper: () => [arg(junk)],
  getParentDeathSignal: () => [arg(junk)],
  droppedSignalCount: () => [arg(junk)],
  signalNumber: () => [arg(junk.concat(badSignal)), arg(junk), arg(junk)],
  signalName: () => [arg(junk.concat(badSignal))],
  decodeWaitStatus: () => [arg(junk)],
  waitStatusToExitCode: () => [arg(junk.concat(waitStatusObjects))],
  processInfo: () => [arg(junk.concat(nonexistentPid))],
  children: () => [arg(junk.concat(nonexistentPid))],
  getsid: () => [arg(junk)],
  getpgid: () => [arg(junk)],
  tcgetpgrp: () => [arg(junk)],
  // No child exists while these run: every wait ends at once (ECHILD) or is refused.
  waitpid: () => [arg(junk), arg(waitOptions)],
  wait4: () => [arg(junk), arg(waitOptions)],
  waitid: () => [arg(junk.concat(idTypes)), arg(junk), arg(waitOptions)],
  waitAsync: () => [arg(harmlessPid), arg(junk.concat(badAbortSignal.map((s) => v(`{ signal: ${s.label} }`, () => ({ signal: s.make() })))))],
  pidfdOpen: () => [arg(junk.concat(nonexistentPid))],
  kill: () => [arg(harmlessPid), arg(junk.concat(badSignal))],
  killpg: () => [arg(harmlessPid), arg(junk.concat(badSignal))],
  sigqueue: () => [arg(harmlessPid), arg(junk.concat(badSignal)), arg(junk)],
  setpgid: () => (chance(0.5) ? [arg(badCount), arg(junk)] : [arg(junk), arg(badCount)]),
  tcsetpgrp: () => (chance(0.5) ? [arg(badCount), arg(junk)] : [arg(junk), arg(badCount)]),
  setChildSubreaper: () => [arg(junk.filter((x) => typeof x.make() !== 'boolean'))],
  setParentDeathSignal: () => [arg(badSignal)],
  onSignal: () => [arg(junk.concat(badSignal, reservedSignals)), arg(junk)],
  // SIGCHLD is refused without { breaksChildProcess: true }, which no value here has.
  ignoreSignal: () => (chance(0.7) ? [arg(badSignal.concat(reservedSignals)), arg(junk)] : [fixed('SIGCHLD'), arg(junk)]),
  defaultSignal: () => [arg(badSignal.concat(reservedSignals))],
  startReaper: () => [arg(junk.concat(v('{ onReap: 1 }', () => ({ onReap: 1 })), v('{ exclude: fn }', () => ({ exclude: () => true }))))],
  registerAtFork: () => [arg(junk.concat(v('{ before: 1 }', () => ({ before: 1 })), v('{ child: fn }', () => ({ child: () => {} }))))],
  exit: () => [arg(badExitCode)],
  execve: () => execArguments(),
  execvp: () => execArguments(),
  posixSpawn: () => starterArguments(posixBad, ['true']),
  posixSpawnp: () => starterArguments(posixBad, ['true']),
  spawn: () => starterArguments(spawnBad, []),
  run: () => starterArguments(runBad, []),
  daemon: () => starterArguments(daemonBad, []),
  runSync: () => starterArguments(runSyncBad, []),
  pipeline: () => (chance(0.5) ? [arg(badStages), chance(0.5) ? fixed(undefined, 'undefined') : arg(junk)] : [fixed([['/bin/true'], ['/bin/true']]), chance(0.2) ? arg([badOptionsArgument(Object.keys(pipelineBad))]) : optionsWithOneBad(pipelineBad)]),
  pipe: () => [arg(junk)],
  dup2: () => (chance(0.5) ? [arg(badFd), arg(junk)] : [arg(junk), arg(badFd)]),
  dup3: () => (chance(0.4) ? [arg(badFd), arg(junk), arg(junk)] : chance(0.5) ? [arg(junk), arg(badFd), arg(junk)] : [arg(badFd), arg(badFd), arg(junk)]),
  close: () => [arg(badFd)],
  closeRange: () => (chance(0.5) ? [arg(badFd), arg(junk), arg(junk)] : [fixed(2 ** 31 - 2), arg(badFd.filter((x) => x.label !== 'Infinity')), arg(junk)]),
  ExitError: () => [arg(junk.concat(v('{ status: null }', () => ({ status: null })), v("{ status: { kind: 'x' } }", () => ({ status: { kind: 'x' } }))))],
  SyscallError: () => [arg(junk), arg(junk), arg(junk), arg(junk)],
  ...resourceTargets,
  // Never a size that opens a pty: each of these is refused.
  openpty: () => [arg([v('{ cols: 0 }', () => ({ cols: 0 })), v('{ rows: -1 }', () => ({ rows: -1 })), v('{ cols: 1.5 }', () => ({ cols: 1.5 })), v('null', null), v('5', 5), v('revoked proxy', () => revoked()), v('throwing getter', () => throwingGetter('cols'))])],
  // The fuzzer's fds are pipes and files, never terminals: ENOTTY at most.
  tcgetattr: () => [arg(junk)],
  tcsetattr: () => [arg(junk), arg(junk), arg(junk)],
  makeRaw: () => [arg(junk)],
  isatty: () => [arg(junk)],
  ttyname: () => [arg(junk)],
  // Never a call that changes the mask: an unknown how, or signals that are refused.
  sigprocmask: () => (chance(0.5) ? [arg(junk), arg(junk)] : [fixed(pick(['block', 'unblock', 'setmask'])), arg(badSignalArray.concat(v("['SIGKILL']", () => ['SIGKILL']), v('[32]', () => [32])))]),
  sigpending: () => [arg(junk)],
  availableContainments: () => [arg(junk)],
};
const starters = new Set(['posixSpawn', 'posixSpawnp', 'spawn', 'run', 'daemon', 'runSync', 'pipeline']);
// Exports that take no argument to refuse and would change this process: never called.
const notCalled = {
  setsid: 'would move this process into a new session',
  fork: 'would fork this process',
  Pty: 'made by spawn with the pty option (its constructor is internal)',
  ChildProcess: "a handle is made by spawn (its constructor is internal); its methods are fuzzed on this fuzzer's own child",
};

/**
 * execve/execvp with one argument refused for sure (env: never null or undefined, which are
 * valid), and a program that does not exist: should a call get through, exec fails with ENOENT
 * instead of replacing this process.
 */
function execArguments() {
  const which = pick(['path', 'argv', 'env']);
  return [
    which === 'path' ? arg(badBytes) : fixed('/nonexistent/posix-process-fuzz'),
    which === 'argv' ? arg(badArgv) : chance(0.8) ? fixed(['true']) : arg(junk),
    which === 'env' ? arg(badEnv) : arg(junk),
  ];
}

// Errors that name a documented refusal without being a TypeError or RangeError.
const documentedCodes = new Set(['ERR_SIGNAL_RESERVED', 'ERR_SIGNAL_IGNORE_SIGCHLD', 'ERR_NOT_GROUP_LEADER', 'ERR_NOT_CONTAINED']);

function classify(error) {
  try {
    if (error instanceof lib.SyscallError) return 'SyscallError';
    if ((error instanceof TypeError || error instanceof RangeError) && typeof error.code === 'string') return `${error.constructor.name} ${error.code}`;
    if (error instanceof Error && documentedCodes.has(error.code)) return `Error ${error.code}`;
  } catch {
    // A thrown proxy.
  }
  return null;
}
function describeError(error) {
  try {
    return `${error?.constructor?.name}: ${error?.code ?? ''} ${error?.message ?? String(error)}`.slice(0, 300);
  } catch {
    return 'an unprintable error';
  }
}

/** Undoes what a call that returned did: closes a pidfd, stops a reaper, removes handlers, reaps. */
async function cleanUp(name, result) {
  if (name === 'pidfdOpen' && typeof result === 'number') fs.closeSync(result);
  if (name === 'startReaper') result.stop();
  if (name === 'pipe') for (const fd of result) lib.close(fd);
  if ((name === 'onSignal' || name === 'registerAtFork') && typeof result === 'function') result();
  if (starters.has(name)) {
    const pid = typeof result === 'number' ? result : result?.pid;
    if (typeof pid !== 'number') return;
    try {
      lib.kill(pid, 'SIGKILL');
    } catch {
      // Already exited.
    }
    if (name === 'spawn') await result.wait();
    else if (name === 'posixSpawn' || name === 'posixSpawnp') lib.waitpid(pid);
  }
}

const report = { seed, rounds, calls: 0, outcomes: {}, bad: [], unexpectedStarts: [], slowest: { ms: 0, call: '' }, leftChildren: [] };

/** Calls `invoke` with the values of `args` (by default the export `name`) and records what happened. */
async function call(name, args, invoke = (values) => (name === 'SyscallError' || name === 'ExitError' ? new lib[name](...values) : lib[name](...values))) {
  const label = `${name}(${args.map((a) => a.label).join(', ')})`;
  process.stderr.write(`${label}\n`); // the last line names the call if this process hangs or dies
  const started = process.hrtime.bigint();
  let outcome;
  let result;
  try {
    result = invoke(args.map((a) => a.value));
    if (result instanceof Promise) result = await result;
    outcome = 'returned';
  } catch (error) {
    outcome = classify(error);
    if (outcome === null) report.bad.push({ call: label, error: describeError(error) });
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (ms > report.slowest.ms) report.slowest = { ms, call: label };
  report.calls++;
  if (outcome !== null) report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
  if (outcome === 'returned') {
    if (starters.has(name)) report.unexpectedStarts.push(label);
    await cleanUp(name, result);
  }
}

/** A few valid spawns, each reaped; then ChildProcess methods fuzzed on a child of our own. */
async function validCalls() {
  for (const options of [{}, { cwd: '/', env: { A: '1' } }, { stdio: 'ignore', sigmask: ['SIGUSR2'], umask: 0o22 }, { setsid: true, rlimits: { core: 0 } }, { pgid: 0, timeout: 60_000, killSignal: 'SIGKILL' }]) {
    const child = await lib.spawn('/bin/true', [], options);
    await child.wait();
  }
  await lib.run('/bin/true', [], { input: 'x' });
  const pid = lib.posixSpawn('/bin/true', ['true'], { setsigmask: ['SIGUSR2'] });
  lib.waitpid(pid);
  // Dies with this process if it is killed, so that a fuzzer that hangs leaves nothing behind.
  const child = await lib.spawn('sleep', ['30'], { pdeathsig: 'SIGKILL', stdio: 'ignore' });
  try {
    for (let i = 0; i < 200; i++) {
      const method = pick(['kill', 'killGroup', 'killTree']);
      await call(`child.${method}`, [arg(junk.concat(badSignal))], (values) => child[method](...values));
    }
  } finally {
    await child[Symbol.asyncDispose]();
  }
}

async function main() {
  lib.setParentDeathSignal('SIGKILL'); // a killed test worker takes this fuzzer with it
  const names = Object.keys(targets);
  for (const name of names) if (!(name in lib)) throw new Error(`no export ${name}`);
  // A new export must be added to the targets (or, with a reason, to notCalled).
  for (const [name, value] of Object.entries(lib)) {
    if (typeof value === 'function' && !(name in targets) && !(name in notCalled)) throw new Error(`export ${name} is not fuzzed`);
  }
  for (let i = 0; i < rounds; i++) {
    const name = pick(names);
    await call(name, targets[name]());
  }
  await validCalls().catch((error) => report.bad.push({ call: 'valid calls', error: describeError(error) }));
  report.leftChildren = lib.children(process.pid); // every child started here has been reaped
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ fatal: describeError(error) })}\n`);
  process.exitCode = 1;
});
