'use strict';
// The server under test: Switchboard (default), built and started by ../compat/server.js
// with `[compat.entrance] enabled = true` and the caller's settings, or, with
// ENTRANCE_TARGET=oracle, the original foglet-signaling-server 1.0.3 (oracle.js) in a child
// process of its own, so that a crash of the original is seen as its exit.
//
// Both resolve to `{ url, port, stop, logs, exited, oracle }`: `logs` holds the child's
// output lines, `exited` is null while it runs, else {code, signal}.

const { spawn } = require('node:child_process');
const path = require('node:path');
const { startServer } = require('../compat/server.js');

const TARGET = process.env.ENTRANCE_TARGET === 'oracle' ? 'oracle' : 'switchboard';
const ORACLE = TARGET === 'oracle';
const START_TIMEOUT = 30_000;

/**
 * Starts the selected target. `config` adds Switchboard settings ({section: {key: value}});
 * the oracle has no settings and ignores it.
 */
async function startTarget({ config = {} } = {}) {
  if (ORACLE) return startOracle();
  const entrance = { enabled: true, ...(config['compat.entrance'] || {}) };
  const server = await startServer({ config: { ...config, 'compat.entrance': entrance } });
  server.oracle = false;
  return server;
}

/** Runs oracle.js; resolves once it prints `listening on http://127.0.0.1:PORT`. */
async function startOracle() {
  const child = spawn(process.execPath, [path.join(__dirname, 'oracle.js')], {
    cwd: __dirname,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const handle = { logs, exited: null, oracle: true };
  handle.exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      handle.exited = { code, signal };
      resolve(handle.exited);
    });
  });
  try {
    handle.url = await listeningUrl(child, logs);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw err;
  }
  handle.port = Number(new URL(handle.url).port);
  handle.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  };
  return handle;
}

function listeningUrl(child, logs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the oracle did not print its address within ${START_TIMEOUT} ms:\n${logs.join('\n')}`));
    }, START_TIMEOUT);
    const onLine = (line) => {
      logs.push(line);
      const m = line.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    for (const stream of [child.stdout, child.stderr]) readLines(stream, onLine);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the oracle exited (code ${code}, signal ${signal}) before listening:\n${logs.join('\n')}`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function readLines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

module.exports = { startTarget, TARGET, ORACLE };
