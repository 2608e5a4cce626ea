'use strict';
// A real redis-server for the suites' cluster tests (tests/compat, tests/entrance), as
// tests/common/redis.rs starts one for the Rust tests: on a free port, persisting to a
// temporary directory with `appendonly yes` and `appendfsync always` (what
// docs/cluster.md asks of production), and `save ""`. It can be stopped (SIGTERM),
// killed (SIGKILL) and started again on the same port and files.
//
// redis-server is the Debian package (scripts/test installs it on a fresh machine).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./free-port');

const START_TIMEOUT = 10_000;
const BINARY = process.env.REDIS_SERVER || 'redis-server';

class RedisServer {
  /** Starts one on a free port and resolves once it answers PING. */
  static async start() {
    const server = new RedisServer(fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redis-')));
    let lastError;
    // A free port may be taken by another process before redis-server binds it: a start
    // that cannot listen tries another one.
    for (let attempt = 0; attempt < 5; attempt++) {
      server.port = await freePort();
      try {
        await server.launch();
        return server;
      } catch (err) {
        lastError = err;
      }
    }
    server.removeDir();
    throw lastError;
  }

  constructor(dir) {
    this.dir = dir;
    this.port = 0;
    this.child = null;
    this.logs = [];
  }

  /** `redis://127.0.0.1:PORT`. */
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Runs redis-server on this.port and this.dir; resolves once it answers PING. */
  launch() {
    const child = spawn(
      BINARY,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', this.dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.exited = exited;
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          if (this.child === child) this.child = null;
          reject(err);
        } else {
          resolve();
        }
      };
      const timer = setTimeout(() => finish(new Error(`redis-server did not start within ${START_TIMEOUT} ms:\n${this.logs.join('\n')}`)), START_TIMEOUT);
      child.once('error', (err) => finish(new Error(`could not run ${BINARY} (scripts/test installs redis-server): ${err.message}`)));
      exited.then(({ code, signal }) => finish(new Error(`redis-server exited (code ${code}, signal ${signal}) on port ${this.port}:\n${this.logs.join('\n')}`)));
      let buf = '';
      const onData = (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.logs.push(line);
          // Logged once it listens, after the append-only file is loaded.
          if (/Ready to accept connections/.test(line)) ping(this.port).then(() => finish(), finish);
        }
      };
      for (const stream of [child.stdout, child.stderr]) {
        stream.setEncoding('utf8');
        stream.on('data', onData);
      }
    });
  }

  /** Stops it as an operator would (SIGTERM, which flushes the append-only file). */
  async stop() {
    await this.signal('SIGTERM');
  }

  /** Kills it (SIGKILL). */
  async kill() {
    await this.signal('SIGKILL');
  }

  /** Starts it again on the same port and files; resolves once it answers PING. */
  async restart() {
    if (this.child) throw new Error('redis-server is still running');
    await this.launch();
  }

  /** Kills it if it runs and removes its files; for `after` / `finally`. */
  async close() {
    await this.kill();
    this.removeDir();
  }

  async signal(name) {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await child.exited;
  }

  removeDir() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves when redis on `port` answers PING with +PONG. */
function ping(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(START_TIMEOUT, () => socket.destroy(new Error('no answer to PING')));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (!reply.includes('\r\n')) return;
      socket.end();
      if (reply.startsWith('+PONG')) resolve();
      else reject(new Error(`redis answered PING with ${JSON.stringify(reply)}`));
    });
    socket.once('error', reject);
  });
}

module.exports = { RedisServer };
