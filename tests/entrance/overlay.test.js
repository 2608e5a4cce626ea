'use strict';
// COMPAT.md 1b with the real client: foglet-core 5.1.2's signaling driving spray-wrtc 2.0.11
// over @roamhq/wrtc, as a browser application would, with only the signaling server's
// address changed. A first peer enters the overlay alone; a second and a third enter it
// through the server (joinRoom, offers as `new`, answers as `accept`, then `connected`),
// their WebRTC data channels open on both ends, and a broadcast sent over the overlay
// reaches the others.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const wrtc = require('@roamhq/wrtc');
const { Foglet } = require('foglet-core');
const { startTarget } = require('./target');
const { unique } = require('./peer');

const STEP_TIMEOUT = 30_000; // failure bound for one peer's entrance (WebRTC on loopback)

let server;
const room = unique('overlay');
const peers = [];

/** A foglet on a spray-wrtc overlay whose signaling server is the target, in `room`. */
function foglet(name) {
  const f = new Foglet({
    id: unique(name),
    rps: {
      type: 'spray-wrtc',
      options: {
        protocol: 'switchboard-entrance',
        // Loopback needs no STUN server; wrtc is the RTCPeerConnection of Node.
        webrtc: { trickle: true, config: { iceServers: [] }, wrtc },
        timeout: STEP_TIMEOUT, // spray's bound on a join
        // neighborhood-wrtc's bound on one channel's establishment (its default); its
        // timers cannot be cancelled, so the test process ends this long after the last one.
        pendingTimeout: 10_000,
        delta: 10 * 60 * 1000, // no shuffle during the test
        // Spray's own a = 1, b = 0 instead of foglet's b = 5: the arcs b adds are made over
        // the overlay itself (n2n bridges), never through the signaling server, and a dozen
        // extra WebRTC channels per join only slow the test down on two cores.
        a: 1,
        b: 0,
        signaling: { address: server.url, room },
      },
    },
  });
  f.name = name;
  f.opened = []; // every outgoing arc that opened, by the remote's inview id
  f.openWaiters = [];
  f.received = [];
  f.receiveWaiters = [];
  f.overlay().network.rps.on('open', (peerId) => {
    f.opened.push(peerId);
    for (const w of f.openWaiters.splice(0)) w();
  });
  f.onBroadcast((from, message) => {
    f.received.push({ from, message });
    for (const w of f.receiveWaiters.splice(0)) w();
  });
  peers.push(f);
  return f;
}

/** The id the overlay knows a foglet's incoming arcs by (what an `open` event names). */
const inview = (f) => `${f.id}-I`;

/** Resolves once `f` has an open data channel to one of `targets` (to which one). */
function opened(f, targets) {
  return bounded(`${f.name} opened no channel to ${targets.map((t) => t.name).join(' or ')}`, (resolve) => {
    const check = () => {
      const hit = targets.find((t) => f.opened.includes(inview(t)));
      if (hit) resolve(hit);
      else f.openWaiters.push(check);
    };
    check();
  });
}

/** Resolves once one of `fs` has an open data channel to `target` (to which one). */
function openedTo(fs, target) {
  return bounded(`none of ${fs.map((f) => f.name).join(', ')} opened a channel to ${target.name}`, (resolve) => {
    const check = () => {
      const hit = fs.find((f) => f.opened.includes(inview(target)));
      if (hit) resolve(hit);
      else for (const f of fs) f.openWaiters.push(check);
    };
    check();
  });
}

/** Resolves once `f` has received the broadcast `message`. */
function receives(f, message) {
  return bounded(`${f.name} did not receive ${JSON.stringify(message)}`, (resolve) => {
    const check = () => {
      const got = f.received.find((r) => r.message === message);
      if (got) resolve(got);
      else f.receiveWaiters.push(check);
    };
    check();
  });
}

function bounded(what, body) {
  let timer;
  return Promise.race([
    new Promise(body),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${STEP_TIMEOUT} ms\n${server.logs.slice(-40).join('\n')}`)), STEP_TIMEOUT);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** foglet.share() then foglet.connection(), the entrance a foglet application makes. */
async function enter(f) {
  f.share();
  return bounded(`${f.name} did not enter the overlay`, (resolve, reject) => f.connection().then(resolve, reject));
}

before(async () => {
  server = await startTarget();
});

after(async () => {
  for (const f of peers) {
    f.unshare();
    f.overlay().network.rps.leave(0);
  }
  if (server) await server.stop();
});

let a, b, c;

test('the first peer enters the overlay alone', async () => {
  a = foglet('a');
  assert.equal(await enter(a), true);
  assert.deepEqual(a.getNeighbours(), []);
  assert.equal(server.exited, null);
});

test('a second peer enters through the server: both ends open a WebRTC channel and a broadcast crosses it', async () => {
  b = foglet('b');
  const bOpens = opened(b, [a]);
  const aOpens = opened(a, [b]);
  assert.equal(await enter(b), true);
  await bOpens;
  await aOpens;
  assert.deepEqual(b.getNeighbours(), [inview(a)]);

  const hello = unique('hello from b');
  b.sendBroadcast(hello);
  const got = await receives(a, hello);
  assert.equal(got.from, `${b.id}-O`);
});

test('a third peer enters through one of the two: channels open both ways and its broadcast reaches both', async () => {
  c = foglet('c');
  const cOpens = opened(c, [a, b]);
  // Spray has the contact's neighbours (or the contact itself, in a two-peer overlay) open
  // arcs to the newcomer.
  const toC = openedTo([a, b], c);
  assert.equal(await enter(c), true);
  const contact = await cOpens;
  const from = await toC;
  assert.ok([a, b].includes(contact) && [a, b].includes(from));

  const hello = unique('hello from c');
  c.sendBroadcast(hello);
  await receives(a, hello);
  await receives(b, hello);
  assert.equal(server.exited, null);
});
