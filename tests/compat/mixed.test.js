'use strict';
// The compatible endpoints together on one Switchboard: peers of different protocols do not
// see each other and the native /ws is untouched; the limits hold on every endpoint; the
// allowed origins apply to every upgrade; a disabled endpoint is a plain 404. Switchboard
// only (there is no original of the mix): skipped with COMPAT_TARGET=oracle.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startServer, freePort } = require('./server');
const { Client, TARGET, clientPool, upgradeStatus } = require('./helpers');

const SECRET = 'mixedSecret0123';
const ROOT_PATH = `/${SECRET}/webrtc-bootstrap-root`;
const skip = TARGET === 'oracle' ? 'Switchboard only' : false;

/** A server with every compat endpoint on (and their own listeners), plus `config`. */
async function startAll({ config = {}, ports = true } = {}) {
  const sfPort = ports ? await freePort() : undefined;
  const peeroPort = ports ? await freePort() : undefined;
  const server = await startServer({
    config: {
      'compat.signal_fire': { enabled: true, path: '/signal-fire', notify_unknown: true, ...(sfPort ? { port: sfPort } : {}) },
      'compat.peero': { enabled: true, path: '/peero', ...(peeroPort ? { port: peeroPort } : {}) },
      'compat.bootstrap': { timeout_secs: 30 },
      ...config,
    },
    env: { BOOTSTRAP_SECRET: SECRET },
  });
  return Object.assign(server, { sfPort, peeroPort });
}

async function sfPeer(open, url, label) {
  const c = await open(url, { label });
  const f = await c.next();
  assert.equal(f.type, 'id', f.__raw);
  c.id = f.peerId;
  return c;
}

async function peeroPeer(open, url, label) {
  const c = await sfPeer(open, url, label);
  c.send({ type: 'register' });
  c.peers = (await c.next()).peers;
  return c;
}

/** signal-fire: what `c` got before an unknown_receiver answer to a frame for nobody. */
async function sfFence(c) {
  const nobody = `fence-${crypto.randomUUID()}`;
  c.send({ receiverId: nobody });
  const got = [];
  for (;;) {
    const f = await c.next();
    if (f.type === 'error' && f.receiverId === nobody) return got;
    got.push({ ...f });
  }
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

/** Native: sends `event` with `data` and an id; resolves to the reply carrying it back. */
let nativeIds = 0;
async function nativeRequest(c, event, data = {}) {
  const id = ++nativeIds;
  c.send({ event, id, data });
  const got = await c.next();
  assert.equal(got.re, id, `native reply to ${event}: ${got.__raw}`);
  return got;
}

describe('one server, four protocols', { skip }, () => {
  let server;
  before(async () => {
    server = await startAll();
  });
  after(async () => {
    await server?.stop();
  });

  test('a signal-fire peer, a Peero peer, a bootstrap newcomer and a native member do not see each other', async () => {
    const open = clientPool();
    try {
      const sf = await sfPeer(open, server.wsUrl('/signal-fire'), 'signal-fire');
      const sf2 = await sfPeer(open, server.wsUrl('/', server.sfPort), 'signal-fire on its port');
      const pe = await peeroPeer(open, server.wsUrl('/peero'), 'peero');
      const pe2 = await peeroPeer(open, server.wsUrl('/', server.peeroPort), 'peero on its port');
      assert.deepEqual(pe2.peers, [pe.id], 'the Peero list has only Peero peers');
      assert.deepEqual({ ...(await pe.next()) }, { type: 'announce', peerId: pe2.id });
      const root = await open(server.wsUrl(ROOT_PATH), { label: 'root' });
      const join = await open(server.wsUrl('/join'), { label: 'join' });
      let joinId;
      for (let i = 0; !joinId && i < 50; i++) {
        join.send({ origin: null, destination: null, signal: { probe: i }, rank: 0 });
        joinId = await root.next(200).then((m) => m.origin, () => undefined);
      }
      assert.match(joinId, /^[0-9a-f]{32}$/);
      const native = await open(server.wsUrl('/ws'), { label: 'native' });
      const created = await nativeRequest(native, 'create', { name: 'Mixed', attendee_name: 'Ada' });
      assert.equal(created.event, 'created', created.__raw);
      const nativeId = created.data.attendee.id;
      const workspaceId = created.data.workspace.id;

      // signal-fire cannot reach the others' ids.
      for (const [what, id] of [['peero', pe.id], ['bootstrap', joinId], ['native attendee', nativeId], ['native workspace', workspaceId]]) {
        sf.send({ type: 'offer', receiverId: id, sdp: 'x' });
        assert.deepEqual({ ...(await sf.next()) }, { type: 'error', code: 'unknown_receiver', receiverId: id }, what);
        sf.send({ type: 'offer', peerId: id, sdp: 'x' });
        assert.deepEqual({ ...(await sf.next()) }, { type: 'error', code: 'unknown_receiver', receiverId: id }, `${what} by peerId`);
      }
      // Peero cannot reach theirs.
      for (const [what, id] of [['signal-fire', sf.id], ['bootstrap', joinId], ['native', nativeId]]) {
        for (const type of ['answer', 'signal']) {
          pe.send({ type, peerId: id, signal: {} });
          assert.deepEqual({ ...(await pe.next()) }, { type: 'error', code: 'unknown_peer', peerId: id }, `${type} to ${what}`);
        }
      }
      // A bootstrap newcomer cannot reach them: its frames to their ids go nowhere.
      for (const id of [sf.id, pe.id, nativeId]) join.send({ origin: null, destination: id, signal: { to: id }, rank: 1 });
      join.send({ origin: null, destination: null, signal: { marker: 1 }, rank: 2 });
      let toRoot;
      do toRoot = await root.next(); while (toRoot.signal.probe !== undefined);
      assert.deepEqual(toRoot.signal, { marker: 1 });
      // A Peero offer goes to Peero peers only.
      pe.send({ type: 'offer', signal: { sdp: 'peero offer' } });
      assert.deepEqual({ ...(await pe2.next()) }, { type: 'offer', peerId: pe.id, signal: { sdp: 'peero offer' } });
      // The native protocol on /ws is untouched: the frames of the others are bad requests there.
      for (const frame of [{ receiverId: sf.id, type: 'offer' }, { type: 'register' }, { origin: null, destination: null, signal: {}, rank: 0 }]) {
        native.send(frame);
        const alert = await native.next();
        assert.equal(alert.event, 'alert', alert.__raw);
        assert.match(alert.data.code, /^(bad_request|unknown_event)$/);
      }
      const attendees = await nativeRequest(native, 'attendees');
      assert.equal(attendees.event, 'attendees', attendees.__raw);
      assert.deepEqual(attendees.data.attendees.map((a) => a.id), [nativeId]);
      // And nothing leaked anywhere.
      for (const c of [sf, sf2]) assert.deepEqual(await sfFence(c), [], c.label);
      for (const c of [pe, pe2]) assert.deepEqual(await peeroFence(c), [], c.label);
      assert.equal(native.pending(), 0);
      assert.equal(root.pending(), 0);
      assert.equal(join.pending(), 0);
      // Both signal-fire listeners are one signal-fire: sf2 reaches sf.
      sf2.send({ receiverId: sf.id, hello: 1 });
      assert.deepEqual({ ...(await sf.next()) }, { receiverId: sf.id, hello: 1, senderId: sf2.id });
    } finally {
      open.closeAll();
    }
  });
});

describe('limits on every endpoint', { skip }, () => {
  let server;
  // Five frames a second, ten in a burst: more than 4 x 5 within 5 s closes with 1008.
  const limits = { max_message_bytes: 1024, requests_per_second: 5, request_burst: 10 };
  before(async () => {
    server = await startAll({ config: { limits } });
  });
  after(async () => {
    await server?.stop();
  });

  // Each endpoint: how to connect, and a harmless frame of its protocol (padded to a size).
  const endpoints = () => [
    { name: 'signal-fire', url: server.wsUrl('/signal-fire'), greets: true, frame: (pad) => ({ receiverId: 'nobody', pad }) },
    { name: 'signal-fire port', url: server.wsUrl('/any', server.sfPort), greets: true, frame: (pad) => ({ receiverId: 'nobody', pad }) },
    { name: 'peero', url: server.wsUrl('/peero'), greets: true, frame: (pad) => ({ type: 'offer', signal: { pad } }) },
    { name: 'peero port', url: server.wsUrl('/x', server.peeroPort), greets: true, frame: (pad) => ({ type: 'offer', signal: { pad } }) },
    { name: 'bootstrap /join', url: server.wsUrl('/join'), frame: (pad) => ({ origin: null, destination: 'f'.repeat(32), signal: { pad }, rank: 0 }) },
    { name: 'bootstrap root', url: server.wsUrl(ROOT_PATH), frame: (pad) => ['heartbeat', pad] },
    { name: 'bootstrap 2.x root', url: server.wsUrl(`/${SECRET}`), frame: (pad) => ['heartbeat', pad] },
  ];

  test('a frame over max_message_bytes closes the connection with 1009', async () => {
    for (const ep of endpoints()) {
      const c = await Client.open(ep.url, { label: ep.name });
      try {
        if (ep.greets) await c.next();
        c.send(ep.frame('y'.repeat(900))); // under the limit: nothing happens
        c.send(ep.frame('x'.repeat(2_000)));
        const closed = await c.waitClosed();
        assert.equal(closed.code, 1009, `${ep.name}: ${JSON.stringify(closed)}`);
      } finally {
        c.close();
      }
    }
  });

  test('a flood far over the rate closes the connection with 1008', async () => {
    for (const ep of endpoints()) {
      const c = await Client.open(ep.url, { label: ep.name });
      try {
        if (ep.greets) await c.next();
        for (let i = 0; i < 100; i++) c.send(ep.frame(String(i)));
        const closed = await c.waitClosed();
        assert.equal(closed.code, 1008, `${ep.name}: ${JSON.stringify(closed)}`);
      } finally {
        c.close();
      }
    }
  });

  test('signal-fire: frames past the burst are dropped, and the connection stays open', async () => {
    const c = await sfPeer(Client.open, server.wsUrl('/signal-fire'), 'signal-fire');
    try {
      for (let n = 0; n < 14; n++) c.send({ receiverId: c.id, n });
      // Then a marker, sent again after each 500 ms of silence until the refilled bucket
      // lets one through: what came before it is everything that was delivered.
      const got = [];
      let tries = 0;
      c.send({ receiverId: c.id, marker: tries });
      for (;;) {
        const f = await c.next(500).catch(() => null);
        if (f === null) {
          assert.ok(++tries < 10, 'no marker came back');
          c.send({ receiverId: c.id, marker: tries });
        } else if (f.marker !== undefined) {
          break;
        } else {
          got.push(f.n);
        }
      }
      // A burst of 10, less the pong to the server's first ping when it came before them
      // (every frame counts, control frames too), plus what refilled meanwhile.
      assert.ok(got.length >= 9 && got.length < 14, `delivered ${got.length} of 14: ${got}`);
      assert.deepEqual(got, [...got].sort((a, b) => a - b), 'in order');
      assert.equal(c.closeInfo, null);
    } finally {
      c.close();
    }
  });
});

describe('a peer that stops reading', { skip }, () => {
  let server;
  // Loopback buffers take several MB before the server's queue for a reader even grows:
  // 300 frames of 60 kB is far more than they and max_outbound_bytes hold.
  const limits = { max_message_bytes: 65_536, max_outbound_bytes: 262_144, requests_per_second: 100_000, request_burst: 100_000, stall_secs: 2 };
  const FRAMES = 300;
  const blob = 'b'.repeat(60_000);
  before(async () => {
    server = await startAll({ config: { limits }, ports: false });
  });
  after(async () => {
    await server?.stop();
  });

  /** Resumes the paused reader: what it then reads is in order, and it was closed for policy. */
  async function drain(t, slow) {
    slow.ws._socket.resume();
    const seqs = [];
    for (;;) {
      const f = await slow.nextRaw(30_000).catch(() => null);
      if (!f) break;
      const m = JSON.parse(f.data);
      if (m.seq !== undefined) seqs.push(m.seq);
      if (m.signal && m.signal.seq !== undefined) seqs.push(m.signal.seq);
    }
    const closed = await slow.waitClosed(30_000);
    // 1006: the server had to cut the TCP connection before the reader got to its close frame.
    assert.ok([1008, 1006].includes(closed.code), `the slow reader was closed with ${JSON.stringify(closed)}`);
    assert.ok(seqs.length < FRAMES, `some frames for it were dropped (${seqs.length} of ${FRAMES} arrived)`);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    t.diagnostic(`the slow reader got ${seqs.length} of ${FRAMES} frames, then close ${closed.code} ${closed.reason}`);
  }

  test('signal-fire: it is closed 1008 and becomes unknown; the sender and the others go on', async (t) => {
    const open = clientPool();
    try {
      const a = await sfPeer(open, server.wsUrl('/signal-fire'), 'sender');
      const slow = await sfPeer(open, server.wsUrl('/signal-fire'), 'slow');
      const c = await sfPeer(open, server.wsUrl('/signal-fire'), 'reader');
      slow.ws._socket.pause();
      let worst = 0;
      for (let seq = 0; seq < FRAMES; seq++) {
        a.send({ receiverId: slow.id, seq, blob });
        if (seq % 25 === 0) {
          const sent = Date.now();
          a.send({ receiverId: c.id, seq });
          assert.equal((await c.next()).seq, seq);
          worst = Math.max(worst, Date.now() - sent);
        }
      }
      t.diagnostic(`the reading peer got each small frame within ${worst} ms`);
      // Without reading a byte more, the slow one is given up on: its id becomes unknown.
      for (let i = 0; ; i++) {
        assert.ok(i < 60, 'the slow reader was never dropped');
        a.send({ receiverId: slow.id, probe: i });
        const f = await a.next(500).catch(() => null);
        if (f && f.type === 'error' && f.receiverId === slow.id) break;
      }
      await drain(t, slow);
      a.send({ receiverId: c.id, after: true });
      assert.equal((await c.next()).after, true);
    } finally {
      open.closeAll();
    }
  });

  test('Peero: it is closed 1008 and the others get remove', async (t) => {
    const open = clientPool();
    try {
      const a = await peeroPeer(open, server.wsUrl('/peero'), 'sender');
      const slow = await peeroPeer(open, server.wsUrl('/peero'), 'slow');
      const c = await peeroPeer(open, server.wsUrl('/peero'), 'reader');
      for (const x of [a, a, slow]) assert.equal((await x.next()).type, 'announce');
      slow.ws._socket.pause();
      let worst = 0;
      let removed = null;
      for (let seq = 0; seq < FRAMES; seq++) {
        const sent = Date.now();
        a.send({ type: 'offer', signal: { seq, blob } });
        // The reader takes every offer as it comes.
        for (;;) {
          const f = await c.next();
          if (f.type === 'remove') {
            removed = f;
            continue;
          }
          assert.equal(f.signal.seq, seq);
          break;
        }
        worst = Math.max(worst, Date.now() - sent);
      }
      t.diagnostic(`the reading peer got each offer within ${worst} ms`);
      removed = removed || { ...(await c.next(30_000)) };
      assert.deepEqual({ ...removed }, { type: 'remove', peerId: slow.id });
      // The sender was told too; its next frames reach the reader.
      let fa;
      do fa = await a.next(30_000); while (fa.type !== 'remove');
      assert.deepEqual({ ...fa }, { type: 'remove', peerId: slow.id });
      await drain(t, slow);
      a.send({ type: 'signal', peerId: c.id, signal: { after: true } });
      assert.deepEqual({ ...(await c.next()) }, { type: 'signal', peerId: a.id, signal: { after: true } });
    } finally {
      open.closeAll();
    }
  });
});

describe('allowed_origins and disabled endpoints', { skip }, () => {
  test('a foreign Origin gets 403 on every endpoint; the allowed one and none (programs) get through', async () => {
    const server = await startAll({ config: { server: { allowed_origins: ['http://a.example'] } } });
    try {
      const urls = [
        server.wsUrl('/signal-fire'),
        server.wsUrl('/', server.sfPort),
        server.wsUrl('/some/path', server.sfPort),
        server.wsUrl('/peero'),
        server.wsUrl('/', server.peeroPort),
        server.wsUrl('/join'),
        server.wsUrl(ROOT_PATH),
        server.wsUrl(`/${SECRET}`),
        server.wsUrl('/ws'),
      ];
      for (const url of urls) {
        assert.equal(await upgradeStatus(url, { origin: 'http://b.example' }), 403, `${url} from http://b.example`);
        assert.equal(await upgradeStatus(url, { origin: 'http://a.example.evil' }), 403, `${url} from http://a.example.evil`);
        assert.equal(await upgradeStatus(url, { origin: 'http://a.example' }), 101, `${url} from http://a.example`);
        assert.equal(await upgradeStatus(url), 101, `${url} with no Origin`);
      }
    } finally {
      await server.stop();
    }
  });

  test('a disabled endpoint is a plain 404', async () => {
    const server = await startServer({ env: { BOOTSTRAP_SECRET: undefined } });
    try {
      for (const p of ['/signal-fire', '/peero', '/join', ROOT_PATH, `/${SECRET}`]) {
        assert.equal(await upgradeStatus(server.wsUrl(p)), 404, `upgrade of ${p}`);
        const res = await fetch(`${server.url}${p}`);
        assert.equal(res.status, 404, `GET ${p}`);
      }
      assert.equal(await upgradeStatus(server.wsUrl('/ws')), 101);
    } finally {
      await server.stop();
    }
  });
});
