'use strict';
// COMPAT.md 4: the Peero endpoint, message by message. Peero's server is gone from every
// registry, so there is no original to compare with: each frame is checked against
// COMPAT.md 4 as written. COMPAT_TARGET=oracle runs the tests against oracles/peero.js, a
// stand-in written from that section alone (to check the harness, not Switchboard).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { isDeepStrictEqual } = require('node:util');
const { startServer, startOracle, freePort } = require('./server');
const { TARGET, clientPool } = require('./helpers');

const PEERO_PATH = '/peero';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function startPeero(config = {}) {
  if (TARGET === 'oracle') return startOracle('peero');
  return startServer({ config: { 'compat.peero': { enabled: true, path: PEERO_PATH, ...config } } });
}

/**
 * Opens a Peero client and takes its id frame; with `register`, registers and takes the
 * `peers` answer too. Resolves to the client, with `.id` and `.peers`.
 */
async function peer(open, url, label, { register = true } = {}) {
  const c = await open(url, { label });
  const idFrame = await c.next();
  // Key order in the frames the server makes is not held against it (JSON objects are unordered).
  assert.deepEqual(Object.keys(idFrame).sort(), ['peerId', 'type'], `${label}'s first frame: ${idFrame.__raw}`);
  assert.equal(idFrame.type, 'id');
  c.id = idFrame.peerId;
  if (register) {
    c.send({ type: 'register' });
    const peers = await c.next();
    assert.equal(peers.type, 'peers', `${label} registers: ${peers.__raw}`);
    c.peers = peers.peers;
  }
  return c;
}

/** A frame that only its sender sees an answer to (unknown_peer): everything before it has arrived. */
async function fence(c) {
  const nobody = crypto.randomUUID();
  c.send({ type: 'signal', peerId: nobody, signal: { fence: true } });
  const got = [];
  for (;;) {
    const f = await c.next();
    if (f.type === 'error' && f.code === 'unknown_peer' && f.peerId === nobody) return got;
    got.push({ ...f });
  }
}

describe('Peero', () => {
  let server;
  let url;
  before(async () => {
    server = await startPeero();
    url = server.wsUrl(TARGET === 'oracle' ? '/' : PEERO_PATH);
  });
  after(async () => {
    await server?.stop();
  });

  test('on connect: {"type":"id","peerId"} with a UUID v4, one per connection', async () => {
    const open = clientPool();
    try {
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push((await peer(open, url, `p${i}`, { register: false })).id);
      for (const id of ids) assert.match(id, UUID_V4);
      assert.equal(new Set(ids).size, ids.length);
    } finally {
      open.closeAll();
    }
  });

  test('register: the newcomer gets the other registered peers, each of them an announce', async () => {
    const open = clientPool();
    try {
      const a = await peer(open, url, 'A');
      assert.deepEqual(a.peers, []);
      const idle = await peer(open, url, 'unregistered', { register: false });
      const b = await peer(open, url, 'B');
      assert.deepEqual(b.peers, [a.id]);
      assert.deepEqual({ ...(await a.next()) }, { type: 'announce', peerId: b.id });
      const c = await peer(open, url, 'C');
      assert.deepEqual([...c.peers].sort(), [a.id, b.id].sort());
      assert.deepEqual({ ...(await a.next()) }, { type: 'announce', peerId: c.id });
      assert.deepEqual({ ...(await b.next()) }, { type: 'announce', peerId: c.id });
      // Nothing else went anywhere: not to the unregistered peer, not back to the newcomers.
      for (const x of [a, b, c, idle]) assert.deepEqual(await fence(x), [], x.label);
      // When the unregistered one registers, the list it gets has everyone but itself.
      idle.send({ type: 'register' });
      const peers = await idle.next();
      assert.deepEqual(Object.keys(peers).sort(), ['peers', 'type']);
      assert.deepEqual([...peers.peers].sort(), [a.id, b.id, c.id].sort());
    } finally {
      open.closeAll();
    }
  });

  test('offer goes to every other registered peer; answer and signal to the one named', async () => {
    const open = clientPool();
    try {
      const a = await peer(open, url, 'A');
      const b = await peer(open, url, 'B');
      const c = await peer(open, url, 'C');
      await fence(a); // announces
      await fence(b);
      const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n', extra: [1, { n: null }] };
      a.send({ type: 'offer', signal: offer });
      for (const x of [b, c]) assert.deepEqual({ ...(await x.next()) }, { type: 'offer', peerId: a.id, signal: offer });
      assert.deepEqual(await fence(a), [], 'the offerer does not get its own offer');

      const answer = { type: 'answer', sdp: 'v=0\r\n' };
      b.send({ type: 'answer', peerId: a.id, signal: answer });
      assert.deepEqual({ ...(await a.next()) }, { type: 'answer', peerId: b.id, signal: answer });
      const candidate = { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } };
      b.send({ type: 'signal', peerId: a.id, signal: candidate });
      assert.deepEqual({ ...(await a.next()) }, { type: 'signal', peerId: b.id, signal: candidate });
      a.send({ type: 'signal', peerId: b.id, signal: { renegotiate: true } });
      assert.deepEqual({ ...(await b.next()) }, { type: 'signal', peerId: a.id, signal: { renegotiate: true } });
      for (const x of [a, b, c]) assert.deepEqual(await fence(x), [], `${x.label} got only what was meant for it`);
    } finally {
      open.closeAll();
    }
  });

  test('a registered peer that disconnects is removed: every other registered peer gets remove', async () => {
    const open = clientPool();
    try {
      const a = await peer(open, url, 'A');
      const b = await peer(open, url, 'B');
      const c = await peer(open, url, 'C');
      await fence(a);
      await fence(b);
      c.close();
      for (const x of [a, b]) assert.deepEqual({ ...(await x.next()) }, { type: 'remove', peerId: c.id });
      // It is gone: a newcomer's list no longer has it, and frames for it are unknown_peer.
      const d = await peer(open, url, 'D');
      assert.deepEqual([...d.peers].sort(), [a.id, b.id].sort());
      assert.deepEqual({ ...(await a.next()) }, { type: 'announce', peerId: d.id });
      a.send({ type: 'answer', peerId: c.id, signal: {} });
      assert.deepEqual({ ...(await a.next()) }, { type: 'error', code: 'unknown_peer', peerId: c.id });
    } finally {
      open.closeAll();
    }
  });

  test('an unknown target gets unknown_peer, naming it', async () => {
    const open = clientPool();
    try {
      const a = await peer(open, url, 'A');
      const b = await peer(open, url, 'B');
      await fence(a);
      for (const target of [crypto.randomUUID(), 'not-a-uuid', '__proto__', 'constructor', 'x'.repeat(200)]) {
        for (const type of ['answer', 'signal']) {
          a.send({ type, peerId: target, signal: { x: 1 } });
          const got = await a.next();
          assert.deepEqual({ ...got }, { type: 'error', code: 'unknown_peer', peerId: target }, `${type} to ${JSON.stringify(target)}: ${got.__raw}`);
        }
      }
      assert.deepEqual(await fence(b), []);
    } finally {
      open.closeAll();
    }
  });

  test('frames that are not JSON objects with a known type get bad_request; the connection stays usable', async () => {
    const open = clientPool();
    try {
      const a = await peer(open, url, 'A');
      const b = await peer(open, url, 'B');
      await fence(a);
      const bad = ['not json', '{"type":', 'null', '42', '"register"', 'true', '[{"type":"register"}]', '{}', '{"type":"nope"}', '{"type":5}', '{"type":null}', '{"type":"REGISTER"}', '{"type":"__proto__"}', '{"type":"id"}'];
      for (const frame of bad) {
        a.send(frame);
        const got = await a.next();
        assert.deepEqual({ ...got }, { type: 'error', code: 'bad_request' }, `${frame}: ${got.__raw}`);
      }
      // A known type with a field of the wrong type: bad_request or ignored, never relayed
      // (an empty id may also be an unknown peer).
      for (const frame of [{ type: 'answer', peerId: '', signal: {} }, { type: 'signal', peerId: null, signal: {} }, { type: 'answer', peerId: 5, signal: {} }, { type: 'signal', peerId: [b.id], signal: {} }, { type: 'answer', peerId: { id: b.id } }]) {
        a.send(frame);
        const allowed = [{ type: 'error', code: 'bad_request' }];
        if (frame.peerId === '') allowed.push({ type: 'error', code: 'unknown_peer', peerId: '' });
        for (const got of await fence(a)) assert.ok(allowed.some((x) => isDeepStrictEqual(x, got)), `${JSON.stringify(frame)}: ${JSON.stringify(got)}`);
      }
      assert.deepEqual(await fence(b), [], 'nothing reached B');
      a.send({ type: 'offer', signal: { still: 'usable' } });
      assert.deepEqual({ ...(await b.next()) }, { type: 'offer', peerId: a.id, signal: { still: 'usable' } });
      assert.equal(server.exited, null);
    } finally {
      open.closeAll();
    }
  });
});

describe('Peero on a listener of its own', () => {
  let server;
  let port;
  before(async () => {
    if (TARGET === 'oracle') return;
    port = await freePort();
    server = await startPeero({ port });
  });
  after(async () => {
    await server?.stop();
  });

  test('any path of the dedicated port speaks Peero, with the main path\'s peers', async (t) => {
    if (TARGET === 'oracle') {
      t.skip('the dedicated port is Switchboard configuration');
      return;
    }
    const open = clientPool();
    try {
      const a = await peer(open, server.wsUrl(PEERO_PATH), 'A on the main path');
      const b = await peer(open, server.wsUrl('/', port), 'B on the dedicated /');
      assert.deepEqual(b.peers, [a.id]);
      assert.deepEqual({ ...(await a.next()) }, { type: 'announce', peerId: b.id });
      const c = await peer(open, server.wsUrl('/some/other/path?x=1', port), 'C on another path');
      assert.match(c.id, UUID_V4);
      assert.deepEqual([...c.peers].sort(), [a.id, b.id].sort());
      c.send({ type: 'signal', peerId: a.id, signal: { hop: 1 } });
      assert.deepEqual({ ...(await a.next()) }, { type: 'announce', peerId: c.id });
      assert.deepEqual({ ...(await a.next()) }, { type: 'signal', peerId: c.id, signal: { hop: 1 } });
    } finally {
      open.closeAll();
    }
  });
});
