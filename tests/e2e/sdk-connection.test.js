'use strict';
// The SDK's connection when the server does not answer: a listener that accepts TCP
// connections and never answers the WebSocket handshake (a hung server, a proxy that
// swallows upgrades) must not keep a request waiting for as long as the browser does.
// Run: `cd tests/e2e && node --test sdk-connection.test.js`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./helpers');
const { withSdkPages } = require('./sdk-pages');

/** A loopback listener that takes connections and never says a word; resolves to it. */
function silentListener() {
  const sockets = new Set();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    listener.listen(0, '127.0.0.1', () =>
      resolve({
        url: `ws://127.0.0.1:${listener.address().port}/ws`,
        accepted: () => sockets.size,
        close: () => {
          sockets.forEach((s) => s.destroy());
          listener.close();
        },
      }),
    );
  });
}

describe('the SDK connection', { concurrency: false }, () => {
  let silent;

  const env = h.serverAndBrowser();
  before(async () => {
    silent = await silentListener();
  });
  after(() => silent?.close());

  it('gives up on a handshake that is never answered after the request timeout', { timeout: 30_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const page = await open('page');
      const outcome = await page.evaluate(async (url) => {
        const sb = new SB.Switchboard(url, { timeout: 1500 });
        try {
          await sb.create({ name: 'Nobody answers' });
          return { resolved: true };
        } catch (err) {
          return { code: err.code, message: err.message };
        }
      }, silent.url);
      assert.equal(outcome.code, 'timeout', JSON.stringify(outcome));
      assert.match(outcome.message, /within 1500 ms/);
      assert.ok(silent.accepted() >= 1, 'the page did reach the listener');
    });
  });
});
