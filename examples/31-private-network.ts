// Servers in private network namespaces: each has only a loopback interface of its own, so two
// servers under test can listen on the same port at once, and nothing outside can reach them.
// With 'user' too, no privilege is needed.
import { once } from 'node:events';
import * as net from 'node:net';
import { spawn, type ChildProcess } from 'posix-process';

const PORT = 47123;

// The server answers on PORT, then checks that it can reach itself on its own loopback.
const server = `
  const net = require('net');
  net.createServer((socket) => socket.end('hello from pid ' + process.pid)).listen(${PORT}, '127.0.0.1', () => {
    net.connect(${PORT}, '127.0.0.1').on('data', (data) => console.log('inside: ' + data));
  });`;

async function start(): Promise<ChildProcess> {
  const child = await spawn(process.execPath, ['-e', server], { namespaces: ['user', 'net'], stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string];
  console.log(line.trim().replace(/\d+$/, 'N'));
  return child;
}

async function main(): Promise<void> {
  // Two servers on the same port: no clash, each in its own namespace.
  await using first = await start();
  await using second = await start();
  const outcome = await new Promise<string>((resolve) => {
    net.connect(PORT, '127.0.0.1')
      .on('data', () => resolve('reached a server'))
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
  console.log(`outside: connect to port ${PORT}: ${outcome}`);
  for (const child of [first, second]) child.kill('SIGKILL');
  console.log(`stopped: ${(await Promise.all([first.wait(), second.wait()])).map((result) => result.status.kind).join(', ')}`);
}

void main();
