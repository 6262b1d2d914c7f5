// Pseudo-terminals, terminal attributes, signal masks and stops: real ptys, no terminal needed.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { makeRaw, openpty, Pty, run, runSync, sigpending, sigprocmask, spawn, tcgetattr, tcsetattr, isatty, ttyname, type ChildProcess } from '../lib/index';
import { binding } from '../lib/native';
import { prepare } from '../lib/spawn/options';
import { packedRequest, packRequest, releasePackedRequest } from '../lib/spawn/request';
import { terminalBinding } from '../lib/terminal-binding';
import { openFds, processState, rejection, runNode, statField, thrown, until, zombieChildren } from './helpers';

/** Everything the pty says until it ends (the slave's last close). */
function readAll(pty: Pty): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    pty.setEncoding('utf8');
    pty.on('data', (chunk: string) => (text += chunk));
    pty.on('end', () => resolve(text));
    pty.on('error', reject);
  });
}

/** A reader of a pty's output that can wait for a pattern. */
function screen(pty: Pty): { text: () => string; waitFor: (pattern: RegExp) => Promise<void> } {
  let text = '';
  pty.setEncoding('utf8');
  pty.on('data', (chunk: string) => (text += chunk));
  return { text: () => text, waitFor: (pattern) => until(() => pattern.test(text), 20_000) };
}

async function finish(child: ChildProcess): Promise<void> {
  await child[Symbol.asyncDispose]();
}

function closeFd(fd: number): void {
  fs.closeSync(fd);
}

describe('openpty', () => {
  it('makes a close-on-exec pair, the slave at path, with the size asked for', () => {
    const before = openFds();
    const { master, slave, path } = openpty({ cols: 91, rows: 17 });
    try {
      expect(path).toMatch(/^\/dev\/pts\/\d+$/);
      expect(ttyname(slave)).toBe(path);
      expect(isatty(master)).toBe(true);
      expect(isatty(slave)).toBe(true);
      for (const fd of [master, slave]) {
        const flags = /flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
        expect(parseInt(flags, 8) & 0o2000000).not.toBe(0); // O_CLOEXEC
      }
      expect(terminalBinding.getWindowSize(slave)).toEqual([91, 17]);
      expect(openpty().slave).toBeGreaterThan(0); // default 80 x 24, checked below
    } finally {
      closeFd(master);
      closeFd(slave);
    }
    // the second pair of the test
    for (const fd of openFds()) if (!before.includes(fd)) closeFd(fd);
  });

  it('defaults to 80 x 24 and refuses bad sizes before opening anything', () => {
    const { master, slave } = openpty();
    expect(terminalBinding.getWindowSize(master)).toEqual([80, 24]);
    closeFd(master);
    closeFd(slave);
    const before = openFds();
    expect(thrown(() => openpty({ cols: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => openpty({ rows: 70000 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => openpty({ cols: 1.5 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => openpty(null as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => openpty(true as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(openFds()).toEqual(before);
  });
});

describe('Pty', () => {
  it('new Pty(...) throws ERR_ILLEGAL_CONSTRUCTOR and adopts no fd (only spawn makes one)', () => {
    const { master, slave } = openpty();
    try {
      const Constructor = Pty as unknown as new (...args: unknown[]) => Pty;
      for (const args of [[], [master, '/dev/pts/0'], [Symbol('constructing'), master, '/dev/pts/0']]) {
        expect(thrown(() => new Constructor(...args))).toMatchObject({ name: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR' });
      }
      // The master is still open, and still this process's: nothing took it over or closed it.
      expect(isatty(master)).toBe(true);
      expect(fs.fstatSync(master).rdev).toBe(fs.statSync('/dev/ptmx').rdev);
    } finally {
      closeFd(master);
      closeFd(slave);
    }
  });
});

describe('isatty, ttyname', () => {
  it('answers for pipes, files and closed fds', () => {
    const [readEnd, writeEnd] = binding.pipe();
    expect(isatty(readEnd)).toBe(false);
    binding.closeFd(readEnd);
    binding.closeFd(writeEnd);
    expect(isatty(readEnd)).toBe(false); // closed: false, nothing thrown
    const fd = fs.openSync('/dev/null', 'r');
    try {
      expect(isatty(fd)).toBe(false);
      expect(thrown(() => ttyname(fd))).toMatchObject({ code: 'ENOTTY', syscall: 'ttyname' });
    } finally {
      closeFd(fd);
    }
    expect(thrown(() => isatty(-1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});

describe('tcgetattr, tcsetattr', () => {
  it('reads the modes as a typed object and sets them back, booleans winning over the bits', () => {
    const { master, slave } = openpty();
    try {
      const attrs = tcgetattr(slave);
      expect(attrs).toMatchObject({ echo: true, canonical: true, signals: true });
      expect(attrs.cc).toMatchObject({ intr: 3, susp: 26, eof: 4, quit: 28 });
      expect(attrs.ospeed).toBe(38400);
      tcsetattr(slave, 'now', { ...attrs, echo: false, cc: { ...attrs.cc, intr: 7 } });
      const changed = tcgetattr(slave);
      expect(changed).toMatchObject({ echo: false, canonical: true, cc: { intr: 7 } });
      tcsetattr(slave, 'drain', makeRaw(changed));
      expect(tcgetattr(slave)).toMatchObject({ echo: false, canonical: false, signals: false, cc: { min: 1, time: 0 } });
      tcsetattr(slave, 'flush', attrs);
      expect(tcgetattr(slave)).toEqual(attrs);
    } finally {
      closeFd(master);
      closeFd(slave);
    }
  });

  it('reports ENOTTY and refuses bad arguments', () => {
    const fd = fs.openSync('/dev/null', 'r');
    const { master, slave } = openpty();
    try {
      expect(thrown(() => tcgetattr(fd))).toMatchObject({ code: 'ENOTTY', syscall: 'tcgetattr' });
      const attrs = tcgetattr(slave);
      expect(thrown(() => tcsetattr(fd, 'now', attrs))).toMatchObject({ name: 'SyscallError', code: 'ENOTTY', syscall: 'tcsetattr' }); // was named 'tcgetattr', its first step
      expect(thrown(() => tcsetattr(slave, 'later' as never, attrs))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => tcsetattr(slave, 'now', { ...attrs, ospeed: 12345 }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => tcsetattr(slave, 'now', { ...attrs, echo: 'yes' as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => tcsetattr(slave, 'now', { ...attrs, cc: { ...attrs.cc, intr: 256 } }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(tcgetattr(slave)).toEqual(attrs);
    } finally {
      closeFd(fd);
      closeFd(master);
      closeFd(slave);
    }
  });

  it('knows the high speeds of serial adapters (576000 to 4000000 baud): read as baud, set, and round-tripped', () => {
    const { master, slave, path } = openpty();
    try {
      const attrs = tcgetattr(slave);
      for (const baud of [576000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000]) {
        tcsetattr(slave, 'now', { ...attrs, ispeed: baud, ospeed: baud });
        expect(tcgetattr(slave)).toMatchObject({ ispeed: baud, ospeed: baud });
        // What the kernel holds, seen by another program.
        expect(execFileSync('stty', ['-F', path, 'speed'], { encoding: 'utf8' }).trim()).toBe(String(baud));
      }
      // A speed set by another program reads as baud and can be set back as read.
      execFileSync('stty', ['-F', path, '2000000']);
      const read = tcgetattr(slave);
      expect(read).toMatchObject({ ispeed: 2000000, ospeed: 2000000 });
      tcsetattr(slave, 'now', read);
      expect(tcgetattr(slave)).toEqual(read);
    } finally {
      closeFd(master);
      closeFd(slave);
    }
  });
});

describe('sigprocmask, sigpending', () => {
  const blocked = (): bigint => BigInt(`0x${/SigBlk:\s*(\w+)/.exec(fs.readFileSync('/proc/thread-self/status', 'utf8'))![1]}`);
  const bit = (signo: number): bigint => 1n << BigInt(signo - 1);

  it("changes this thread's mask, returns the previous one, and shows what is pending", () => {
    const previous = sigprocmask('block', ['SIGWINCH', 'SIGUSR2']);
    try {
      expect(previous).not.toContain('SIGWINCH');
      expect(blocked() & bit(28)).toBe(bit(28));
      expect(sigprocmask('unblock', ['SIGUSR2'])).toEqual(expect.arrayContaining(['SIGWINCH', 'SIGUSR2']));
      expect(blocked() & bit(12)).toBe(0n);
      terminalBinding.raiseInThreadForTest(28);
      expect(sigpending()).toContain('SIGWINCH');
    } finally {
      sigprocmask('setmask', previous); // SIGWINCH is delivered, and ignored by default
    }
    expect(sigpending()).not.toContain('SIGWINCH');
    expect(blocked() & bit(28)).toBe(0n);
  });

  it('refuses what cannot be blocked and unknown hows', () => {
    const before = blocked();
    expect(thrown(() => sigprocmask('block', ['SIGKILL']))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => sigprocmask('block', ['SIGSTOP']))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => sigprocmask('block', [32]))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => sigprocmask('add' as never, ['SIGINT']))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => sigprocmask('block', ['SIGNOPE' as never]))).toMatchObject({ code: 'ERR_UNKNOWN_SIGNAL' });
    expect(blocked()).toBe(before);
  });
});

describe('spawn with pty', () => {
  it('gives the child a terminal on 0..2, of the right size, as its controlling terminal in a new session', async () => {
    const before = openFds();
    const child = await spawn('/bin/sh', ['-c', 'test -t 0 && test -t 1 && test -t 2 && echo tty-ok; stty size; tty; ps -o sid= -o tpgid= -p $$'], { pty: { cols: 100, rows: 30 } });
    const output = await readAll(child.pty!);
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    const lines = output.split('\r\n');
    expect(lines[0]).toBe('tty-ok');
    expect(lines[1]).toBe('30 100');
    expect(lines[2]).toBe(child.pty!.path);
    expect(lines[3]!.trim().split(/\s+/).map(Number)).toEqual([child.pid, child.pid]); // session leader, foreground
    expect(child.leadsGroup).toBe(true);
    await finish(child);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it("unref() lets the process end while the child runs and its pty is read; the pty's own ref() keeps it", async () => {
    // The child, a session leader on the pty, dies of the hang-up when this Node closes the master.
    const unrefd = runNode(
      `const p = require('./dist/index.js');
      p.spawn('sleep', ['60'], { pty: true }).then((child) => {
        child.pty.on('data', () => {});
        child.unref();
        console.log('started', child.pid);
      });`,
      { timeout: 15_000 },
    );
    expect({ status: unrefd.status, signal: unrefd.signal, stderr: unrefd.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const pid = Number(/started (\d+)/.exec(unrefd.stdout)![1]);
    await until(() => [undefined, 'Z'].includes(processState(pid)), 20_000); // hung up with the master
    const refd = runNode(
      `const p = require('./dist/index.js');
      p.spawn('sh', ['-c', 'read line; echo got $line'], { pty: true }).then((child) => {
        let text = '';
        child.pty.on('data', (chunk) => (text += chunk));
        child.pty.on('end', () => console.log(JSON.stringify(text.split('\\r\\n').filter(Boolean))));
        child.unref();
        child.pty.unref();
        child.pty.ref(); // the pty alone keeps the process until its end
        child.pty.write('hello\\r');
      });`,
      { timeout: 15_000 },
    );
    expect({ status: refd.status, stdout: refd.stdout, stderr: refd.stderr }).toEqual({ status: 0, stdout: '["hello","got hello"]\n', stderr: '' });
  });

  it('resize reaches the child as SIGWINCH with the new size', async () => {
    const child = await spawn('/bin/sh', ['-c', "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done"], { pty: { cols: 80, rows: 24 } });
    try {
      const out = screen(child.pty!);
      await out.waitFor(/ready/);
      expect(child.pty!.size).toEqual({ cols: 80, rows: 24 });
      child.pty!.resize(132, 43);
      expect([child.pty!.cols, child.pty!.rows]).toEqual([132, 43]);
      await out.waitFor(/43 132/);
      expect(thrown(() => child.pty!.resize(0, 10))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      const master = child.pty!.fd;
      expect(fs.readlinkSync(`/proc/self/fd/${master}`)).toBe('/dev/ptmx');
      child.pty!.destroy(); // while the terminal is open
      expect(thrown(() => child.pty!.resize(10, 10))).toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
      // -1 once closed, as a socket's handle: the number may name another file by now.
      expect(child.pty!.fd).toBe(-1);
      expect(fs.existsSync(`/proc/self/fd/${master}`) && fs.readlinkSync(`/proc/self/fd/${master}`) === '/dev/ptmx').toBe(false);
    } finally {
      await finish(child);
    }
  });

  it("size and resize say ERR_PTY_ENDED once the terminal has ended, also after its output has been read (the stream's own end destroyed it)", async () => {
    // They said ERR_STREAM_DESTROYED ("The pty has been destroyed") once 'end' had come, though nobody destroyed it.
    const child = await spawn('/bin/sh', ['-c', 'echo bye'], { pty: true });
    const pty = child.pty!;
    const closed = new Promise((resolve) => pty.on('close', resolve));
    expect(await readAll(pty)).toBe('bye\r\n');
    await closed;
    expect(pty.destroyed).toBe(true);
    expect(thrown(() => pty.size)).toMatchObject({ code: 'ERR_PTY_ENDED' });
    expect(thrown(() => pty.resize(100, 30))).toMatchObject({ code: 'ERR_PTY_ENDED' });
    await finish(child);
    expect(zombieChildren()).toEqual([]);
  });

  it('keeps the tail of the output of a child that exits right after writing', async () => {
    for (let i = 0; i < 5; i++) {
      const child = await spawn('/bin/sh', ['-c', "head -c 300000 /dev/zero | tr '\\0' x; printf END"], { pty: true });
      const output = await readAll(child.pty!);
      expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
      expect(output.length).toBe(300003);
      expect(output.endsWith('xxxEND')).toBe(true);
      await finish(child);
    }
  });

  it('closes the master when the terminal ends, though nobody read it, and keeps the output for a late reader', async () => {
    // The master was held until its output was consumed: one /dev/ptmx per spawn, for ever.
    const before = openFds();
    const children = [];
    for (let i = 0; i < 3; i++) children.push(await spawn('/bin/sh', ['-c', 'echo late$0', String(i)], { pty: true }));
    for (const child of children) await child.wait();
    await until(() => openFds().length === before.length, 10_000);
    expect(openFds()).toEqual(before);
    const pty = children[0]!.pty!;
    expect(pty.destroyed).toBe(false);
    expect(pty.fd).toBe(-1); // closed at the hang-up, before its output was read
    expect(thrown(() => pty.size)).toMatchObject({ code: 'ERR_PTY_ENDED' });
    expect(thrown(() => pty.resize(100, 30))).toMatchObject({ code: 'ERR_PTY_ENDED' });
    const written = await new Promise<unknown>((resolve) => pty.write('dropped', resolve));
    expect(written).toBeNull(); // no error: the terminal hung up, and the kernel drops such input too
    expect(await Promise.all(children.map((child) => readAll(child.pty!)))).toEqual(['late0\r\n', 'late1\r\n', 'late2\r\n']);
    expect(zombieChildren()).toEqual([]);
  });

  it('keeps the master open while a child that closed its terminal fds runs on, and closes it at the reap', async () => {
    // The master was closed at the end of the output (every fd of the slave closed): the kernel
    // then hung the terminal up, and SIGHUP killed the child, which had only redirected its stdio.
    const before = openFds();
    const child = await spawn('/bin/sh', ['-c', 'echo started; exec </dev/null >/dev/null 2>&1; sleep 0.3; exit 3'], { pty: true });
    const pty = child.pty!;
    expect(await readAll(pty)).toBe('started\r\n');
    expect(pty.fd).toBeGreaterThan(2); // the output has ended, the child runs: still open
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 3 });
    expect(pty.fd).toBe(-1);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('drops what such a child writes to its terminal after the end, so that it cannot block on a full buffer', async () => {
    // Kept open and no longer read, the terminal filled up and the child waited for ever.
    const child = await spawn('/bin/sh', ['-c', 'echo started; exec </dev/null >/dev/null 2>&1; sleep 0.2; head -c 200000 /dev/zero > /dev/tty; exit 7'], { pty: true });
    expect(await readAll(child.pty!)).toBe('started\r\n');
    const ended = await Promise.race([child.wait(), new Promise((resolve) => setTimeout(resolve, 20_000, 'blocked'))]);
    try {
      expect(ended).toMatchObject({ status: { kind: 'exited', code: 7 } });
      expect(child.pty!.fd).toBe(-1);
    } finally {
      await finish(child);
    }
    expect(zombieChildren()).toEqual([]);
  });

  it("a terminal that ended with nothing to read emits 'end' and 'close' though nobody reads it, as a socket does", async () => {
    const child = await spawn('true', [], { pty: true });
    const pty = child.pty!;
    const closed = new Promise<string[]>((resolve) => {
      const events: string[] = [];
      pty.on('end', () => events.push('end'));
      pty.on('close', () => resolve([...events, 'close']));
    });
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    expect(await closed).toEqual(['end', 'close']);
    expect(zombieChildren()).toEqual([]);
  });

  it("drops writes after the terminal's end also once the stream has ended (no 'write after end', no 'error')", async () => {
    // They failed with ERR_STREAM_WRITE_AFTER_END once 'end' had ended the writable side too, an
    // 'error' that ended the program when written before 'close' (a keystroke forwarded late).
    const child = await spawn('/bin/sh', ['-c', 'echo bye'], { pty: true });
    const pty = child.pty!;
    const errors: unknown[] = [];
    pty.on('error', (error) => errors.push(error));
    const inFinish = new Promise<unknown>((resolve) => pty.on('finish', () => pty.write('in finish', resolve)));
    const closed = new Promise((resolve) => pty.on('close', resolve));
    expect(await readAll(pty)).toBe('bye\r\n');
    expect(await inFinish).toBeNull();
    await closed;
    let returned: boolean | undefined;
    expect(await new Promise<unknown>((resolve) => (returned = pty.write('after close', 'utf8', resolve)))).toBeNull();
    expect(returned).toBe(true); // dropped: nothing to wait for ('drain' would never come)
    expect(errors).toEqual([]);

    // The caller's own end() before the hang-up: later writes are dropped too, as net.Socket's fail with EPIPE whoever ended.
    const ended = await spawn('/bin/sh', ['-c', 'read line; echo "got $line"'], { pty: true });
    const out = screen(ended.pty!);
    const endedClosed = new Promise((resolve) => ended.pty!.on('close', resolve));
    ended.pty!.end('yes\r');
    await out.waitFor(/got yes/);
    await endedClosed;
    expect(await new Promise<unknown>((resolve) => ended.pty!.write('late', resolve))).toBeNull();
    await finish(child);
    await finish(ended);
    expect(zombieChildren()).toEqual([]);
  });

  it("refuses a chunk of the wrong type after the terminal's end too, as before it and as any Writable (the fd 3 socket too)", async () => {
    // Dropped (or, for the socket, failed as EPIPE) without a word once the other end had ended.
    const child = await spawn('true', [], { pty: true, fds: { 3: 'pipe' } });
    const pty = child.pty!;
    const socket = child.stdio[3];
    socket.on('error', () => {}); // the EPIPE of a chunk that is written
    pty.resume();
    socket.resume();
    await Promise.all([new Promise((resolve) => pty.on('close', resolve)), new Promise((resolve) => socket.on('close', resolve))]);
    for (const stream of [pty, socket]) {
      expect(thrown(() => stream.write(5))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => stream.write({}))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => stream.write(null))).toMatchObject({ name: 'TypeError', code: 'ERR_STREAM_NULL_VALUES' });
    }
    await finish(child);
    expect(zombieChildren()).toEqual([]);
  });

  it('sends the keyboard to the child and reports its exit code and signal from the real wait', async () => {
    const child = await spawn('/bin/sh', ['-c', 'read line; echo "got $line"; exit 7'], { pty: true });
    const out = screen(child.pty!);
    child.pty!.write('hello\r');
    await out.waitFor(/got hello/);
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 7 });
    await finish(child);

    const killed = await spawn('/bin/sh', ['-c', 'echo ready; exec sleep 30'], { pty: true });
    const killedOut = screen(killed.pty!);
    await killedOut.waitFor(/ready/);
    killed.pty!.write('\x03'); // Ctrl-C: SIGINT to the foreground group, which is the child's
    expect((await killed.wait()).status).toMatchObject({ kind: 'signaled', signal: 'SIGINT' });
    await finish(killed);
  });

  it('drops a write waiting for room once the terminal hangs up, though its output is not read yet, without spinning', async () => {
    // The master reports POLLHUP as writable: the waiting write was tried again and again (a busy
    // loop, a core at 100%) until the output was read, and its callback came only then.
    // More than the stream reads unasked (its high-water mark, at most 4 KiB more: a master's read
    // gives at most 4 KiB), less than the kernel holds (head was stuck in 1 run of 5 with 16 KiB).
    const unread = new Duplex().readableHighWaterMark + 8192;
    const child = await spawn('/bin/sh', ['-c', 'head -c $0 /dev/zero; sleep 0.5', String(unread)], { pty: true });
    const pty = child.pty!;
    tcsetattr(pty.fd, 'now', makeRaw(tcgetattr(pty.fd))); // no echo, and input kept until read (a full line is not dropped)
    const original = Object.getOwnPropertyDescriptor(terminalBinding, 'ptyStreamWrite')!;
    const writeNative = terminalBinding.ptyStreamWrite.bind(terminalBinding);
    let attempts = 0;
    terminalBinding.ptyStreamWrite = (...args) => {
      attempts++;
      return writeNative(...args);
    };
    try {
      let written: unknown = 'pending';
      pty.write(Buffer.alloc(1 << 20, 'a'), (error) => (written = error)); // the child never reads its input
      expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
      await until(() => written !== 'pending', 20_000);
      expect(written).toBeNull();
      const after = attempts;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(attempts).toBe(after);
      expect(pty.readableEnded).toBe(false); // nothing read: the output waits for its reader
    } finally {
      Object.defineProperty(terminalBinding, 'ptyStreamWrite', original);
    }
    expect((await readAll(pty)).length).toBe(unread);
    await finish(child);
    expect(zombieChildren()).toEqual([]);
  });

  it('leaks no fd of the pty into other children, and none when the spawn fails', async () => {
    const before = openFds();
    const child = await spawn('/bin/sh', ['-c', 'echo ready; exec sleep 30'], { pty: true });
    try {
      await screen(child.pty!).waitFor(/ready/);
      const other = await spawn('/bin/sh', ['-c', 'for fd in /proc/self/fd/*; do readlink $fd; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let links = '';
      other.stdout.setEncoding('utf8');
      other.stdout.on('data', (chunk: string) => (links += chunk));
      await new Promise((resolve) => other.stdout.on('end', resolve));
      await finish(other);
      expect(links).not.toMatch(/\/dev\/pts|ptmx/);
      expect(links).not.toBe('');
    } finally {
      await finish(child);
    }
    expect(openFds()).toEqual(before);
    const error = await rejection(spawn('/nonexistent/program', [], { pty: true }));
    expect(error).toMatchObject({ code: 'ENOENT', step: 'exec' });
    expect(openFds()).toEqual(before);
  });

  it('leaks no fd of the pty when its containment cannot be had', async () => {
    // A plain directory is not a cgroup v2 directory: the containment is refused after the pty
    // was opened, on any machine.
    const dir = fs.mkdtempSync('/tmp/posix-process-not-a-cgroup-');
    try {
      const before = openFds();
      await expect(spawn('/bin/true', [], { pty: true, contain: 'cgroup', cgroup: dir })).rejects.toMatchObject({ code: 'ERR_CONTAINMENT_UNAVAILABLE' });
      expect(openFds()).toEqual(before);
    } finally {
      fs.rmdirSync(dir);
    }
  });

  it('leaks no fd of the pty when a pipe of fds cannot be made after it (EMFILE)', () => {
    // In a Node of its own, whose fds are filled up to a low limit but for the pty's two.
    const result = runNode(`
      const fs = require('node:fs');
      const { spawn, prlimit } = require('./dist/index.js');
      // (readdir's own fd is listed too, and gone by the readlink.)
      const fds = () => fs.readdirSync('/proc/self/fd').map(Number);
      prlimit(0, 'nofile', [256, prlimit(0, 'nofile').hard]);
      const before = fds();
      const fill = [];
      try { for (;;) fill.push(fs.openSync('/dev/null', 'r')); } catch {}
      for (const fd of fill.splice(-2)) fs.closeSync(fd);
      spawn('/bin/true', [], { pty: true, fds: { 3: 'pipe' } }).then(() => console.log('spawned'), (error) => {
        for (const fd of fill) fs.closeSync(fd);
        console.log(error.code, error.syscall);
        console.log(JSON.stringify(fds().filter((fd) => !before.includes(fd)).flatMap((fd) => { try { return [fs.readlinkSync('/proc/self/fd/' + fd)]; } catch { return []; } })));
      });
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['EMFILE socketpair', '[]']);
  });

  it('refuses the options that the pty replaces', async () => {
    const before = openFds();
    for (const options of [{ stdio: 'pipe' }, { setsid: true }, { pgid: 0 }, { setctty: 0 }, { foreground: true }, { noctty: true }] as const) {
      await expect(spawn('/bin/true', [], { pty: true, ...options })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
    await expect(spawn('/bin/true', [], { pty: { cols: -1 } })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    // false is "off", as setsid: false always was: noctty and foreground false were refused.
    for (const options of [{ setsid: false }, { foreground: false }, { noctty: false }] as const) {
      const child = await spawn('/bin/true', [], { pty: true, ...options });
      expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
      await finish(child);
    }
    // It said "must be an object", though true is what most callers pass.
    for (const pty of ['yes', 1, null]) {
      await expect(spawn('/bin/true', [], { pty: pty as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options.pty" argument must be a boolean or an object') as string });
    }
    expect(openFds()).toEqual(before);
  });

  it('run and runSync refuse pty and stdio, each naming itself', async () => {
    // runSync's refusals said "is not supported by run" and "is set by run itself", naming the wrong function.
    await expect(run('/bin/true', [], { pty: true } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.pty' is not supported by run (") as string });
    expect(thrown(() => runSync('/bin/true', [], { pty: true } as never))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.pty' is not supported by runSync (") as string });
    expect(thrown(() => runSync('/bin/true', [], { stdio: 'pipe' } as never))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.stdio' is set by runSync itself") as string });
    expect(zombieChildren()).toEqual([]);
  });
});

describe('setctty, foreground, noctty', () => {
  it('setctty makes the child fd N its controlling terminal; without setsid it is refused', async () => {
    const { master, slave, path } = openpty();
    const before = openFds();
    const readMaster = (): string => {
      const bytes = Buffer.alloc(4096);
      return bytes.subarray(0, fs.readSync(master, bytes)).toString();
    };
    try {
      await expect(spawn('/bin/true', [], { stdio: [slave, 'ignore', 'ignore'], setctty: 0 })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(/needs setsid: true/) as unknown,
      });
      // fd 5 of the child (numbered as the child sees it) becomes its terminal; its stdout shows it.
      for (const [stdio, fds, setctty] of [[['ignore', slave, 'ignore'], { 5: slave }, 5], [['ignore', slave, 'ignore'], {}, 1]] as const) {
        const child = await spawn('/bin/sh', ['-c', 'ps -o tty= -o tpgid= -p $$'], { stdio: [...stdio], fds, setsid: true, setctty });
        expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
        const [tty, tpgid] = readMaster().trim().split(/\s+/);
        expect(tty).toBe(path.replace('/dev/', ''));
        expect(Number(tpgid)).toBe(child.pid); // the session's group is the foreground one
        await finish(child);
      }
      const notTty = await rejection(spawn('/bin/true', [], { stdio: 'ignore', setsid: true, setctty: 0 }));
      expect(notTty).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl', step: 'ioctl' });
      const notOpen = await rejection(spawn('/bin/true', [], { stdio: 'ignore', setsid: true, setctty: 9 }));
      expect(notOpen).toMatchObject({ code: 'EBADF', step: 'ioctl' });
    } finally {
      closeFd(master);
      closeFd(slave);
    }
    expect(zombieChildren()).toEqual([]);
    expect(openFds().length).toBe(before.length - 2);
  });

  it('foreground on a terminal that is not the controlling one fails in the child with ENOTTY; bad combinations are refused', async () => {
    const { master, slave } = openpty();
    try {
      const error = await rejection(spawn('/bin/true', [], { stdio: 'ignore', foreground: slave }));
      expect(error).toMatchObject({ code: 'ENOTTY', syscall: 'tcsetpgrp', step: 'tcsetpgrp' });
      await expect(spawn('/bin/true', [], { setsid: true, foreground: true })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(spawn('/bin/true', [], { setsid: true, noctty: true })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(spawn('/bin/true', [], { foreground: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      await expect(spawn('/bin/true', [], { noctty: 1 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      closeFd(master);
      closeFd(slave);
    }
    expect(zombieChildren()).toEqual([]);
  });

  it('foreground and noctty, from a process that has a controlling terminal', async () => {
    // A Node program in a pty (its controlling terminal) spawns with foreground and noctty.
    const script = `
      const { spawn, tcsetpgrp, getpgrp } = require('./dist/index.js');
      (async () => {
        const fg = await spawn('/bin/sh', ['-c', 'ps -o tpgid= -p $$'], { foreground: true, stdio: ['inherit', 'pipe', 'inherit'] });
        let text = ''; fg.stdout.setEncoding('utf8'); fg.stdout.on('data', (c) => (text += c));
        await fg.finished(); // exit and the end of its output: wait() alone can come before the text
        const inForeground = Number(text.trim()) === fg.pid;
        tcsetpgrp(0, getpgrp());
        const ctty = (pid) => require('fs').readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1].split(' ')[4];
        const kept = await spawn('/bin/sleep', ['5'], {});
        const left = await spawn('/bin/sleep', ['5'], { noctty: true });
        const result = [inForeground, ctty(kept.pid) !== '0', ctty(left.pid) === '0'];
        kept.kill('SIGKILL'); left.kill('SIGKILL'); await kept.wait(); await left.wait();
        console.log('RESULT ' + JSON.stringify(result));
      })();`;
    const child = await spawn(process.execPath, ['-e', script], { pty: true, cwd: process.cwd() });
    const output = await readAll(child.pty!);
    expect((await child.wait()).status, output).toEqual({ kind: 'exited', code: 0 });
    expect(output).toContain('RESULT [true,true,true]');
    await finish(child);
  });

  it('a foreground spawn that fails after taking the terminal gives it back to the group that had it', async () => {
    // The terminal was left to the failed child's empty group: the caller was in the background of its own terminal.
    const script = `
      const { spawn, tcgetpgrp, getpgrp } = require('./dist/index.js');
      (async () => {
        const result = [];
        for (const [file, options] of [['/etc/passwd', {}], ['/bin/true', { cwd: '/nonexistent' }]]) {
          const error = await spawn(file, [], { ...options, foreground: true, stdio: 'ignore' }).catch((e) => e);
          result.push(error.code + ' ' + error.step + ' ' + (tcgetpgrp(0) === getpgrp()));
        }
        console.log('RESULT ' + JSON.stringify(result));
      })();`;
    const child = await spawn(process.execPath, ['-e', script], { pty: true, cwd: process.cwd() });
    const output = await readAll(child.pty!);
    expect((await child.wait()).status, output).toEqual({ kind: 'exited', code: 0 });
    expect(output).toContain('RESULT ["EACCES exec true","ENOENT chdir true"]');
    await finish(child);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('the request', () => {
  it('packs setctty, and foreground as a new group', () => {
    const { request } = prepare('sh', [], { setsid: true, setctty: 2 });
    packRequest(request);
    const { strings, layout } = packedRequest();
    releasePackedRequest();
    expect(binding.spawnDecodeForTest(0, strings, layout, undefined, undefined)).toMatchObject({ setsid: true, setctty: 2, foreground: -1, noctty: false });
    expect(prepare('sh', [], { foreground: true }).request).toMatchObject({ pgid: 0, foreground: 0 });
    expect(prepare('sh', [], { foreground: 4, pgid: 77 }).request).toMatchObject({ pgid: 77, foreground: 4 });
  });
});

describe('waitStopped', () => {
  it('reports stops and continues without reaping, then the exit', async () => {
    const child = await spawn('/bin/sleep', ['30']);
    try {
      child.kill('SIGSTOP');
      expect((await child.waitStopped()).status).toEqual({ kind: 'stopped', signal: 'SIGSTOP', signo: 19 });
      expect(statField(child.pid, 3)).toBe('T');
      child.kill('SIGCONT');
      expect((await child.waitStopped()).status).toEqual({ kind: 'continued' });
      const next = child.waitStopped();
      child.kill('SIGTERM');
      expect((await next).status).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
      expect(child.exitResult).not.toBeNull();
      expect((await child.waitStopped()).status).toMatchObject({ kind: 'signaled' });
    } finally {
      await finish(child);
    }
    expect(zombieChildren()).toEqual([]);
  });

  it('a wait that could not watch SIGCHLD rejects and leaves nothing behind that takes the next wait\'s stop', () => {
    // The SIGCHLD watch fails (uv_poll_init ENOSPC, injected), in a Node of its own: the
    // injection acts on the first watch of an environment.
    const result = runNode(
      `const p = require('./dist/index.js');
      const { binding } = require('./dist/native.js');
      (async () => {
        const child = await p.spawn('sleep', ['30']);
        binding.testing.failNextSignalPollInit(28);
        const first = await child.waitStopped().then(() => 'resolved', (error) => error.code);
        const second = child.waitStopped();
        child.kill('SIGSTOP');
        // A hang detector only: the stop is reported at once.
        const stop = await Promise.race([second, new Promise((resolve) => setTimeout(resolve, 15000, 'no stop seen'))]);
        child.kill('SIGKILL');
        await child.wait();
        console.log(JSON.stringify({ first, stop: stop.status ?? stop }));
      })();`,
      { timeout: 40_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ first: 'ENOSPC', stop: { kind: 'stopped', signal: 'SIGSTOP', signo: 19 } });
  });
});

