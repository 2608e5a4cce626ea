'use strict';
// COMPAT.md 2: signal-fire 0.x, differentially: the same scripted clients (plain `ws`; the
// protocol is plain JSON and 0.x has no client package) drive the original signal-fire
// 0.5.3 from npm and Switchboard side by side, and what each receiver gets is compared,
// allowing only the differences COMPAT.md 2 documents (id length, `senderId` stamping, the
// `peerId` fallback, the path, no crash on odd ids).
//
// COMPAT_TARGET=oracle puts a second original in Switchboard's place (to check the harness
// itself): the differential tests then pass, and the tests of Switchboard's documented
// differences fail, as they must against the original.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, startOracle, freePort } = require('./server');
const { Client, TARGET } = require('./helpers');

const SF_PATH = '/signal-fire';
const SWITCHBOARD_ID = /^[A-Za-z0-9_-]{16}$/;
const SHORTID = /^[A-Za-z0-9_-]{7,14}$/;

/** A signal-fire server under test: where its clients connect, and whether it stamps senderId. */
function subject(server, kind, path) {
  return {
    kind,
    server,
    stamps: kind === 'switchboard',
    url: (p = path) => server.wsUrl(p),
    alive: () => server.exited === null,
  };
}

async function startSubject(config = {}) {
  if (TARGET === 'oracle') return subject(await startOracle('signal-fire'), 'original', '/');
  const server = await startServer({
    config: { 'compat.signal_fire': { enabled: true, path: SF_PATH, ...config } },
  });
  return subject(server, 'switchboard', SF_PATH);
}

// ---------------------------------------------------------------------------------------
// Scripted sessions: named clients, each step's deliveries collected up to a marker

/**
 * Connects one client per name to `sub` (in order) and takes each one's first frame, the
 * id frame. Resolves to {sub, clients: {A: Client}, ids: {A: id}, idFrames: {A: frame}}.
 */
async function session(sub, names, path) {
  const s = { sub, clients: {}, ids: {}, idFrames: {}, markers: 0 };
  for (const name of names) {
    const c = await Client.open(sub.url(path), { label: `${sub.kind} ${name}` });
    const frame = await c.next();
    s.clients[name] = c;
    s.idFrames[name] = frame;
    s.ids[name] = frame.peerId;
  }
  return s;
}

function endSession(s) {
  for (const c of Object.values(s.clients)) c.close();
}

/**
 * `from` sends `frame` (an object, a string sent as is, or a function of the ids giving
 * either); then, so that what did not arrive is known without waiting, `from` sends each
 * open client a marker, and each client's frames up to its marker are the step's
 * deliveries: [{to, frame}] in client order, with ids replaced by their names and, where
 * the subject stamps, `senderId` checked to be the sender's and removed.
 */
async function step(s, from, frame) {
  const sender = s.clients[from];
  const value = typeof frame === 'function' ? frame(s.ids) : frame;
  sender.send(value);
  const marker = ++s.markers;
  const open = Object.keys(s.clients).filter((n) => s.clients[n].closeInfo === null);
  for (const to of open) sender.send({ receiverId: s.ids[to], marker });
  const deliveries = [];
  for (const to of open) {
    for (;;) {
      const got = await s.clients[to].next();
      checkStamp(s, from, got);
      if (got.marker === marker && got.receiverId === s.ids[to] && Object.keys(got).length === 2) break;
      deliveries.push({ to, frame: JSON.parse(anonymize(s, JSON.stringify(got))) });
    }
  }
  return deliveries;
}

function checkStamp(s, from, got) {
  if (!s.sub.stamps) return;
  assert.equal(got.senderId, s.ids[from], `Switchboard stamps senderId with the sender's id: ${got.__raw}`);
  delete got.senderId;
}

// Ids in a JSON text replaced by `<name>` (ids are [A-Za-z0-9_-], no escaping needed).
function anonymize(s, text) {
  let out = text;
  for (const [name, id] of Object.entries(s.ids)) out = out.split(`"${id}"`).join(`"<${name}>"`);
  return out;
}

/** Runs `script(session)` against both servers; resolves to [original's result, subject's]. */
async function both(t, servers, names, script, path) {
  const results = [];
  for (const sub of servers) {
    const s = await session(sub, names, path);
    try {
      results.push(await script(s));
    } finally {
      endSession(s);
    }
  }
  for (const sub of servers) assert.ok(sub.alive(), `${sub.kind} is still running`);
  return results;
}

// ---------------------------------------------------------------------------------------

describe('signal-fire: Switchboard and the original 0.5.3 side by side', () => {
  let original;
  let sb;
  let sfPort;

  before(async () => {
    sfPort = await freePort();
    [original, sb] = await Promise.all([
      startOracle('signal-fire').then((o) => subject(o, 'original', '/')),
      startSubject(TARGET === 'oracle' ? {} : { port: sfPort }),
    ]);
  });
  after(async () => {
    await Promise.all([original?.server.stop(), sb?.server.stop()]);
  });

  test('the first frame is {"type":"id","peerId"} with a distinct id per connection', async (t) => {
    const [o, s] = await both(t, [original, sb], ['A', 'B', 'C'], async (ses) => ses);
    for (const ses of [o, s]) {
      for (const [name, frame] of Object.entries(ses.idFrames)) {
        // Key order in frames the server makes is not held against it (JSON objects are
        // unordered; the original's is type, peerId); in relayed frames it is (see below).
        assert.deepEqual(Object.keys(frame).sort(), ['peerId', 'type'], `${ses.sub.kind} ${name}: ${frame.__raw}`);
        assert.equal(frame.type, 'id');
      }
      assert.equal(new Set(Object.values(ses.ids)).size, 3, `${ses.sub.kind}: ids ${Object.values(ses.ids)}`);
    }
    for (const id of Object.values(o.ids)) assert.match(id, SHORTID);
    for (const id of Object.values(s.ids)) {
      if (s.sub.kind === 'switchboard') assert.match(id, SWITCHBOARD_ID);
    }
  });

  test('a frame goes to the peer its receiverId names, every field kept in value and order', async (t) => {
    const sdp = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n${'a=candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host\r\n'.repeat(60)}`;
    const script = async (s) => [
      await step(s, 'A', (ids) => ({
        type: 'offer',
        receiverId: ids.B,
        offer: { type: 'offer', sdp },
        n: 1,
        float: 0.1,
        tiny: 1e-7,
        big: 9007199254740993,
        neg: -42,
        flags: [true, false, null],
        nested: { a: [1, 2, { b: null, c: '' }], '': 'empty key' },
        text: 'héllo ✓ 😀 "quoted" \\ \u2028 \t',
        ['__proto__']: { own: 'a __proto__ key is data' },
      })),
      // receiverId first or last, and another type
      await step(s, 'B', (ids) => `{"receiverId":"${ids.A}","type":"answer","answer":{"type":"answer","sdp":"v=0\\r\\n"}}`),
      await step(s, 'C', (ids) => ({ type: 'candidate', candidate: { candidate: 'candidate:2', sdpMid: '0', sdpMLineIndex: 0 }, receiverId: ids.A })),
      await step(s, 'A', (ids) => ({ receiverId: ids.C })),
      // Raw text JSON.stringify cannot make: numbers as written, a repeated key (the last
      // value counts, as JSON.parse has it), spaces.
      await step(s, 'B', (ids) => `{ "receiverId" : "${ids.A}", "n": 1.50, "e": 1E+2, "z": -0, "huge": 1e400, "x": 1, "x": 2 }`),
      await step(s, 'A', (ids) => `{"receiverId":"${ids.A}","n":1,"receiverId":"${ids.C}"}`),
    ];
    const [o, s] = await both(t, [original, sb], ['A', 'B', 'C'], script);
    // What the original delivered is what the sender sent: one delivery per step, to the named peer.
    assert.deepEqual(o.map((d) => d.map((x) => x.to)), [['B'], ['A'], ['A'], ['C'], ['A'], ['C']]);
    assert.equal(o[0][0].frame.__proto__.own, 'a __proto__ key is data');
    assert.equal(JSON.stringify(s), JSON.stringify(o));
  });

  test('a peer may send to itself', async (t) => {
    const script = async (s) => [
      await step(s, 'A', (ids) => ({ type: 'note', receiverId: ids.A, body: 'to myself' })),
      await step(s, 'B', (ids) => ({ receiverId: ids.B })),
    ];
    const [o, s] = await both(t, [original, sb], ['A', 'B'], script);
    assert.deepEqual(o.map((d) => d.map((x) => x.to)), [['A'], ['B']]);
    assert.equal(JSON.stringify(s), JSON.stringify(o));
  });

  test('a frame for an unknown or departed peer is dropped, and the sender carries on', async (t) => {
    const script = async (s) => {
      const out = [await step(s, 'A', { type: 'offer', receiverId: 'nobody-has-this-id', sdp: 'x' })];
      const goneId = s.ids.C;
      s.clients.C.close();
      await s.clients.C.closed;
      out.push(await step(s, 'A', { type: 'offer', receiverId: goneId, sdp: 'x' }));
      out.push(await step(s, 'A', (ids) => ({ type: 'offer', receiverId: ids.B, sdp: 'still works' })));
      return out;
    };
    const [o, s] = await both(t, [original, sb], ['A', 'B', 'C'], script);
    assert.deepEqual(o, [[], [], [{ to: 'B', frame: { type: 'offer', receiverId: '<B>', sdp: 'still works' } }]]);
    assert.equal(JSON.stringify(s), JSON.stringify(o));
  });

  test('frames that are not JSON objects or name no receiver are ignored, the connection stays usable', async (t) => {
    const ignored = [
      'not json',
      '{"receiverId":',
      '',
      'null',
      '42',
      '"a string"',
      'true',
      '[1,2,3]',
      (ids) => JSON.stringify([{ receiverId: ids.B }]),
      '{}',
      '{"type":"offer","sdp":"no receiver"}',
      '{"receiverId":""}',
      '{"receiverId":null}',
      '{"receiverId":0}',
      '{"receiverId":false}',
    ];
    const script = async (s) => {
      const out = [];
      for (const frame of ignored) out.push(await step(s, 'A', frame));
      out.push(await step(s, 'A', (ids) => ({ receiverId: ids.B, after: 'the ignored frames' })));
      return out;
    };
    const [o, s] = await both(t, [original, sb], ['A', 'B'], script);
    assert.deepEqual(o.slice(0, -1), ignored.map(() => []));
    assert.deepEqual(o.at(-1), [{ to: 'B', frame: { receiverId: '<B>', after: 'the ignored frames' } }]);
    assert.equal(JSON.stringify(s), JSON.stringify(o));
  });

  test('on a path of its own choosing, as the original answers any path', async (t) => {
    if (sb.kind !== 'switchboard') {
      t.skip('the dedicated port is Switchboard configuration');
      return;
    }
    // The original speaks signal-fire on any path; Switchboard does on its dedicated port.
    const dedicated = {
      ...sb,
      url: (p) => sb.server.wsUrl(p, sfPort),
    };
    const script = async (s) => [
      await step(s, 'A', (ids) => ({ type: 'offer', receiverId: ids.B, sdp: 'any path' })),
      await step(s, 'B', (ids) => ({ type: 'answer', receiverId: ids.A, sdp: 'back' })),
    ];
    const [o, d] = await both(t, [original, dedicated], ['A', 'B'], script, '/any/path?room=1');
    assert.deepEqual(o.map((x) => x.map((y) => y.to)), [['B'], ['A']]);
    assert.equal(JSON.stringify(d), JSON.stringify(o));
    // Peers of the dedicated listener and of the main path are one set of peers.
    const viaPath = await Client.open(sb.url(), { label: 'main path' });
    const viaPort = await Client.open(sb.server.wsUrl('/', sfPort), { label: 'dedicated /' });
    try {
      const [idPath, idPort] = [(await viaPath.next()).peerId, (await viaPort.next()).peerId];
      assert.match(idPort, SWITCHBOARD_ID);
      viaPort.send({ receiverId: idPath, hop: 1 });
      assert.deepEqual(await viaPath.next(), { receiverId: idPath, hop: 1, senderId: idPort });
      viaPath.send({ receiverId: idPort, hop: 2 });
      assert.deepEqual(await viaPort.next(), { receiverId: idPort, hop: 2, senderId: idPath });
    } finally {
      viaPath.close();
      viaPort.close();
    }
  });
});

describe("signal-fire: Switchboard's documented differences", () => {
  let sb;
  let notifying;

  before(async () => {
    [sb, notifying] = await Promise.all([startSubject(), startSubject({ notify_unknown: true })]);
  });
  after(async () => {
    await Promise.all([sb?.server.stop(), notifying?.server.stop()]);
  });

  test('ids are 16 characters of [A-Za-z0-9_-]', async () => {
    const s = await session(sb, ['A', 'B', 'C', 'D']);
    endSession(s);
    for (const id of Object.values(s.ids)) assert.match(id, SWITCHBOARD_ID);
  });

  test('senderId is stamped: added when absent, overwritten when the sender claims another id', async () => {
    const s = await session(sb, ['A', 'B']);
    try {
      s.clients.A.send({ receiverId: s.ids.B, type: 'offer' });
      assert.deepEqual(await s.clients.B.next(), { receiverId: s.ids.B, type: 'offer', senderId: s.ids.A });
      s.clients.A.send({ receiverId: s.ids.B, senderId: s.ids.B, type: 'forged' });
      const got = await s.clients.B.next();
      assert.equal(got.senderId, s.ids.A, got.__raw);
      assert.deepEqual({ ...got }, { receiverId: s.ids.B, senderId: s.ids.A, type: 'forged' });
      s.clients.A.send({ receiverId: s.ids.B, senderId: 12345, type: 'forged' });
      assert.equal((await s.clients.B.next()).senderId, s.ids.A);
    } finally {
      endSession(s);
    }
  });

  test('a repeated senderId cannot smuggle a claimed id past the stamp', async () => {
    const s = await session(sb, ['A', 'B']);
    try {
      s.clients.A.send(`{"senderId":"${s.ids.B}","receiverId":"${s.ids.B}","senderId":"${s.ids.B}","sender\\u0049d":"${s.ids.B}"}`);
      const got = await s.clients.B.next();
      assert.equal(got.senderId, s.ids.A, got.__raw);
      assert.equal((got.__raw.match(/senderId|sender\\u0049d/g) || []).length, 1, `one senderId in ${got.__raw}`);
    } finally {
      endSession(s);
    }
  });

  test('a binary frame is dropped (the original forwarded it as binary), and the connection stays usable', async () => {
    const s = await session(sb, ['A', 'B']);
    try {
      s.clients.A.send(Buffer.from(JSON.stringify({ receiverId: s.ids.B, binary: true })));
      s.clients.A.send({ receiverId: s.ids.B, text: true });
      assert.deepEqual({ ...(await s.clients.B.next()) }, { receiverId: s.ids.B, text: true, senderId: s.ids.A });
    } finally {
      endSession(s);
    }
  });

  test('a frame with no receiverId is routed by peerId (the 0.1 form); receiverId wins over it', async () => {
    const s = await session(sb, ['A', 'B', 'C']);
    try {
      s.clients.A.send({ type: 'offer', peerId: s.ids.B, sdp: 'by peerId' });
      assert.deepEqual(await s.clients.B.next(), { type: 'offer', peerId: s.ids.B, sdp: 'by peerId', senderId: s.ids.A });
      s.clients.A.send({ type: 'offer', receiverId: s.ids.C, peerId: s.ids.B, sdp: 'both' });
      assert.deepEqual(await s.clients.C.next(), { type: 'offer', receiverId: s.ids.C, peerId: s.ids.B, sdp: 'both', senderId: s.ids.A });
      // B got nothing more: the next thing it gets is this.
      s.clients.A.send({ receiverId: s.ids.B, marker: 1 });
      assert.deepEqual(await s.clients.B.next(), { receiverId: s.ids.B, marker: 1, senderId: s.ids.A });
    } finally {
      endSession(s);
    }
  });

  test('with notify_unknown, the sender of a frame for an unknown peer is told', async () => {
    const s = await session(notifying, ['A', 'B']);
    try {
      for (const unknown of ['nobody-has-this-id', '__proto__', 'constructor']) {
        s.clients.A.send({ type: 'offer', receiverId: unknown, sdp: 'x' });
        const got = await s.clients.A.next();
        assert.deepEqual(got, { type: 'error', code: 'unknown_receiver', receiverId: unknown }, got.__raw);
      }
      // by peerId too
      s.clients.A.send({ type: 'offer', peerId: 'gone-peer' });
      assert.deepEqual(await s.clients.A.next(), { type: 'error', code: 'unknown_receiver', receiverId: 'gone-peer' });
      // ignored frames get no error; the next frame A gets is its own marker
      for (const frame of ['not json', '[]', '{}', '{"type":"x"}']) s.clients.A.send(frame);
      s.clients.A.send({ receiverId: s.ids.A, marker: 1 });
      assert.deepEqual(await s.clients.A.next(), { receiverId: s.ids.A, marker: 1, senderId: s.ids.A });
      assert.equal(s.clients.B.pending(), 0);
    } finally {
      endSession(s);
    }
  });

  test('Object.prototype names as ids (__proto__, constructor, ...) crash nothing and reach nobody', async (t) => {
    // What the original does with them, for the record (it is not held against Switchboard).
    const original = await startOracle('signal-fire');
    try {
      const c = await Client.open(original.wsUrl('/'), { label: 'original' });
      c.id = (await c.next()).peerId;
      c.send({ receiverId: '__proto__', sdp: 'x' });
      c.send({ receiverId: c.id, marker: 1 });
      // Either the original dies (the connection closes) or it goes on (the marker frame comes back).
      const outcome = await c.next().then(() => null, () => original.exit);
      t.diagnostic(`original 0.5.3 on receiverId "__proto__": ${outcome ? `process exited ${JSON.stringify(outcome)}` : 'still running'}`);
      c.close();
    } finally {
      await original.stop();
    }

    const odd = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__', 'prototype'];
    const s = await session(sb, ['A', 'B']);
    try {
      for (const id of odd) {
        assert.deepEqual(await step(s, 'A', { type: 'offer', receiverId: id, sdp: 'x' }), [], `receiverId ${id}`);
        assert.deepEqual(await step(s, 'A', { type: 'offer', peerId: id, sdp: 'x' }), [], `peerId ${id}`);
        assert.deepEqual(await step(s, 'A', `{"receiverId":"${s.ids.B}","__proto__":{"receiverId":"${id}"},"constructor":1}`), [
          { to: 'B', frame: { receiverId: '<B>', ['__proto__']: { receiverId: id }, constructor: 1 } },
        ]);
      }
      assert.ok(sb.alive(), 'Switchboard still runs');
      const late = await session(sb, ['C']);
      endSession(late);
      assert.match(late.ids.C, SWITCHBOARD_ID);
    } finally {
      endSession(s);
    }
  });
});
