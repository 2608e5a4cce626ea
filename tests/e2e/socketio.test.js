'use strict';
// The Socket.IO endpoint (COMPAT.md 1a) in headless Chromium: pages of another origin that
// load socket.io-client 2.0.4 and make webRTCWorkspaces' exchanges (socketio-page/) call
// each other, and share a workspace with the demo app (native protocol, public/).
// Run: `cd tests/e2e && node --test socketio.test.js`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const h = require('./helpers');

const PAGE_DIR = path.join(__dirname, 'socketio-page');
const CLIENT_VERSION = '2.0.4'; // what webRTCWorkspaces' page loads
const STUN = ['stun:127.0.0.1:9']; // server.js's ice.stun_urls
const PIN = '4711';
const ID = /^_[A-Za-z0-9]{10}$/;

// ---------------------------------------------------------------------------------------
// The page's own origin: a small static server on another port than Switchboard's.

function startPageServer() {
  const files = {
    '/': [path.join(PAGE_DIR, 'index.html'), 'text/html; charset=utf-8'],
    '/page.js': [path.join(PAGE_DIR, 'page.js'), 'text/javascript; charset=utf-8'],
    '/socket.io.js': [require.resolve('socket.io-client/dist/socket.io.js'), 'text/javascript; charset=utf-8'],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://page').pathname];
    if (!file || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
    fs.createReadStream(file[0]).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({ url, stop: () => new Promise((done) => server.close(done)) });
    });
  });
}

// ---------------------------------------------------------------------------------------
// Waiting, bounded

/** `promise`, or a failure naming `what` after `ms`. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `fn(arg)` in the Socket.IO page (it sees `window.sio`), bounded by `ms`. */
function inPage(page, what, fn, arg, ms = h.UI_TIMEOUT) {
  return within(page.evaluate(fn, arg), ms, `${page.__label}: ${what}`);
}

/** The Socket.IO page's first event `name` (already received or to come) whose data passes `match(data, arg)`. */
function event(page, name, match = '() => true', arg = null) {
  return inPage(
    page,
    `event ${name}`,
    ({ name: n, match: m, arg: a }) => {
      const test = new Function(`return (${m})`)();
      return window.sio.waitFor(n, (d) => test(d, a));
    },
    { name, match, arg },
  ).then((e) => e.data);
}

/** Every event the Socket.IO page received, by name. */
async function received(page) {
  return page.evaluate(() => window.sio.received.map((e) => ({ name: e.name, data: e.data })));
}

// The demo app's own frames (native protocol), parsed, by direction ('<' received, '>'
// sent), and awaited as they pass.
function recordNativeFrames(page) {
  page.__frames = { '<': [], '>': [] };
  page.__frameWaiters = new Set();
  const note = (dir) => ({ payload }) => {
    if (typeof payload !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(payload);
    } catch {
      return;
    }
    page.__frames[dir].push(msg);
    for (const waiter of [...page.__frameWaiters]) {
      if (waiter.dir === dir && waiter.test(msg)) {
        page.__frameWaiters.delete(waiter);
        waiter.resolve(msg);
      }
    }
  };
  page.on('websocket', (ws) => {
    ws.on('framereceived', note('<'));
    ws.on('framesent', note('>'));
  });
}

/** The first native frame (received by default) that passes `test`, already seen or to come. */
function nativeFrame(page, what, test, dir = '<') {
  const seen = page.__frames[dir].find(test);
  if (seen) return Promise.resolve(seen);
  const passed = new Promise((resolve) => page.__frameWaiters.add({ dir, test, resolve }));
  return within(passed, h.UI_TIMEOUT, `${page.__label} to ${dir === '<' ? 'receive' : 'send'} ${what}`);
}

/** The claims of a JWT (the invite token), unverified. */
function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** The parts of an invite token that name what it admits to (not when it was issued). */
function admits(token) {
  const { typ, wid, ver } = claims(token);
  return { typ, wid, ver };
}

/** Media from `peerId` reaches the Socket.IO page: connected, frames presented and decoded, bytes growing. */
async function sioMediaFrom(page, peerId) {
  const media = await inPage(page, `media from ${peerId}`, (id) => window.sio.mediaFrom(id), peerId, h.MEDIA_TIMEOUT);
  assert.equal(media.state, 'connected', `${page.__label}'s connection with ${peerId}`);
  assert.ok(media.first.framesDecoded > 0, `${page.__label} decodes video from ${peerId}: ${JSON.stringify(media)}`);
  assert.ok(media.second.framesDecoded > media.first.framesDecoded, `${page.__label}'s frames from ${peerId} keep coming`);
  assert.ok(media.second.videoBytes > media.first.videoBytes, `${page.__label}'s video bytes from ${peerId} grow`);
  assert.ok(media.second.audioBytes > 0, `${page.__label} receives audio from ${peerId}`);
  assert.ok(media.width > 0 && media.height > 0, `${page.__label}'s video from ${peerId} has a picture`);
  return media;
}

/** No `alert` but the expected ones, no failed signal handling, no disconnect. */
async function assertQuiet(page, expectedAlerts = 0) {
  const events = await received(page);
  const alerts = events.filter((e) => e.name === 'alert');
  assert.equal(alerts.length, expectedAlerts, `${page.__label}'s alerts: ${JSON.stringify(alerts)}`);
  const trouble = events.filter((e) => e.name === '$error' || e.name === '$disconnect');
  assert.deepEqual(trouble, [], `${page.__label} handled every signal and stayed connected`);
}

// ---------------------------------------------------------------------------------------

describe('Socket.IO endpoint with webRTCWorkspaces-style pages', { concurrency: false }, () => {
  let server;
  let pageServer;
  let browser;

  before(async () => {
    const version = require('socket.io-client/package.json').version;
    assert.equal(version, CLIENT_VERSION, 'the pages load the socket.io-client webRTCWorkspaces uses');
    server = await h.startServer();
    pageServer = await startPageServer();
    assert.notEqual(new URL(pageServer.url).origin, new URL(server.url).origin, 'the page has its own origin');
    browser = await h.launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (pageServer) await pageServer.stop();
    if (server) await server.stop();
  });

  // A Socket.IO page (label `sio-*`), connected; every polling response it got from
  // Switchboard is kept in `page.__polls`.
  async function openSioPage(label) {
    const page = await h.openPage(browser, pageServer.url, label);
    const switchboard = new URL(server.url).origin;
    page.__polls = [];
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (url.origin !== switchboard || !url.pathname.startsWith('/socket.io/')) return;
      if (url.searchParams.get('transport') !== 'polling') return;
      page.__polls.push({ method: res.request().method(), status: res.status(), headers: res.headers() });
    });
    await page.goto(`/?server=${encodeURIComponent(server.url)}`);
    await inPage(page, 'the Socket.IO connect', () => window.sio.waitFor('$connect'));
    return page;
  }

  // A demo app page (any other label), its native frames recorded.
  async function openDemoPage(label) {
    const page = await h.openPage(browser, server.url, label);
    recordNativeFrames(page);
    return page;
  }

  async function scenario(t, body) {
    try {
      await h.withPages(t, (label) => (label.startsWith('sio-') ? openSioPage(label) : openDemoPage(label)), body);
    } catch (err) {
      console.error('# server log (last 40 lines):');
      for (const line of server.logs.slice(-40)) console.error(`#   ${line}`);
      throw err;
    }
  }

  it('connects two pages of another origin over polling, upgrades, and makes a call with ring, answer and candidates', { timeout: 45_000 }, async (t) => {
    await scenario(t, async (open) => {
      const ada = await open('sio-ada');
      const bob = await open('sio-bob');
      const pageOrigin = new URL(pageServer.url).origin;

      for (const page of [ada, bob]) {
        // `iceservers {}` at connect, before any membership: the STUN servers only.
        assert.deepEqual(await event(page, 'iceservers'), [{ urls: STUN }], `${page.__label}'s first iceservers`);
        // Long-polling first, then the upgrade to WebSocket.
        assert.equal(await event(page, '$upgrade'), 'websocket', `${page.__label} upgrades to WebSocket`);
        const transports = await page.evaluate(() => window.sio.transports);
        assert.equal(transports.atOpen, 'polling', `${page.__label} opened with long-polling`);
        // CORS with credentials: the page's origin reflected, never `*`.
        assert.ok(page.__polls.some((p) => p.method === 'GET'), `${page.__label} polled`);
        t.diagnostic(`${page.__label}: polling responses ${page.__polls.map((p) => p.method).join(' ')}, then WebSocket`);
        for (const poll of page.__polls) {
          assert.equal(poll.status, 200, `${page.__label}'s ${poll.method} poll`);
          assert.equal(poll.headers['access-control-allow-origin'], pageOrigin, `${poll.method} poll: allowed origin`);
          assert.equal(poll.headers['access-control-allow-credentials'], 'true', `${poll.method} poll: credentials`);
        }
      }

      // Ada creates a PIN-protected workspace.
      const before = Date.now();
      const made = await inPage(ada, 'create', (pin) => window.sio.create({ name: 'Socket.IO call', pin, attendeeName: 'Ada' }), PIN);
      assert.ok(made.granted, `create granted: ${JSON.stringify(made)}`);
      const created = made.granted;
      const adaId = created.attendee.id;
      assert.match(adaId, ID);
      assert.deepEqual(created.attendee, { id: adaId, name: 'Ada', avatar: '' });
      const { workspace } = created;
      assert.match(workspace.id, ID);
      assert.deepEqual(Object.keys(workspace).sort(), ['avatar', 'created', 'id', 'name', 'owner', 'token']);
      assert.equal(workspace.name, 'Socket.IO call');
      assert.equal(workspace.avatar, '');
      assert.equal(workspace.owner, adaId);
      assert.ok(workspace.created >= before - 5_000 && workspace.created <= Date.now() + 5_000, `created in ms: ${workspace.created}`);
      assert.ok(typeof workspace.token === 'string' && workspace.token.length > 0, 'the invite token');
      assert.ok(typeof created.accessToken === 'string' && created.accessToken.length > 0, 'the session token');
      assert.equal(created.nonce, made.sent.nonce, 'the nonce comes back');
      // The member's list is pushed right after the grant, and the call uses it.
      assert.equal(made.iceIndex, made.grantIndex + 1, 'iceservers right after created');
      assert.ok(Array.isArray(made.iceServers) && made.iceServers.length > 0 && made.iceServers.every((s) => s.urls));

      // Bob attends with the invite token: a wrong PIN first, then the right one.
      const wrong = await inPage(bob, 'attend, wrong PIN', (token) => window.sio.attend({ token, pin: '0000', name: 'Bob' }), workspace.token);
      assert.equal(wrong.refused, 'alert', `a wrong PIN: ${JSON.stringify(wrong)}`);
      assert.equal(typeof wrong.data, 'string', 'an alert is a bare string');
      const joined = await inPage(bob, 'attend', ({ token, pin }) => window.sio.attend({ token, pin, name: 'Bob' }), {
        token: workspace.token,
        pin: PIN,
      });
      assert.ok(joined.granted, `attend granted: ${JSON.stringify(joined)}`);
      const granted = joined.granted;
      const bobId = granted.attendee.id;
      assert.match(bobId, ID);
      assert.notEqual(bobId, adaId);
      assert.deepEqual(granted.attendee, { id: bobId, name: 'Bob', avatar: '' });
      // The same workspace; its invite is handed out anew (a token issued this second: the
      // same workspace and invite version).
      const { token: grantedInvite, ...grantedWorkspace } = granted.workspace;
      const { token: createdInvite, ...createdWorkspace } = workspace;
      assert.deepEqual(grantedWorkspace, { ...createdWorkspace, call: null });
      assert.deepEqual(admits(grantedInvite), admits(createdInvite), 'attendance-granted: an invite to the same workspace');
      assert.deepEqual(admits(createdInvite), { typ: 'invite', wid: workspace.id, ver: 0 });
      assert.deepEqual(granted.attendees, { [adaId]: created.attendee, [bobId]: granted.attendee });
      assert.ok(typeof granted.accessToken === 'string' && granted.accessToken !== created.accessToken);
      assert.equal(granted.nonce, joined.sent.nonce, 'the nonce comes back');
      assert.equal(joined.iceIndex, joined.grantIndex + 1, 'iceservers right after attendance-granted');
      assert.deepEqual(await event(ada, 'attend', '(d, id) => d.id === id', bobId), granted.attendee, 'Ada sees Bob arrive');

      // Ada rings Bob with an offer; Bob's page answers; both trickle candidates.
      const ring = await inPage(ada, 'ring', (id) => window.sio.call(id, { via: ['ring'] }), bobId);
      const rang = await event(bob, 'ring', '(d, id) => d.caller.id === id', adaId);
      assert.deepEqual(rang.caller, created.attendee, 'ring: the caller');
      assert.deepEqual(rang.call, { id: ring.call }, 'ring: the call');
      assert.deepEqual(rang.offer, ring.offer, 'ring: the offer, untouched');
      assert.equal(rang.nonce, ring.nonce, "ring: the caller's nonce");
      assert.equal(rang.workspace.id, workspace.id, 'ring: the workspace');

      const answered = await event(ada, 'answer', '(d, id) => d.callee.id === id', bobId);
      const bobSide = await bob.evaluate((id) => window.sio.peerInfo(id), adaId);
      assert.deepEqual(answered.callee, granted.attendee, 'answer: the callee');
      assert.deepEqual(answered.call, { id: ring.call }, 'answer: the call');
      assert.deepEqual(answered.answer, bobSide.answer, 'answer: the answer, untouched');
      assert.equal(answered.nonce, ring.nonce, 'answer: the nonce Bob echoed');

      for (const [page, self, other] of [
        [ada, adaId, bobId],
        [bob, bobId, adaId],
      ]) {
        const candidate = await event(page, 'icecandidate', '(d, id) => d.broadcaster.id === id', other);
        assert.deepEqual(candidate.attendee, { id: self }, `${page.__label}'s candidates are addressed to it`);
        assert.equal(typeof candidate.candidate.candidate, 'string', `${page.__label} gets RTCIceCandidate fields`);
      }

      // Media flows both ways, on connections made with the list pushed after the grant.
      const flows = await Promise.all([sioMediaFrom(ada, bobId), sioMediaFrom(bob, adaId)]);
      t.diagnostic(`inbound at Ada, then Bob: ${JSON.stringify(flows.map((f) => f.second))}`);
      const adaSide = await ada.evaluate((id) => window.sio.peerInfo(id), bobId);
      const urls = (list) => list.map((s) => [s.urls].flat());
      assert.deepEqual(urls(adaSide.iceServers), urls(made.iceServers), "Ada's connection uses her iceservers");
      assert.deepEqual(urls(bobSide.iceServers), urls(joined.iceServers), "Bob's connection uses his iceservers");

      await assertQuiet(ada);
      await assertQuiet(bob, 1); // the wrong PIN
    });
  });

  it('puts the demo app and Socket.IO pages in one workspace, with calls both ways', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const ada = await open('ada');
      const bob = await open('sio-bob');
      const cleo = await open('cleo');

      // Ada creates the workspace in the demo app; Bob attends with the token of its invite link.
      const invite = await h.createWorkspace(ada, { name: 'Mixed', attendeeName: 'Ada' });
      await h.waitInCall(ada);
      // Ada's call runs (it publishes her mic and camera once it has offered to the members
      // online, none yet): she waits for newcomers' offers, as members already in a call do.
      await nativeFrame(ada, 'her state', (m) => m.event === 'state', '>');
      const token = new URL(invite).searchParams.get('invite');
      const joined = await inPage(bob, 'attend', (tok) => window.sio.attend({ token: tok, name: 'Bob' }), token);
      assert.ok(joined.granted, `attend granted: ${JSON.stringify(joined)}`);
      const granted = joined.granted;

      const ids = await h.waitForTiles(ada, ['Ada', 'Bob']);
      assert.equal(granted.attendee.id, ids.Bob, "the demo app shows Bob's tile, with his id");
      assert.equal(granted.workspace.owner, ids.Ada);
      assert.equal(granted.workspace.name, 'Mixed');
      assert.deepEqual(admits(granted.workspace.token), admits(token), 'the workspace token is an invite to it');
      assert.deepEqual(Object.keys(granted.attendees).sort(), [ids.Ada, ids.Bob].sort());
      assert.deepEqual(granted.attendees[ids.Ada], { id: ids.Ada, name: 'Ada', avatar: '' });

      // Bob calls Ada: `ring`, as webRTCWorkspaces starts a call, and the same offer as a
      // `negotiation`. The SDK negotiates with `negotiation` only (perfect negotiation): it
      // receives the ring but answers the negotiation.
      const offered = await inPage(bob, 'offer to Ada', (id) => window.sio.call(id, { via: ['ring', 'negotiation'] }), ids.Ada);
      const ring = await nativeFrame(ada, "Bob's ring", (m) => m.event === 'ring' && m.data?.from === ids.Bob);
      assert.deepEqual(ring.data, { from: ids.Bob, call: offered.call, sdp: offered.offer }, 'native ring {from, call, sdp}');
      const offer = await nativeFrame(
        ada,
        "Bob's negotiation",
        (m) => m.event === 'negotiation' && m.data?.from === ids.Bob && m.data.description?.type === 'offer',
      );
      assert.deepEqual(offer.data, { from: ids.Bob, description: offered.offer }, 'native negotiation {from, description}');
      const answer = await event(bob, 'negotiation', "(d, id) => d.attendee.id === id && d.message.type === 'answer'", ids.Ada);
      assert.deepEqual(Object.keys(answer), ['attendee', 'message']);
      assert.deepEqual(answer.attendee, { id: ids.Ada });
      assert.equal(answer.message.data.type, 'answer', 'message {type, data: description}');
      assert.equal(typeof answer.message.data.sdp, 'string');
      await event(bob, 'icecandidate', '(d, id) => d.broadcaster.id === id', ids.Ada);

      // Cleo joins in the demo app after Bob: Bob sees her arrive, she sees him.
      await h.joinWorkspace(cleo, invite, { name: 'Cleo' });
      const all = await h.waitForTiles(cleo, ['Ada', 'Bob', 'Cleo']);
      assert.deepEqual(await h.waitForTiles(ada, ['Ada', 'Bob', 'Cleo']), all);
      assert.equal(all.Bob, ids.Bob);
      assert.deepEqual(await event(bob, 'attend', "(d) => d.name === 'Cleo'"), { id: all.Cleo, name: 'Cleo', avatar: '' });

      // Cleo, a newcomer, offers to every member with `negotiation`: Bob gets it wrapped
      // as webRTCWorkspaces' message, and answers with one.
      const cleoOffer = await event(bob, 'negotiation', "(d, id) => d.attendee.id === id && d.message.type === 'offer'", all.Cleo);
      assert.equal(cleoOffer.message.data.type, 'offer');
      assert.equal(typeof cleoOffer.message.data.sdp, 'string');
      const bobAnswer = await nativeFrame(
        cleo,
        "Bob's answer",
        (m) => m.event === 'negotiation' && m.data?.from === ids.Bob && m.data.description?.type === 'answer',
      );
      const bobSide = await bob.evaluate((id) => window.sio.peerInfo(id), all.Cleo);
      assert.ok(bobSide?.answer, 'Bob answered Cleo');
      assert.deepEqual(bobAnswer.data.description, bobSide.answer, 'the answer reaches Cleo unwrapped and untouched');

      // Video both ways between every pair, whichever protocol each side speaks.
      await Promise.all([
        h.waitForMediaFrom(ada, [ids.Bob, all.Cleo]),
        h.waitForMediaFrom(cleo, [ids.Ada, ids.Bob]),
        sioMediaFrom(bob, ids.Ada),
        sioMediaFrom(bob, all.Cleo),
      ]);

      // The demo app's `state {mic, cam}` reaches Bob as mic-toggle and cam-toggle.
      assert.deepEqual(await event(bob, 'mic-toggle', '(d, id) => d.attendee.id === id', all.Cleo), {
        attendee: { id: all.Cleo },
        state: true,
      });
      assert.deepEqual(await event(bob, 'cam-toggle', '(d, id) => d.attendee.id === id', all.Cleo), {
        attendee: { id: all.Cleo },
        state: true,
      });
      await assertQuiet(bob);
    });
  });

  it('shows members leaving across protocols', { timeout: 45_000 }, async (t) => {
    await scenario(t, async (open) => {
      const ada = await open('ada');
      const bob = await open('sio-bob');
      const cleo = await open('cleo');

      const invite = await h.createWorkspace(ada, { name: 'Leaving', attendeeName: 'Ada' });
      await h.waitInCall(ada);
      const token = new URL(invite).searchParams.get('invite');
      const joined = await inPage(bob, 'attend', (tok) => window.sio.attend({ token: tok, name: 'Bob' }), token);
      assert.ok(joined.granted, `attend granted: ${JSON.stringify(joined)}`);
      await h.joinWorkspace(cleo, invite, { name: 'Cleo' });
      const ids = await h.waitForTiles(ada, ['Ada', 'Bob', 'Cleo']);
      await h.waitForTiles(cleo, ['Ada', 'Bob', 'Cleo']);
      await event(bob, 'attend', "(d) => d.name === 'Cleo'");

      // Cleo leaves with the demo app's button: Bob gets `leave <Cleo>`.
      await cleo.locator('#leave').click();
      assert.deepEqual(await event(bob, 'leave', '(d, id) => d.id === id', ids.Cleo), { id: ids.Cleo, name: 'Cleo', avatar: '' });
      await h.waitForTiles(ada, ['Ada', 'Bob']);

      // Bob leaves: his tile goes from Ada's page, and his token ended with his membership.
      await inPage(bob, 'leave', () => window.sio.leave());
      await h.waitForTiles(ada, ['Ada']);
      const after = await inPage(bob, 'attendees after leaving', () => window.sio.request('attendees', ['attendees', 'alert', 'destroyed']));
      assert.equal(after.name, 'alert', `the old token is refused: ${JSON.stringify(after)}`);
      assert.equal(typeof after.data, 'string');
      await assertQuiet(bob, 1); // that refusal, and none for the leave itself
    });
  });
});
