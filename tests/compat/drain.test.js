'use strict';
// A drained node (docs/operations.md) tells Socket.IO clients to reconnect: an Engine.IO
// close, never a Socket.IO disconnect packet, after which socket.io-client would not try
// again. Driven with the real socket.io-client (2.0.4 and the latest 2.x), on polling and on
// the WebSocket upgrade. Switchboard only: skipped with COMPAT_TARGET=oracle.

const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./server');
const { TARGET } = require('./helpers');
const { VARIANTS, EVENT_TIMEOUT } = require('./socketio-helpers');

const skip = TARGET === 'oracle' ? 'Switchboard only' : false;
const ADMIN_TOKEN = 'compat-admin-token-0123456789';

/** Resolves with the first emission of `event` on `emitter`, or fails after the timeout. */
function once(emitter, event, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), EVENT_TIMEOUT);
    emitter.once(event, (value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe('a drain and socket.io-client', { skip }, () => {
  for (const { version, io } of VARIANTS) {
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      test(`${version} over ${transports.join(' then ')}: disconnected by the transport, and reconnecting`, async () => {
        const server = await startServer({ env: { ADMIN_TOKEN } });
        const socket = io.connect(server.url, {
          forceNew: true,
          transports,
          reconnectionDelay: 50,
          reconnectionDelayMax: 100,
        });
        try {
          await once(socket, 'connect', 'the connection');
          if (transports.length > 1 && socket.io.engine.transport.name !== 'websocket') {
            await once(socket.io.engine, 'upgrade', 'the upgrade');
          }
          const disconnected = once(socket, 'disconnect', 'the disconnect');
          const retrying = once(socket, 'reconnect_attempt', 'a reconnect attempt');
          const drained = await fetch(`${server.url}/admin/api/drain`, {
            method: 'POST',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          });
          assert.equal(drained.status, 202);
          assert.equal(await disconnected, 'transport close', 'not "io server disconnect"');
          await retrying;
          assert.deepEqual(await server.exit, { code: 0, signal: null }, 'the drained server exits by itself');
        } finally {
          socket.close();
          await server.stop();
        }
      });
    }
  }
});
