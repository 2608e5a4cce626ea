'use strict';
// What tests/compat/cluster.test.js shares between its tests: the nodes' settings, Redis
// with three nodes and the round-robin proxy in front of them, a Socket.IO client that
// watches its upgrade, and the loops that wait, by answers and never by time, until one
// node knows another node's peer (docs/cluster.md: peer ids, entrance rooms and the
// bootstrap root reach the other nodes a moment after their own).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startCluster } = require('./server');
const { withTimeout } = require('./helpers');
const { RedisServer } = require('../redis-server');
const { RoundRobinProxy } = require('../round-robin-proxy');
const { EVENT_TIMEOUT, SioClient, sioServerOptions, stopServer, assertStunOnly } = require('./socketio-helpers');

const SECRET = 'clusterSecret0123';
const ROOT_PATH = `/${SECRET}/webrtc-bootstrap-root`;
const OFFLINE_TTL_SECS = 2;
// docs/cluster.md: a dead node's members are shown offline within 10 s (three heartbeats
// of 1 s here, and detection); the margin is for a loaded two-core machine.
const DEATH_NOTICE = 10_000 + 3_000;

const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\na=msid-semantic: WMS ✓\r\n' };
const ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n' };
const candidate = (n) => ({ candidate: `candidate:${n} 1 udp 2122260223 192.0.2.1 ${50000 + n} typ host`, sdpMid: '0', sdpMLineIndex: 0 });

/** Every node's settings: the Socket.IO tests' own, and every compat endpoint on. */
function clusterOptions({ workspace = {} } = {}) {
  const options = sioServerOptions({ workspace: { offline_ttl_secs: OFFLINE_TTL_SECS, ...workspace } });
  Object.assign(options.config, {
    'compat.signal_fire': { enabled: true, notify_unknown: true },
    'compat.peero': { enabled: true },
    'compat.bootstrap': { timeout_secs: 30 },
  });
  options.env.BOOTSTRAP_SECRET = SECRET;
  return options;
}

/** Redis, `n` nodes on it and the proxy in front of them; `stop()` ends all of them. */
async function startAll(n, options, name) {
  const all = { nodes: [], name };
  all.stop = async () => {
    await all.proxy?.close();
    await Promise.all(all.nodes.map((node, i) => stopServer(node, `${name}-node-${i}`)));
    await all.redis?.close();
  };
  try {
    all.redis = await RedisServer.start();
    all.nodes = await startCluster(n, all.redis.url, options);
    all.proxy = await RoundRobinProxy.start(all.nodes);
  } catch (err) {
    await all.stop();
    throw err;
  }
  return all;
}

/** The attendees map the server should answer for these Socket.IO members. */
const attendeesOf = (...members) => Object.fromEntries(members.map((m) => [m.attendee.id, m.card()]));

/** The `icecandidate` push `to` gets from `from`. */
const iceFrom = (from, to, c) => ({ name: 'icecandidate', data: { attendee: { id: to.attendee.id }, broadcaster: { id: from.attendee.id }, candidate: c } });

/**
 * Connects as SioClient.connect does (`iceservers {}` emitted at once, its STUN-only answer
 * taken), but watches the Engine.IO upgrade from the start: `upgrade` resolves to
 * 'upgraded' or 'refused: <why>' once the client's one probe has ended.
 */
async function connectWatched(url, io, label) {
  const socket = io.connect(url, { forceNew: true, reconnection: false, timeout: EVENT_TIMEOUT });
  const engine = socket.io.engine;
  const upgrade = new Promise((resolve) => {
    engine.once('upgrade', () => resolve('upgraded'));
    engine.once('upgradeError', (err) => resolve(`refused: ${err && (err.description || err.message)}`));
  });
  const client = new SioClient(socket, label);
  socket.emit('iceservers', {});
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', (err) => reject(new Error(`${label}: connect_error ${err && (err.description || err.message)}`)));
      }),
      EVENT_TIMEOUT,
      `${label} to connect`,
    );
  } catch (err) {
    socket.close();
    throw err;
  }
  assertStunOnly(await client.expect('iceservers'), `${label}: iceservers before any membership`);
  client.upgrade = withTimeout(upgrade, EVENT_TIMEOUT * 2, `${label}'s upgrade to end`);
  client.upgrade.catch(() => {}); // awaited by the test; not an unhandled rejection if it fails first
  return client;
}

/** The Engine.IO session id of a socket.io-client socket. */
const sidOf = (client) => client.socket.io.engine.id;

// --- Helpers of the peer-id protocols ---

/**
 * signal-fire: sends `frame` from `from` until `to` gets it. Each try is followed by a
 * frame `from` sends itself: an `unknown_receiver` before it means `from`'s node did not
 * know `to` yet, and the frame is sent again; none means it was delivered.
 */
async function sfUntilDelivered(from, to, frame, tries = 200) {
  for (let i = 0; i < tries; i++) {
    from.send(frame);
    const marker = crypto.randomUUID();
    from.send({ receiverId: from.id, marker });
    let refused = false;
    for (;;) {
      const f = await from.next();
      if (f.marker === marker) break;
      assert.deepEqual({ ...f }, { type: 'error', code: 'unknown_receiver', receiverId: to.id }, `${from.label}: ${f.__raw}`);
      refused = true;
    }
    if (!refused) return to.next();
  }
  throw new Error(`${from.label}'s node never learned of ${to.label} in ${tries} tries`);
}

/** signal-fire: sends to `id` from `from` until `from` is told it is unknown. */
async function sfUntilUnknown(from, id, tries = 200) {
  for (let i = 0; i < tries; i++) {
    from.send({ receiverId: id, type: 'to the departed' });
    const marker = crypto.randomUUID();
    from.send({ receiverId: from.id, marker });
    const f = await from.next();
    if (f.type === 'error') {
      assert.deepEqual({ ...f }, { type: 'error', code: 'unknown_receiver', receiverId: id });
      assert.equal((await from.next()).marker, marker);
      return;
    }
    assert.equal(f.marker, marker, f.__raw);
  }
  throw new Error(`${from.label}'s node never forgot ${id} in ${tries} tries`);
}

/**
 * Peero: `from` (not registered) sends `signal` to `to` until `to` gets it, which shows
 * `from`'s node knows `to`. Each try is followed by a signal to nobody, whose
 * `unknown_peer` answer is the fence: an `unknown_peer` for `to` before it means not yet.
 */
async function peeroUntilKnown(from, to, tries = 200) {
  for (let i = 0; i < tries; i++) {
    from.send({ type: 'signal', peerId: to.id, signal: { probe: i } });
    const nobody = crypto.randomUUID();
    from.send({ type: 'signal', peerId: nobody, signal: {} });
    let refused = false;
    for (;;) {
      const f = await from.next();
      if (f.type === 'error' && f.peerId === nobody) break;
      assert.deepEqual({ ...f }, { type: 'error', code: 'unknown_peer', peerId: to.id }, `${from.label}: ${f.__raw}`);
      refused = true;
    }
    if (!refused) {
      assert.deepEqual({ ...(await to.next()) }, { type: 'signal', peerId: from.id, signal: { probe: i } }, `${to.label} gets the probe`);
      return;
    }
  }
  throw new Error(`${from.label}'s node never learned of ${to.label} in ${tries} tries`);
}

/** Peero: what `c` got before the unknown_peer answer to a signal for nobody. */
async function peeroFence(c) {
  const nobody = crypto.randomUUID();
  c.send({ type: 'signal', peerId: nobody, signal: {} });
  const got = [];
  for (;;) {
    const f = await c.next();
    if (f.type === 'error' && f.peerId === nobody) return got;
    got.push({ ...f });
  }
}

/**
 * webrtc-bootstrap: `join` sends probe frames until `reached(i)` resolves truthy for one
 * (the root got probe i); resolves to what it resolved to. The root of another node is
 * known a moment after its own node knows it, and a /join frame with no root is dropped
 * with no answer: each probe is given 200 ms to arrive.
 */
async function bootstrapProbe(join, reached, tries = 50) {
  for (let i = 0; i < tries; i++) {
    join.send({ origin: null, destination: null, signal: { probe: i }, rank: 0 });
    const got = await reached(i);
    if (got) return got;
  }
  throw new Error(`the root got none of ${tries} probes from ${join.label}`);
}

module.exports = {
  SECRET,
  ROOT_PATH,
  OFFLINE_TTL_SECS,
  DEATH_NOTICE,
  OFFER,
  ANSWER,
  candidate,
  clusterOptions,
  startAll,
  attendeesOf,
  iceFrom,
  connectWatched,
  sidOf,
  sfUntilDelivered,
  sfUntilUnknown,
  peeroUntilKnown,
  peeroFence,
  bootstrapProbe,
};
