'use strict';
// TURN credentials expire: the call helper must not keep using the ones it fetched first.
// The server mints coturn credentials (username `<expiry unix time>:<attendee id>`) with a
// lifetime of a few seconds; coturn itself need not run, only what the SDK hands to its
// RTCPeerConnections is checked. Run: `cd tests/e2e && node --test ice.test.js`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { gather, withSdkPages } = require('./sdk-pages');

const TURN_TTL_SECS = 4;

/** The TURN username of the page's connection to `peerId`, and when that connection was made. */
async function turnUser(page, peerId) {
  return page.evaluate((id) => {
    const pc = window.call.peers.get(id)?.pc;
    if (!pc) return null;
    const turn = pc.getConfiguration().iceServers.find((s) => s.username);
    return { username: turn?.username ?? null, createdAt: pc.__createdAt };
  }, peerId);
}

const expiry = (username) => Number(username.split(':')[0]);

async function startCall(page) {
  await page.evaluate(async () => {
    window.call = sb.call();
    await window.call.ready;
  });
}

describe('ICE servers of a call', { concurrency: false }, () => {
  const env = h.serverAndBrowser({
    config: { ice: { provider: 'coturn', turn_urls: ['turn:127.0.0.1:9?transport=udp'], turn_ttl_secs: TURN_TTL_SECS } },
    env: { TURN_SECRET: 'e2e-turn-secret' },
  });

  it('gives connections fresh TURN credentials once the first ones expire', { timeout: 60_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const [ada, bob, cleo] = [await open('ada'), await open('bob'), await open('cleo')];
      const [adaId, bobId] = await gather([ada, bob]);
      await startCall(ada);
      await startCall(bob);

      const first = await h.eventually(() => turnUser(ada, bobId), (u) => u?.username, {
        message: "Ada's connection to Bob",
      });
      assert.match(first.username, new RegExp(`^\\d+:${adaId}$`), 'coturn credentials for Ada');

      // Before they expire, the existing connection gets new ones (for its ICE restarts).
      const renewed = await h.eventually(
        () => turnUser(ada, bobId),
        (u) => u?.username && expiry(u.username) > expiry(first.username),
        { timeout: TURN_TTL_SECS * 2000, message: "Ada's connection to Bob to get new credentials" },
      );
      t.diagnostic(`first ${first.username}, then ${renewed.username}`);

      // Once the first credentials are past their expiry, a newcomer's connection...
      await h.eventually(
        () => Date.now() / 1000,
        (now) => now > expiry(first.username),
        { timeout: TURN_TTL_SECS * 2000, message: 'the first credentials to expire' },
      );
      const invite = await ada.evaluate(() => sb.workspace.invite);
      const cleoId = await cleo.evaluate(async (inv) => (await sb.attend({ invite: inv, name: 'Cleo' })).attendee.id, invite);
      await startCall(cleo);

      // ...is made with credentials that were valid when it was made.
      const fresh = await h.eventually(() => turnUser(ada, cleoId), (u) => u?.username, {
        message: "Ada's connection to Cleo",
      });
      t.diagnostic(`Ada's connection to Cleo, made at ${fresh.createdAt}, uses ${fresh.username}`);
      assert.notEqual(fresh.username, first.username, 'not the first, expired, credentials');
      assert.ok(expiry(fresh.username) * 1000 > fresh.createdAt, 'credentials still valid when the connection was made');
    });
  });
});
