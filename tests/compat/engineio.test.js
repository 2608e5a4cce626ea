'use strict';
// COMPAT.md 1, the transport: Engine.IO 3 / Socket.IO v2 at /socket.io/ on the main
// listener, checked with raw HTTP requests and WebSockets where the client library would
// hide the detail (the open packet, refusals, framing, CORS), and with the real
// socket.io-client (2.0.4 and the latest 2.x) where a user would notice. Switchboard only
// (there is no original server to compare with): skipped with COMPAT_TARGET=oracle.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./server');
const { TARGET, upgradeStatus } = require('./helpers');
const {
  CLIENTS,
  EVENT_TIMEOUT,
  SioClient,
  RawPolling,
  RawWs,
  sioServerOptions,
  stopServer,
  assertStunOnly,
  httpRequest,
  encodePayload,
  decodeTextPayload,
  eventPacket,
  parseEvent,
  withTimeout,
} = require('./socketio-helpers');

const skip = TARGET === 'oracle' ? 'Switchboard only' : false;
const PATH = '/socket.io/';

/** The JSON body of an HTTP answer. */
function jsonBody(res, what) {
  assert.ok(!res.error, `${what}: ${res.error && res.error.message}`);
  try {
    return JSON.parse(res.text);
  } catch {
    assert.fail(`${what}: the body is not JSON: ${JSON.stringify(res.text)}`);
  }
}

const wsUrl = (server, query, path = PATH) => `${server.wsUrl(path)}?${new URLSearchParams({ EIO: '3', transport: 'websocket', ...query })}`;

/** A raw WebSocket session up to its `40`: resolves to {ws, open}. */
async function rawWsSession(server, opts = {}) {
  const ws = await RawWs.open(wsUrl(server, {}), opts);
  const first = await ws.next();
  assert.ok(first.startsWith('0'), `the open packet first: ${first}`);
  const open = JSON.parse(first.slice(1));
  assert.equal(await ws.next(), '40', 'then the connect packet of the default namespace');
  return { ws, open };
}

/** Takes the `40` of a fresh polling session (in the handshake payload or the next poll). */
async function takeConnect(session) {
  assert.equal(await session.nextPacket(), '40', 'the 40 connect packet follows the open packet');
}

describe('Engine.IO 3 transport, default settings', { skip }, () => {
  let server;
  before(async () => {
    server = await startServer(sioServerOptions({ limits: { max_message_bytes: 8192 } }));
  });
  after(async () => {
    await stopServer(server, 'engineio-default');
  });

  test('the polling handshake answers the open packet (sid, upgrades, pingInterval 25000, pingTimeout 20000), then 40', async () => {
    const sids = new Set();
    for (const b64 of [true, false]) {
      const session = new RawPolling(server.url, { b64 });
      const open = await session.handshake();
      assert.equal(typeof open.sid, 'string', JSON.stringify(open));
      assert.ok(open.sid.length >= 8, `a sid of some length: ${open.sid}`);
      assert.deepEqual(open.upgrades, ['websocket'], JSON.stringify(open));
      assert.equal(open.pingInterval, 25000, JSON.stringify(open));
      assert.equal(open.pingTimeout, 20000, JSON.stringify(open));
      sids.add(open.sid);
      await takeConnect(session);
      // The session is live: the webRTCWorkspaces client's first event is answered.
      const res = await session.post([eventPacket('iceservers', {})]);
      assert.equal(res.status, 200, `POST: ${res.status} ${res.text}`);
      assertStunOnly(await session.expectEvent('iceservers'), `iceservers (b64=${b64})`);
      // A ping is answered with a pong.
      await session.post(['2']);
      assert.equal(await session.nextPacket(), '3', 'ping → pong');
    }
    assert.equal(sids.size, 2, 'each handshake has its own sid');
  });

  test('a WebSocket-only handshake: the open packet, 40, pong, events', async () => {
    const { ws, open } = await rawWsSession(server);
    try {
      assert.equal(typeof open.sid, 'string');
      assert.equal(open.pingInterval, 25000);
      assert.equal(open.pingTimeout, 20000);
      assert.ok(Array.isArray(open.upgrades), JSON.stringify(open));
      ws.send('2');
      assert.equal(await ws.next(), '3');
      ws.send(eventPacket('iceservers', {}));
      const ev = parseEvent(await ws.next());
      assert.equal(ev && ev.name, 'iceservers');
      assertStunOnly(ev.data, 'iceservers over WebSocket');
      // An event asking for an acknowledgement (42<id>[…]) is not acknowledged: no 1a event
      // says so. The answer to a second, plain one comes right after the first's.
      ws.send(`427${JSON.stringify(['iceservers', {}])}`);
      ws.send(eventPacket('iceservers', {}));
      for (const which of ['first', 'second']) {
        const m = await ws.next();
        assert.equal(parseEvent(m) && parseEvent(m).name, 'iceservers', `the ${which} answer, and no 437[]: ${m}`);
      }
    } finally {
      ws.close();
    }
  });

  test('EIO=4 gets 400 {"code":5,"message":"Unsupported protocol version: this server speaks Engine.IO 3"}', async () => {
    const want = { code: 5, message: 'Unsupported protocol version: this server speaks Engine.IO 3' };
    const res = await httpRequest(`${server.url}${PATH}?EIO=4&transport=polling&t=x`);
    assert.equal(res.status, 400, `EIO=4: ${res.status} ${res.text}`);
    assert.deepEqual(jsonBody(res, 'EIO=4'), want);
    assert.equal(await upgradeStatus(`${server.wsUrl(PATH)}?EIO=4&transport=websocket`), 400, 'the EIO=4 upgrade');
    // socket.io 3+ clients send EIO=4 on a POST too, with a sid they think they have.
    const post = await httpRequest(`${server.url}${PATH}?EIO=4&transport=polling&sid=abc`, { method: 'POST', body: '40' });
    assert.equal(post.status, 400);
    assert.deepEqual(jsonBody(post, 'EIO=4 POST'), want);
  });

  test('an unknown transport gets 400 {"code":0,"message":"Transport unknown"}', async () => {
    for (const query of ['EIO=3&transport=flashsocket', 'EIO=3&transport=jsonp-polling2', 'EIO=3']) {
      const res = await httpRequest(`${server.url}${PATH}?${query}&t=x`);
      assert.equal(res.status, 400, `${query}: ${res.status} ${res.text}`);
      assert.deepEqual(jsonBody(res, query), { code: 0, message: 'Transport unknown' }, query);
    }
  });

  test('an unknown sid gets 400 {"code":1,"message":"Session ID unknown"}', async () => {
    const want = { code: 1, message: 'Session ID unknown' };
    const get = await httpRequest(`${server.url}${PATH}?EIO=3&transport=polling&sid=nosuchsession0000000`);
    assert.equal(get.status, 400, `GET: ${get.status} ${get.text}`);
    assert.deepEqual(jsonBody(get, 'GET'), want);
    const post = await httpRequest(`${server.url}${PATH}?EIO=3&transport=polling&sid=nosuchsession0000000`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: encodePayload([eventPacket('iceservers', {})]),
    });
    assert.equal(post.status, 400, `POST: ${post.status} ${post.text}`);
    assert.deepEqual(jsonBody(post, 'POST'), want);
    assert.equal(await upgradeStatus(wsUrl(server, { sid: 'nosuchsession0000000' })), 400, 'the upgrade of an unknown sid');
  });

  test('CORS: the Origin is reflected with credentials, on polls, posts and OPTIONS preflights', async () => {
    const origin = 'http://app.example:8080';
    const session = new RawPolling(server.url, { origin });
    await session.handshake();
    const check = (res, what) => {
      assert.ok(!res.error, `${what}: ${res.error && res.error.message}`);
      assert.equal(res.headers['access-control-allow-origin'], origin, `${what}: Access-Control-Allow-Origin`);
      assert.equal(res.headers['access-control-allow-credentials'], 'true', `${what}: Access-Control-Allow-Credentials`);
    };
    check(session.lastResponse, 'the handshake');
    await takeConnect(session);
    const post = await session.post([eventPacket('iceservers', {})]);
    assert.equal(post.status, 200);
    check(post, 'a POST');
    const poll = await session.get();
    assert.equal(poll.status, 200);
    check(poll, 'a poll');
    session.buffered.push(...poll.packets);
    const preflight = await httpRequest(session.url(), {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.ok(preflight.status >= 200 && preflight.status < 300, `OPTIONS: ${preflight.status} ${preflight.text}`);
    check(preflight, 'the preflight');
    const allowed = String(preflight.headers['access-control-allow-headers'] || '').toLowerCase().split(/\s*,\s*/);
    assert.ok(allowed.includes('content-type'), `the preflight allows Content-Type: ${preflight.headers['access-control-allow-headers']}`);
    // The session still works.
    assertStunOnly(await session.expectEvent('iceservers'), 'iceservers');
  });

  test('payload lengths count UTF-16 code units: non-BMP names round-trip over polling', async () => {
    const name = '🦄 Ünïcödé 𝄞 workspace';
    const attendeeName = '😀 Zoë';
    const nonce = 'create-workspace::🔑';
    for (const b64 of [true, false]) {
      const session = new RawPolling(server.url, { b64 });
      await session.handshake();
      await takeConnect(session);
      // One POST, two packets: the non-BMP one first, so that a length counted in bytes or in
      // code points would cut the second.
      const create = eventPacket('create', {
        workspace: { name, pin: '', avatar: '' },
        attendee: { name: attendeeName, avatar: '' },
        nonce,
      });
      const body = encodePayload([create, eventPacket('iceservers', {})]);
      assert.notEqual(Buffer.byteLength(create), create.length, 'the packet has multi-byte characters');
      const res = await session.post([create, eventPacket('iceservers', {})]);
      assert.equal(res.status, 200, `POST ${body.slice(0, 40)}…: ${res.status} ${res.text}`);
      // The answers: created, the member's iceservers, and the answer to the second packet
      // (in an order of the server's).
      const got = [];
      while (got.length < 3) {
        const p = await session.nextPacket();
        const ev = parseEvent(p);
        assert.ok(ev, `an event: ${JSON.stringify(p)}`);
        got.push(ev);
      }
      const created = got.find((e) => e.name === 'created');
      assert.ok(created, `created among ${JSON.stringify(got.map((e) => e.name))}`);
      assert.equal(created.data.workspace.name, name, `b64=${b64}: the workspace name`);
      assert.equal(created.data.attendee.name, attendeeName, `b64=${b64}: the attendee name`);
      assert.equal(created.data.nonce, nonce, `b64=${b64}: the nonce`);
      assert.equal(got.filter((e) => e.name === 'iceservers').length, 2, `b64=${b64}: the second packet was read: ${JSON.stringify(got.map((e) => e.name))}`);
    }
    // The text framing the server writes, checked on its own: lengths match JavaScript's.
    const session = new RawPolling(server.url, { b64: true });
    await session.handshake();
    await takeConnect(session);
    await session.post([eventPacket('create', { workspace: { name, pin: '', avatar: '' }, attendee: { name: attendeeName, avatar: '' }, nonce })]);
    let text = '';
    while (!text.includes('created')) {
      const res = await httpRequest(session.url(), {});
      assert.equal(res.status, 200);
      text = res.text;
    }
    const packets = decodeTextPayload(text);
    const packet = packets.find((p) => p.includes('created'));
    assert.ok(text.includes(`${packet.length}:${packet}`), `the created packet is framed by its UTF-16 length: ${text.slice(0, 60)}…`);
    assert.equal(parseEvent(packet).data.workspace.name, name);

    // And with the real clients over polling only.
    for (const { version, io } of CLIENTS) {
      const c = await SioClient.connect(server.url, { io, opts: { transports: ['polling'] }, label: `${version} polling` });
      try {
        const created = await c.create({ name, attendeeName });
        assert.equal(created.workspace.name, name, `${version}: the workspace name`);
        assert.equal(created.attendee.name, attendeeName, `${version}: the attendee name`);
        assert.equal(c.transportName(), 'polling');
      } finally {
        c.close();
      }
    }
  });

  test('an oversized POST body is refused and the other sessions carry on', async () => {
    const other = new RawPolling(server.url);
    await other.handshake();
    await takeConnect(other);
    const real = await SioClient.connect(server.url, { io: CLIENTS[0].io, label: 'real client' });
    try {
      const victim = new RawPolling(server.url);
      await victim.handshake();
      await takeConnect(victim);
      // 2 MB in one packet, far over max_message_bytes (8192 here).
      const huge = eventPacket('iceservers', { pad: 'x'.repeat(2 * 1024 * 1024) });
      const res = await victim.post([huge]);
      let refused = Boolean(res.error) || res.status >= 400;
      if (!refused) {
        // Accepted at the HTTP level: then the session must have been closed for it.
        const next = await victim.get();
        refused = next.status === 400 || (next.packets || []).includes('1');
      }
      assert.ok(refused, `the oversized POST was refused (${res.error ? res.error.code : res.status})`);
      // Nobody else noticed.
      const ok = await other.post([eventPacket('iceservers', {})]);
      assert.equal(ok.status, 200);
      assertStunOnly(await other.expectEvent('iceservers'), 'another polling session');
      real.emit('iceservers', {});
      assertStunOnly(await real.expect('iceservers'), 'a real client');
      const fresh = new RawPolling(server.url);
      await fresh.handshake();
      await takeConnect(fresh);
      assert.equal(server.exited, null, 'the server is still running');
    } finally {
      real.close();
    }
  });

  test('the upgrade from polling to WebSocket: 2probe, 3probe, a noop on the pending poll, 5', async () => {
    const session = new RawPolling(server.url);
    await session.handshake();
    await takeConnect(session);
    // A long poll waits for something to send.
    const pending = session.get();
    const ws = await RawWs.open(wsUrl(server, { sid: session.sid }));
    try {
      ws.send('2probe');
      assert.equal(await ws.next(), '3probe');
      const poll = await withTimeout(pending, EVENT_TIMEOUT, 'the pending poll to be answered');
      assert.equal(poll.status, 200, `the pending poll: ${poll.status} ${poll.text}`);
      assert.deepEqual(poll.packets, ['6'], 'the pending poll gets a noop');
      ws.send('5');
      ws.send(eventPacket('iceservers', {}));
      const ev = parseEvent(await ws.next());
      assert.equal(ev && ev.name, 'iceservers', 'events now travel over the WebSocket');
      assertStunOnly(ev.data, 'iceservers after the upgrade');
      ws.send('2');
      assert.equal(await ws.next(), '3');
    } finally {
      ws.close();
    }

    // The real clients upgrade on their own, and keep working.
    for (const { version, io } of CLIENTS) {
      const c = await SioClient.connect(server.url, { io, label: `${version} default transports` });
      try {
        if (c.transportName() !== 'websocket') {
          await withTimeout(new Promise((resolve) => c.socket.io.engine.once('upgrade', resolve)), EVENT_TIMEOUT, `${version} to upgrade`);
        }
        assert.equal(c.transportName(), 'websocket', `${version}: upgraded`);
        await c.create({ name: 'Upgraded' });
        c.emitAttendees();
        assert.deepEqual(await c.expect('attendees'), { attendees: { [c.attendee.id]: c.card() } });
      } finally {
        c.close();
      }
    }
  });

  test('another namespace gets 44/nsp,"Invalid namespace"', async () => {
    const { ws } = await rawWsSession(server);
    try {
      ws.send('40/other');
      assert.equal(await ws.next(), '44/other,"Invalid namespace"');
      // The default namespace is still served.
      ws.send(eventPacket('iceservers', {}));
      assert.equal(parseEvent(await ws.next()).name, 'iceservers');
    } finally {
      ws.close();
    }
    for (const { version, io } of CLIENTS) {
      const socket = io.connect(`${server.url}/other`, { forceNew: true, reconnection: false, transports: ['websocket'] });
      try {
        const err = await withTimeout(new Promise((resolve) => socket.once('error', resolve)), EVENT_TIMEOUT, `${version}: an error for /other`);
        assert.equal(err, 'Invalid namespace', `${version}`);
      } finally {
        socket.close();
      }
    }
  });
});

describe('Engine.IO 3 heartbeat with small intervals', { skip }, () => {
  const pingInterval = 400;
  const pingTimeout = 400;
  let server;
  before(async () => {
    server = await startServer(sioServerOptions({ 'compat.socketio': { ping_interval_ms: pingInterval, ping_timeout_ms: pingTimeout } }));
  });
  after(async () => {
    await stopServer(server, 'engineio-heartbeat');
  });

  test('a socket silent past pingInterval + pingTimeout is dropped; a pinging one stays', async () => {
    // Real clients ping on their own and must not be dropped.
    const reals = [];
    for (const { version, io } of CLIENTS) {
      for (const opts of [{}, { transports: ['websocket'] }]) {
        reals.push(await SioClient.connect(server.url, { io, opts, label: `${version} ${opts.transports ? 'websocket' : 'polling'}` }));
      }
    }
    const pinger = await rawWsSession(server);
    const pingTimer = setInterval(() => pinger.ws.send('2'), pingInterval / 2);
    try {
      assert.equal(pinger.open.pingInterval, pingInterval);
      assert.equal(pinger.open.pingTimeout, pingTimeout);
      const silentWs = await rawWsSession(server);
      const wsStart = Date.now();
      const polling = new RawPolling(server.url);
      const open = await polling.handshake();
      const pollStart = Date.now();
      assert.equal(open.pingInterval, pingInterval);
      assert.equal(open.pingTimeout, pingTimeout);

      // The silent WebSocket is closed.
      await withTimeout(silentWs.ws.closed, EVENT_TIMEOUT, 'the silent WebSocket to be dropped');
      const wsAfter = Date.now() - wsStart;
      assert.ok(wsAfter >= (pingInterval + pingTimeout) * 0.8, `not before pingInterval + pingTimeout: dropped after ${wsAfter} ms`);

      // The silent polling session (which only waits on its long poll) is closed: its poll
      // gets the close packet, or the session is unknown from then on.
      let closedAfter = null;
      const deadline = Date.now() + EVENT_TIMEOUT;
      while (closedAfter === null) {
        assert.ok(Date.now() < deadline, 'the silent polling session was never dropped');
        const res = await polling.get();
        if (res.status === 400 || (res.packets || []).includes('1')) closedAfter = Date.now() - pollStart;
        else assert.equal(res.status, 200, `a poll: ${res.status} ${res.text}`);
      }
      assert.ok(closedAfter >= (pingInterval + pingTimeout) * 0.8, `not before pingInterval + pingTimeout: dropped after ${closedAfter} ms`);
      const gone = await polling.get();
      assert.equal(gone.status, 400, 'the dropped session is unknown');
      assert.deepEqual(JSON.parse(gone.text), { code: 1, message: 'Session ID unknown' });

      // The pinging socket and the real clients are still there.
      assert.equal(pinger.ws.closeInfo, null, 'the pinging WebSocket is open');
      pinger.ws.send(eventPacket('iceservers', {}));
      let m;
      do m = await pinger.ws.next(); while (m === '3');
      assert.equal(parseEvent(m).name, 'iceservers');
      for (const r of reals) {
        assert.equal(r.disconnectReason, null, `${r.label} stayed connected`);
        r.emit('iceservers', {});
        assertStunOnly(await r.expect('iceservers'), r.label);
      }
    } finally {
      clearInterval(pingTimer);
      pinger.ws.close();
      for (const r of reals) r.close();
    }
  });
});

describe('allowed_origins and path', { skip }, () => {
  let server;
  const path = '/rtc/';
  before(async () => {
    server = await startServer(
      sioServerOptions({
        server: { allowed_origins: ['http://a.example'] },
        'compat.socketio': { path },
      }),
    );
  });
  after(async () => {
    await stopServer(server, 'engineio-origins');
  });

  test('a foreign Origin gets 403 on the handshake, polls, posts, preflights and the upgrade', async () => {
    const handshake = (origin) =>
      httpRequest(`${server.url}${path}?EIO=3&transport=polling&b64=1&t=x`, { headers: origin ? { Origin: origin } : {} });
    for (const origin of ['http://b.example', 'http://a.example.evil', 'null']) {
      assert.equal((await handshake(origin)).status, 403, `the handshake from ${origin}`);
      assert.equal(await upgradeStatus(wsUrl(server, {}, path), { origin }), 403, `the upgrade from ${origin}`);
    }
    const allowed = await handshake('http://a.example');
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://a.example');
    assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
    assert.equal((await handshake()).status, 200, 'a program sends no Origin');
    assert.equal(await upgradeStatus(wsUrl(server, {}, path), { origin: 'http://a.example' }), 101);
    assert.equal(await upgradeStatus(wsUrl(server, {}, path)), 101);

    // A session opened from the allowed origin cannot be used from another one.
    const session = new RawPolling(server.url, { path, origin: 'http://a.example' });
    await session.handshake();
    const foreign = { Origin: 'http://b.example' };
    assert.equal((await httpRequest(session.url(), { headers: foreign })).status, 403, 'a poll from b.example');
    const post = await httpRequest(session.url(), { method: 'POST', headers: { ...foreign, 'Content-Type': 'text/plain;charset=UTF-8' }, body: encodePayload([eventPacket('iceservers', {})]) });
    assert.equal(post.status, 403, 'a POST from b.example');
    const preflight = await httpRequest(session.url(), { method: 'OPTIONS', headers: { ...foreign, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 403, 'a preflight from b.example');
    assert.equal(await upgradeStatus(wsUrl(server, { sid: session.sid }, path), { origin: 'http://b.example' }), 403, 'an upgrade of the session from b.example');
    // Nothing of b.example's reached the session: the first event it gets is the answer to its own.
    await session.post([eventPacket('create', { workspace: { name: 'Mine', pin: '', avatar: '' }, attendee: { name: 'Me', avatar: '' }, nonce: 'n' })]);
    assert.equal(await session.nextPacket(), '40');
    assert.equal(parseEvent(await session.nextPacket()).name, 'created', 'the foreign iceservers request was not answered');
  });

  test('the real clients connect from the allowed origin on the configured path, and not from another', async () => {
    for (const { version, io } of CLIENTS) {
      for (const opts of [{}, { transports: ['websocket'] }]) {
        const label = `${version} ${opts.transports ? 'websocket' : 'polling'}`;
        const c = await SioClient.connect(server.url, { io, label, opts: { ...opts, path: '/rtc', extraHeaders: { Origin: 'http://a.example' } } });
        c.close();
        await assert.rejects(
          SioClient.connect(server.url, { io, label: `${label} from b.example`, opts: { ...opts, path: '/rtc', extraHeaders: { Origin: 'http://b.example' } } }),
          /connect_error|error|timed out/,
          `${label}: refused from b.example`,
        );
      }
    }
  });

  test('the default path is not served when another is configured', async () => {
    const res = await httpRequest(`${server.url}/socket.io/?EIO=3&transport=polling&t=x`);
    assert.equal(res.status, 404);
  });
});

describe('[compat.socketio] enabled = false', { skip }, () => {
  test('the endpoint is a plain 404', async () => {
    const server = await startServer(sioServerOptions({ 'compat.socketio': { enabled: false } }));
    try {
      const res = await httpRequest(`${server.url}${PATH}?EIO=3&transport=polling&t=x`);
      assert.equal(res.status, 404, `GET: ${res.status}`);
      assert.equal(await upgradeStatus(wsUrl(server, {})), 404, 'the upgrade');
      assert.equal(await upgradeStatus(server.wsUrl('/ws')), 101, 'the native endpoint is there');
    } finally {
      await server.stop();
    }
  });
});
