'use strict';
// COMPAT.md 3: webrtc-bootstrap 4.4.1. The real npm client (with @roamhq/wrtc for WebRTC in
// Node) bootstraps a data channel through Switchboard as the README shows; raw `ws` sockets
// check the ids, the timeouts and the root's rules.
//
// COMPAT_TARGET=oracle runs the same tests against the original server from the npm package
// (src/server.js): the README example, the client's timeout and the seeded ids pass there;
// the close code and reason of a timed-out /join, the replaced root's 4001, the wrong
// secret's 404 and the configurable heartbeat are Switchboard's and fail against it.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const wrtc = require('@roamhq/wrtc');
const BootstrapClient = require('webrtc-bootstrap');
const { startServer, startOracle } = require('./server');
const { Client, TARGET, clientPool, upgradeStatus, withTimeout } = require('./helpers');

const SECRET = 'compatSecret0123';
const ROOT_PATH = `/${SECRET}/webrtc-bootstrap-root`;
const JOIN_ID = /^[0-9a-f]{32}$/;
const CONNECT_TIMEOUT = 20_000; // WebRTC between two wrtc peers on loopback
// simple-peer 6 defaults to Google's STUN servers; loopback needs none.
const PEER_OPTS = { wrtc, config: { iceServers: [] } };

const VECTORS = {
  1: ['143c5677bb8026ada7ad6dbd4a44e705', '8d468468b9b6f61c1a9621ebff91acc5', '09eda066a55712c10fdf2c7248f7c882'],
  42: ['334d3ecc3fcf32317545eaff0e1be0c8', 'ccffd39004a11d7b7d1a1ef62e09e23c', '4190fe01a4cab1da209b44504757f903'],
};

/** A bootstrap server with BOOTSTRAP_SECRET=SECRET and `[compat.bootstrap]` settings. */
async function startBootstrap({ seed = 0, timeoutSecs = 30, heartbeatSecs } = {}) {
  if (TARGET === 'oracle') return startOracle('webrtc-bootstrap', { secret: SECRET, seed, timeoutMs: timeoutSecs * 1000 });
  const bootstrap = { seed, timeout_secs: timeoutSecs };
  if (heartbeatSecs !== undefined) bootstrap.heartbeat_secs = heartbeatSecs;
  return startServer({ config: { 'compat.bootstrap': bootstrap }, env: { BOOTSTRAP_SECRET: SECRET, SECRET: undefined } });
}

const hostOf = (server) => `127.0.0.1:${server.port}`;
const joinFrame = (signal, extra = {}) => ({ origin: null, destination: null, signal, rank: 0, ...extra });

/**
 * Resolves once the root is registered: a /join socket sends probe frames until one reaches
 * the root (`received(pred)` resolves to the first frame the root got that matches). The
 * upgrade's 101 may reach the root before the server has made it the root.
 */
async function rootRegistered(join, received, tries = 50) {
  for (let i = 0; i < tries; i++) {
    join.send(joinFrame({ probe: i }));
    const got = await received((m) => m.signal && m.signal.probe === i, 200).catch(() => null);
    if (got) return got;
  }
  throw new Error(`the root got none of ${tries} probes`);
}

/**
 * What the real root client hands its callback: an array (push, filter, some) whose
 * `take(pred, timeout)` resolves when a matching item is pushed, or at once if one was.
 */
function callbackInbox() {
  const items = [];
  const waiters = new Set();
  items.push = (...added) => {
    const n = Array.prototype.push.apply(items, added);
    for (const wake of [...waiters]) wake();
    return n;
  };
  items.take = (pred, timeout) =>
    new Promise((resolve, reject) => {
      const wake = () => {
        const found = items.find(pred);
        if (found === undefined) return;
        finish();
        resolve(found);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error('no matching request reached the root'));
      }, timeout);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      waiters.add(wake);
      wake();
    });
  return items;
}

/** Frames a raw root gets, taken by predicate (others that do not match stay queued). */
function rootInbox(root) {
  const seen = [];
  return async (pred, timeout = 5_000) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const i = seen.findIndex(pred);
      if (i >= 0) return seen.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('the root got no matching frame');
      seen.push(await root.next(left));
    }
  };
}

describe('webrtc-bootstrap: the real client', () => {
  let server;
  const cleanups = [];
  before(async () => {
    server = await startBootstrap();
  });
  after(async () => {
    for (const c of cleanups.splice(0)) c();
    await server?.stop();
  });

  // The README's example: a root answers a newcomer itself, and ping and pong cross the channel.
  test('README example: the root answers a newcomer, a data channel opens, ping and pong cross it', async () => {
    const root = new BootstrapClient(hostOf(server));
    const newcomers = {};
    const requests = callbackInbox();
    let gotPing;
    const pingAtRoot = new Promise((resolve) => {
      gotPing = resolve;
    });
    cleanups.push(() => {
      for (const p of Object.values(newcomers)) p.destroy();
      root.close();
    });
    await new Promise((resolve, reject) => {
      root.root(
        SECRET,
        (req) => {
          requests.push(req);
          if (req.signal && req.signal.probe !== undefined) return;
          if (!newcomers[req.origin]) {
            newcomers[req.origin] = root.connect(req, { peerOpts: PEER_OPTS, timeout: CONNECT_TIMEOUT });
            newcomers[req.origin].on('data', (data) => {
              gotPing(String(data));
              newcomers[req.origin].send('pong');
            });
          } else {
            newcomers[req.origin].signal(req.signal);
          }
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
    const probe = await Client.open(server.wsUrl('/join'), { label: 'probe' });
    cleanups.push(() => probe.close());
    await rootRegistered(probe, requests.take);

    const client = new BootstrapClient(hostOf(server));
    let failed;
    const failure = new Promise((resolve) => {
      failed = resolve;
    });
    const p = client.connect(null, {
      peerOpts: PEER_OPTS,
      timeout: CONNECT_TIMEOUT,
      cb: (err) => err && failed(err),
    });
    cleanups.push(() => {
      p.destroy();
      client.close();
    });
    const opened = new Promise((resolve) => p.once('connect', resolve));
    const pong = new Promise((resolve) => p.once('data', (data) => resolve(String(data))));
    p.on('error', (err) => failed(err));
    const outcome = (promise) =>
      withTimeout(
        Promise.race([promise, failure.then((err) => Promise.reject(new Error(`newcomer failed: ${err.message}`)))]),
        CONNECT_TIMEOUT + 2_000,
        'the bootstrap',
      );
    await outcome(opened);
    p.send('ping');
    assert.equal(await outcome(pingAtRoot), 'ping');
    assert.equal(await outcome(pong), 'pong');

    // What the root was given: requests from a server-made id, the first one the offer.
    const fromNewcomer = requests.filter((r) => !(r.signal && r.signal.probe !== undefined));
    assert.ok(fromNewcomer.length >= 1);
    assert.match(fromNewcomer[0].origin, JOIN_ID);
    assert.equal(fromNewcomer[0].signal.type, 'offer');
    assert.equal(fromNewcomer[0].destination, null);
    assert.equal(new Set(fromNewcomer.map((r) => r.origin)).size, 1, 'every request of the newcomer has its id');
  });

  test("a root that never answers: the newcomer gets the client's 'Bootstrap timeout'", async () => {
    const root = new BootstrapClient(hostOf(server));
    const requests = callbackInbox();
    cleanups.push(() => root.close());
    await new Promise((resolve, reject) => {
      root.root(SECRET, (req) => requests.push(req), (err) => (err ? reject(err) : resolve()));
    });
    const probe = await Client.open(server.wsUrl('/join'), { label: 'probe' });
    cleanups.push(() => probe.close());
    await rootRegistered(probe, requests.take);
    requests.length = 0;

    const client = new BootstrapClient(hostOf(server));
    const started = Date.now();
    const err = await withTimeout(
      new Promise((resolve) => {
        const p = client.connect(null, { peerOpts: PEER_OPTS, timeout: 2_000, cb: (e) => e && resolve(e) });
        cleanups.push(() => {
          p.destroy();
          client.close();
        });
      }),
      10_000,
      "the client's timeout",
    );
    assert.equal(err.message, 'Bootstrap timeout');
    assert.ok(Date.now() - started >= 1_900);
    // It timed out although its request reached the root: the root is silent, not unreachable.
    assert.ok(requests.some((r) => r.signal && r.signal.type === 'offer' && JOIN_ID.test(r.origin)), JSON.stringify(requests));
  });
});

describe('webrtc-bootstrap: /join ids', () => {
  for (const seed of [1, 42]) {
    test(`with seed = ${seed}, successive /join sockets get COMPAT.md's ids, and origin is always overwritten`, async () => {
      const server = await startBootstrap({ seed });
      const open = clientPool();
      try {
        const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
        const inbox = rootInbox(root);
        const joins = [];
        for (let i = 0; i < 3; i++) joins.push(await open(server.wsUrl('/join'), { label: `join ${i}` }));
        // The first socket also waits for the root to be registered.
        const first = await rootRegistered(joins[0], inbox);
        const origins = [first.origin];
        for (let i = 1; i < 3; i++) {
          joins[i].send(joinFrame({ n: i }, { origin: 'forged-origin' }));
          origins.push((await inbox((m) => m.signal && m.signal.n === i)).origin);
        }
        assert.deepEqual(origins, VECTORS[seed]);
      } finally {
        open.closeAll();
        await server.stop();
      }
    });
  }

  test('with no seed, ids are 32 lowercase hex, one per socket; destination routes between /join sockets', async () => {
    const server = await startBootstrap();
    const open = clientPool();
    try {
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      const inbox = rootInbox(root);
      const a = await open(server.wsUrl('/join'), { label: 'a' });
      const b = await open(server.wsUrl('/join'), { label: 'b' });
      const idA = (await rootRegistered(a, inbox)).origin;
      b.send(joinFrame({ from: 'b' }, { origin: idA }));
      const fromB = await inbox((m) => m.signal && m.signal.from === 'b');
      const idB = fromB.origin;
      assert.match(idA, JOIN_ID);
      assert.match(idB, JOIN_ID);
      assert.notEqual(idA, idB, 'origin is the sender, not what it claimed');
      assert.deepEqual(fromB, { origin: idB, destination: null, signal: { from: 'b' }, rank: 0 });

      // A repeated origin does not get past the overwrite either.
      b.send(`{"origin":"${idA}","destination":null,"signal":{"dup":1},"rank":0,"origin":"${idA}"}`);
      const dup = await inbox((m) => m.signal && m.signal.dup === 1);
      assert.equal(dup.origin, idB, dup.__raw);
      assert.equal(dup.__raw.match(/"origin"/g).length, 1, dup.__raw);

      // b answers a directly (the root's answer path): a gets it with b's id as origin.
      b.send({ origin: 'forged', destination: idA, signal: { type: 'answer', sdp: 'v=0' }, rank: 1 });
      assert.deepEqual(await a.next(), { origin: idB, destination: idA, signal: { type: 'answer', sdp: 'v=0' }, rank: 1 });
      // to an unknown socket: dropped; b's next frame to a is what a gets next.
      b.send(joinFrame({ lost: true }, { destination: 'f'.repeat(32) }));
      b.send(joinFrame({ after: true }, { destination: idA }));
      assert.deepEqual((await a.next()).signal, { after: true });
      // Nor did it go to the root: the root's next frame from b is b's marker.
      b.send(joinFrame({ marker: 'b' }));
      const next = await inbox((m) => !(m.signal && m.signal.probe !== undefined));
      assert.deepEqual(next.signal, { marker: 'b' });
    } finally {
      open.closeAll();
      await server.stop();
    }
  });

  test('a frame sent while there is no root is dropped, not kept for the next root', async () => {
    // Seeded, the sockets' ids are known without a root to learn them from.
    const server = await startBootstrap({ seed: 1 });
    const open = clientPool();
    try {
      const join = await open(server.wsUrl('/join'), { label: 'join' });
      const other = await open(server.wsUrl('/join'), { label: 'other join' });
      join.send(joinFrame({ before: 'any root' }));
      // Once this reaches the other socket, the server has handled the frame before it.
      join.send(joinFrame({ marker: 1 }, { destination: VECTORS[1][1] }));
      assert.deepEqual(await other.next(), { origin: VECTORS[1][0], destination: VECTORS[1][1], signal: { marker: 1 }, rank: 0 });
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      const inbox = rootInbox(root);
      await rootRegistered(join, inbox);
      // Whatever the root got before the probe would still be queued in the inbox.
      await assert.rejects(inbox((m) => m.signal && m.signal.before, 300));
    } finally {
      open.closeAll();
      await server.stop();
    }
  });
});

describe('webrtc-bootstrap: timeouts and the root', () => {
  test('each /join socket is closed timeout_secs after it connected, with 1000 "bootstrap timeout"', async () => {
    const server = await startBootstrap({ timeoutSecs: 2 });
    const open = clientPool();
    let chatter;
    try {
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      const inbox = rootInbox(root);
      const idle = await open(server.wsUrl('/join'), { label: 'idle join' });
      const idleAt = Date.now();
      const busy = await open(server.wsUrl('/join'), { label: 'busy join' });
      const busyAt = Date.now();
      await rootRegistered(busy, inbox);
      // The busy one keeps sending to the root: it is closed all the same.
      let n = 0;
      chatter = setInterval(() => busy.closeInfo === null && busy.send(joinFrame({ n: n++ })), 250);
      const [idleClose, busyClose] = await Promise.all([idle.waitClosed(8_000), busy.waitClosed(8_000)]);
      const idleAfter = Date.now() - idleAt;
      assert.deepEqual(idleClose, { code: 1000, reason: 'bootstrap timeout' });
      assert.deepEqual(busyClose, { code: 1000, reason: 'bootstrap timeout' });
      assert.ok(idleAfter >= 1_500 && idleAfter < 6_000, `closed after ${idleAfter} ms`);
      assert.ok(Date.now() - busyAt >= 1_500);
      assert.ok(n > 0);
      // The root is not a /join socket: it stays, and serves the next newcomer.
      assert.equal(root.closeInfo, null);
      const late = await open(server.wsUrl('/join'), { label: 'late join' });
      late.send(joinFrame({ late: true }));
      assert.match((await inbox((m) => m.signal && m.signal.late)).origin, JOIN_ID);
    } finally {
      clearInterval(chatter);
      open.closeAll();
      await server.stop();
    }
  });

  test('a second root replaces the first (closed with 4001); the 2.x path /<secret> is a root too', async () => {
    const server = await startBootstrap();
    const open = clientPool();
    try {
      const first = await open(server.wsUrl(ROOT_PATH), { label: 'first root' });
      const second = await open(server.wsUrl(ROOT_PATH), { label: 'second root' });
      const closed = await first.waitClosed();
      assert.equal(closed.code, 4001, JSON.stringify(closed));
      const join = await open(server.wsUrl('/join'), { label: 'join' });
      const inbox2 = rootInbox(second);
      await rootRegistered(join, inbox2);

      const third = await open(server.wsUrl(`/${SECRET}`), { label: 'root at /<secret>' });
      assert.equal((await second.waitClosed()).code, 4001);
      join.send(joinFrame({ to: 'third' }));
      const inbox3 = rootInbox(third);
      assert.match((await inbox3((m) => m.signal && m.signal.to === 'third')).origin, JOIN_ID);
    } finally {
      open.closeAll();
      await server.stop();
    }
  });

  test('a wrong secret is a 404, on both root paths', async () => {
    const server = await startBootstrap();
    try {
      for (const path of [
        '/wrongSecret0123/webrtc-bootstrap-root',
        '/wrongSecret0123',
        `/${SECRET}x/webrtc-bootstrap-root`,
        `/${SECRET.slice(0, -1)}/webrtc-bootstrap-root`,
        `/${SECRET.toUpperCase()}`,
        '/webrtc-bootstrap-root',
      ]) {
        assert.equal(await upgradeStatus(server.wsUrl(path)).catch((e) => e.message), 404, path);
      }
      assert.equal(await upgradeStatus(server.wsUrl(ROOT_PATH)), 101);
    } finally {
      await server.stop();
    }
  });

  test('by default, the first "heartbeat" comes 15 s after the root connected', async () => {
    const server = await startBootstrap();
    const open = clientPool();
    try {
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      const t0 = Date.now();
      assert.deepEqual(await root.nextRaw(20_000), { data: '"heartbeat"', isBinary: false });
      const took = Date.now() - t0;
      assert.ok(took >= 14_000 && took < 17_000, `the first heartbeat came after ${took} ms`);
    } finally {
      open.closeAll();
      await server.stop();
    }
  });

  test('the root gets "heartbeat" every heartbeat_secs', async () => {
    const server = await startBootstrap({ heartbeatSecs: 1 });
    const open = clientPool();
    try {
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      root.send('"heartbeat"'); // what the root sends is ignored
      const t0 = Date.now();
      assert.deepEqual(await root.nextRaw(3_000), { data: '"heartbeat"', isBinary: false });
      assert.deepEqual(await root.nextRaw(3_000), { data: '"heartbeat"', isBinary: false });
      const took = Date.now() - t0;
      assert.ok(took >= 500 && took < 4_000, `two heartbeats took ${took} ms`);
      assert.equal(root.closeInfo, null);
    } finally {
      open.closeAll();
      await server.stop();
    }
  });

  test('bad frames from a /join socket or the root crash nothing, reach nobody, and the sockets stay usable', async () => {
    const server = await startBootstrap();
    const open = clientPool();
    try {
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      const inbox = rootInbox(root);
      const join = await open(server.wsUrl('/join'), { label: 'join' });
      const other = await open(server.wsUrl('/join'), { label: 'other join' });
      await rootRegistered(join, inbox);
      for (const frame of ['not json', 'null', '42', '"a string"', '[1,2]', '']) {
        root.send(frame);
        join.send(frame);
      }
      for (const destination of [5, true, { id: 'x' }, '__proto__', 'constructor', 'hasOwnProperty', 'f'.repeat(32)]) {
        join.send(joinFrame({ bad: destination }, { destination }));
      }
      join.send(joinFrame({ marker: 1 }));
      const got = await inbox(() => true);
      assert.deepEqual(got.signal, { marker: 1 }, `the root's next frame: ${JSON.stringify(got)}`);
      assert.equal(root.pending(), 0);
      assert.equal(other.pending(), 0);
      assert.equal(server.exited, null, 'the server still runs');
      assert.equal(join.closeInfo, null);
      assert.equal(root.closeInfo, null);
    } finally {
      open.closeAll();
      await server.stop();
    }
  });
});

describe('webrtc-bootstrap: switching it on', { skip: TARGET === 'oracle' ? 'Switchboard configuration' : false }, () => {
  const statuses = async (server) => ({
    root: await upgradeStatus(server.wsUrl(ROOT_PATH)),
    old: await upgradeStatus(server.wsUrl(`/${SECRET}`)),
    join: await upgradeStatus(server.wsUrl('/join')),
  });

  test("enabled = true reads the original's SECRET; enabled = false turns it off whatever the environment", async () => {
    const legacy = await startServer({ config: { 'compat.bootstrap': { enabled: true } }, env: { SECRET } });
    try {
      assert.deepEqual(await statuses(legacy), { root: 101, old: 101, join: 101 });
    } finally {
      await legacy.stop();
    }
    const off = await startServer({ config: { 'compat.bootstrap': { enabled: false } }, env: { BOOTSTRAP_SECRET: SECRET } });
    try {
      assert.deepEqual(await statuses(off), { root: 404, old: 404, join: 404 });
    } finally {
      await off.stop();
    }
    // Without enabled, SECRET alone (another program's variable) does not turn it on.
    const unset = await startServer({ env: { SECRET } });
    try {
      assert.deepEqual(await statuses(unset), { root: 404, old: 404, join: 404 });
    } finally {
      await unset.stop();
    }
  });

  test('enabled with no secret, or a secret too short or not alphanumeric, refuses to start and says what to set', async () => {
    await assert.rejects(startServer({ config: { 'compat.bootstrap': { enabled: true } } }), /server exited[\s\S]*BOOTSTRAP_SECRET/);
    for (const bad of ['short12', 'has-dash-1234', 'with space 1234']) {
      await assert.rejects(startServer({ env: { BOOTSTRAP_SECRET: bad } }), /server exited[\s\S]*BOOTSTRAP_SECRET/, bad);
    }
  });
});
