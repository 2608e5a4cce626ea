'use strict';
// A node drained under a live call (`POST /admin/api/drain`, PROTOCOL.md: close 1012,
// reconnect and re-attend), as behind a load balancer: the next server comes up at the
// same address with the same data directory and secrets. Media never passes through the
// server, so the call's video must not stop: the demo app's pages reconnect and re-attend
// on their own while their RTCPeerConnection stays `connected` and keeps decoding frames.
// Run: `cd tests/e2e && node --test drain.test.js`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { freePort } = require('../free-port');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const ADMIN_TOKEN = 'e2e-admin-token-drain-3b8e51';
const EXIT_TIMEOUT = 15_000; // the drained server stops once its sockets are gone
const RECONNECT_TIMEOUT = 30_000; // the SDK's backoff, a few attempts against the new server

/** `promise`'s value, or `otherwise` when it takes longer than `ms`. */
async function within(promise, ms, otherwise) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(otherwise), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

// Runs in every page before the app (after helpers' recordPeerConnections): every
// WebSocket in window.__sockets ({opened, closed: close code or null}), and every
// RTCPeerConnection's connectionState changes, from its start, in `pc.__states`.
function recordConnections() {
  window.__sockets = [];
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class RecordedWebSocket extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      const entry = { opened: false, closed: null };
      window.__sockets.push(entry);
      this.addEventListener('open', () => (entry.opened = true));
      this.addEventListener('close', (e) => (entry.closed = e.code));
    }
  };
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class StateRecordedPeerConnection extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      this.__states = [this.connectionState];
      this.addEventListener('connectionstatechange', () => this.__states.push(this.connectionState));
    }
  };
}

/** What a page recorded: its sockets, and its peer connections' states. */
function recorded(page) {
  return page.evaluate(() => ({
    sockets: window.__sockets.map((s) => ({ ...s })),
    pcs: (window.__pcs || []).map((pc) => ({ states: [...pc.__states], state: pc.connectionState })),
  }));
}

/** The video from `peerId` on `page`: {pc: index in window.__pcs, state, framesDecoded}. */
async function videoFrom(page, peerId) {
  const tile = (await h.tileMedia(page)).find((t) => t.id === peerId);
  assert.ok(tile && tile.pc !== null, `${page.__label} has a tile with video from ${peerId}`);
  return tile;
}

/** Waits until the same peer connection has decoded more frames from `peerId` than `seen`. */
async function framesRise(page, peerId, seen, when) {
  return h.eventually(
    () => h.tileMedia(page).then((ts) => ts.find((t) => t.id === peerId)),
    (t) => t && t.pc === seen.pc && t.state === 'connected' && t.framesDecoded > seen.framesDecoded,
    { timeout: h.MEDIA_TIMEOUT, interval: 250, message: `${page.__label} to decode more video from ${peerId} ${when}` },
  );
}

/** The page's socket at `index` was closed with 1012, and the app retries on a newer one. */
async function waitDrained(page, index) {
  await h.eventually(
    () => recorded(page).then((r) => r.sockets),
    (s) => s[index]?.closed !== null && s.length > index + 1,
    { timeout: h.UI_TIMEOUT, message: `${page.__label}'s socket to close and a reconnect attempt` },
  );
  const { sockets } = await recorded(page);
  assert.equal(sockets[index].closed, 1012, `${page.__label}'s socket closed with 1012 (draining)`);
  await h.waitForStatus(page, /reconnecting/i);
}

/** The page re-attended on a newer socket than `index`: no tile offline, no notice left. */
async function waitBack(page, index) {
  await h.eventually(
    () =>
      page.evaluate(() => ({
        sockets: window.__sockets.map((s) => ({ ...s })),
        offline: [...document.querySelectorAll('div.tile.offline')].map((t) => t.dataset.attendeeId),
        status: document.getElementById('status').textContent,
      })),
    ({ sockets, offline, status }) => {
      const last = sockets[sockets.length - 1];
      return sockets.length > index + 1 && last.opened && last.closed === null && offline.length === 0 && status === '';
    },
    { timeout: RECONNECT_TIMEOUT, interval: 250, message: `${page.__label} back in the call, everyone online` },
  );
}

/** The admin API of `url`: `GET path`, or `POST` with `method`. */
async function admin(url, apiPath, method = 'GET') {
  const res = await fetch(`${url}/admin/api/${apiPath}`, { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  return { status: res.status, body: await res.json() };
}

/** The workspace id an invite link names (its token's `wid` claim). */
function workspaceOf(link) {
  const token = new URL(link).searchParams.get('invite');
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).wid;
}

describe('draining a node under a live call', { concurrency: false }, () => {
  let browser;
  let dataDir;
  const servers = [];

  // The same port, data directory and secrets for every server of the test.
  async function startNode(port) {
    const server = await h.startServer({
      config: { server: { port }, storage: { backend: 'sled', path: dataDir } },
      env: { ADMIN_TOKEN },
    });
    servers.push(server);
    return server;
  }

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-drain-'));
    browser = await h.launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    for (const server of servers) await server.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('moves the call to the next server without its video stopping', { timeout: 180_000 }, async (t) => {
    const port = await freePort();
    const first = await startNode(port);
    const makePage = async (label) => {
      const page = await h.openPage(browser, first.url, label);
      await page.context().addInitScript(recordConnections);
      return page;
    };
    await h.withPages(t, makePage, async (open) => {
      const [ada, bob] = [await open('ada'), await open('bob')];
      const invite = await h.createWorkspace(ada, { name: 'Drain', attendeeName: 'Ada' });
      await h.joinWorkspace(bob, invite, { name: 'Bob' });
      const ids = await h.waitForTiles(ada, ['Ada', 'Bob']);
      assert.deepEqual(await h.waitForTiles(bob, ['Ada', 'Bob']), ids, 'Bob shows the same attendees');
      await Promise.all([h.waitForMediaFrom(ada, [ids.Bob]), h.waitForMediaFrom(bob, [ids.Ada])]);

      const sides = [
        { page: ada, peer: ids.Bob },
        { page: bob, peer: ids.Ada },
      ];
      for (const side of sides) {
        side.video = await videoFrom(side.page, side.peer);
        side.before = await recorded(side.page);
        side.socket = side.before.sockets.length - 1; // the socket the drain will close
        assert.ok(side.before.sockets[side.socket].opened, `${side.page.__label}'s socket is open`);
      }

      const t0 = Date.now();
      const drain = await admin(first.url, 'drain', 'POST');
      assert.equal(drain.status, 202, 'the drain is accepted');
      assert.deepEqual(drain.body, { draining: true });

      await Promise.all(sides.map((s) => waitDrained(s.page, s.socket)));
      const exit = await within(first.exited, EXIT_TIMEOUT, 'still running');
      assert.deepEqual(exit, { code: 0, signal: null }, 'the drained server exits 0 by itself');
      t.diagnostic(`the drained server exited after ${Date.now() - t0} ms`);

      // No server at all now: the video goes on.
      for (const side of sides) side.video = await framesRise(side.page, side.peer, side.video, 'with no server up');

      const second = await startNode(port);
      assert.equal(second.url, first.url, 'the new server is at the same address');
      await Promise.all(sides.map((s) => waitBack(s.page, s.socket)));
      t.diagnostic(`both pages re-attended ${Date.now() - t0} ms after the drain`);

      const wid = workspaceOf(invite);
      const inspected = await admin(second.url, `workspaces/${wid}`);
      assert.equal(inspected.status, 200, 'the new server has the workspace (sled, same data directory)');
      const online = Object.fromEntries(inspected.body.members.map((m) => [m.id, m.online]));
      assert.deepEqual(online, { [ids.Ada]: true, [ids.Bob]: true }, 'both members online on the new server');

      for (const side of sides) side.video = await framesRise(side.page, side.peer, side.video, 'after the re-attend');
      await assertCallNeverDropped(sides);

      // The call still works through the new server: mute states cross both ways.
      await bob.locator('#toggle-mic').click();
      await h.waitForMic(ada, ids.Bob, 'off');
      await ada.locator('#toggle-mic').click();
      await h.waitForMic(bob, ids.Ada, 'off');
      await bob.locator('#toggle-mic').click();
      await h.waitForMic(ada, ids.Bob, 'on');
      for (const side of sides) await framesRise(side.page, side.peer, side.video, 'at the end');
      await assertCallNeverDropped(sides);
    });
  });

  /**
   * Each side's video still comes from the peer connection it came from before the drain,
   * which never left `connected` once it got there, and no other peer connection was made.
   */
  async function assertCallNeverDropped(sides) {
    for (const { page, peer, video, before } of sides) {
      const now = await recorded(page);
      const label = page.__label;
      assert.equal(now.pcs.length, before.pcs.length, `${label} made no new RTCPeerConnection`);
      const { states, state } = now.pcs[video.pc];
      const since = states.slice(states.indexOf('connected'));
      assert.deepEqual(since, ['connected'], `${label}'s connection to ${peer} never left 'connected' (${states.join(' > ')})`);
      assert.equal(state, 'connected', `${label}'s connection to ${peer} is connected (not closed)`);
      assert.equal((await videoFrom(page, peer)).pc, video.pc, `${label} shows video from the same connection`);
    }
  }
});
