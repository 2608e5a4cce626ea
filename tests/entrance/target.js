'use strict';
// The server under test: Switchboard (default), built and started by ../compat/server.js
// with `[compat.entrance] enabled = true` and the caller's settings, or, with
// ENTRANCE_TARGET=oracle, the original foglet-signaling-server 1.0.3 (oracle.js) in a child
// process of its own, so that a crash of the original is seen as its exit.
//
// Both resolve to `{ url, port, stop, logs, exited, oracle }`: `logs` holds the child's
// output lines, `exited` is null while it runs, else {code, signal}.

const path = require('node:path');
const { startServer, startScript } = require('../compat/server.js');

const TARGET = process.env.ENTRANCE_TARGET === 'oracle' ? 'oracle' : 'switchboard';
const ORACLE = TARGET === 'oracle';

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
  const handle = await startScript(path.join(__dirname, 'oracle.js'));
  handle.oracle = true;
  return handle;
}

module.exports = { startTarget, TARGET, ORACLE };
