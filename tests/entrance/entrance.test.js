'use strict';
// COMPAT.md 1b event by event, with raw socket.io-client 2.5.0 sockets sending exactly what
// foglet-core's signaling sends. The same tests run against Switchboard (default) and, with
// ENTRANCE_TARGET=oracle, against the original foglet-signaling-server 1.0.3, where they all
// pass except the one assertion that COMPAT.md makes differently on purpose (the bounded tid
// memory), which checks the original's own behaviour there instead, and the switch
// `[compat.entrance] enabled`, which the original does not have (skipped there).
//
// An event that must not arrive is checked without waiting: after the event under test, a
// later event that must arrive is sent over the same path, and it has to be the next one the
// receiver gets (see Peer.nothingElse and the markers below).

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget, ORACLE } = require('./target');
const { Peer, unique, closeAll, queued, sprayOffer, sendNew, sendAccept } = require('./peer');

let server;

before(async () => {
  server = await startTarget();
});

afterEach(() => closeAll());

after(async () => {
  if (!server) return;
  const exited = server.exited;
  await server.stop();
  assert.equal(exited, null, `the server exited during the tests:\n${server.logs.join('\n')}`);
});

const connect = (label, opts) => Peer.connect(server.url, label, opts);
const newSpray = (offer) => ({ name: 'new_spray', args: [offer] });
const acceptSpray = (offer) => ({ name: 'accept_spray', args: [offer] });

/** `a` joins `room` first (connected), then `b` (not connected). */
async function entrance(room, opts) {
  const a = await connect('a', opts);
  const b = await connect('b', opts);
  assert.deepEqual(await a.join(room), { room, connected: true });
  assert.deepEqual(await b.join(room), { room, connected: false });
  return { a, b };
}

test('joinRoom where nobody is connected answers joinedRoom {room, connected: true}', async () => {
  const room = unique('room');
  const a = await connect('a');
  a.emit('joinRoom', { id: a.id, room });
  assert.deepEqual(await a.next(), { name: 'joinedRoom', args: [{ room, connected: true }] });
  await a.nothingElse();
});

test('a second and third joinRoom answer connected: false; another room is separate', async () => {
  const room = unique('room');
  const { a } = await entrance(room);
  const c = await connect('c');
  assert.deepEqual(await c.join(room), { room, connected: false });
  const other = unique('room');
  const d = await connect('d');
  assert.deepEqual(await d.join(other), { room: other, connected: true });
  // Nobody else heard of these joins.
  await a.nothingElse();
  await d.nothingElse();
});

test('new with an unknown tid reaches the connected member as new_spray <offer>, and nobody else', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  const c = await connect('c');
  assert.deepEqual(await c.join(room), { room, connected: false });

  const offer = sprayOffer(b, unique('tid'));
  sendNew(b, room, offer);
  assert.deepEqual(await a.next(), newSpray(offer));
  // Not back to the sender, not to a member that is not connected.
  await a.nothingElse();
  await b.nothingElse();
  await c.nothingElse();
});

test('connected {id, room} is echoed as connected <same data>, and the socket then gets offers', async () => {
  const room = unique('room');
  const { a, b: c } = await entrance(room);
  const data = { id: c.id, room };
  c.emit('connected', data);
  assert.deepEqual(await c.next(), { name: 'connected', args: [data] });

  // a and c are both connected now: a newcomer's offers (unknown tids) are spread between
  // them at random, each to exactly one, in the order they were sent.
  const b = await connect('b');
  assert.deepEqual(await b.join(room), { room, connected: false });
  const offers = Array.from({ length: 20 }, (_, i) => sprayOffer(b, unique(`tid${i}`)));
  for (const offer of offers) sendNew(b, room, offer);
  await queued([a, c], offers.length);
  const got = { a: a.queue.splice(0), c: c.queue.splice(0) };
  for (const [name, events] of Object.entries(got)) {
    for (const e of events) assert.equal(e.name, 'new_spray', `${name} got ${JSON.stringify(e)}`);
    const tids = events.map((e) => e.args[0].tid);
    assert.deepEqual(tids, offers.map((o) => o.tid).filter((t) => tids.includes(t)), `${name}'s offers are out of order`);
  }
  const tids = [...got.a, ...got.c].map((e) => e.args[0].tid).sort();
  assert.deepEqual(tids, offers.map((o) => o.tid).sort(), 'each offer reached exactly one connected member');
  assert.ok(got.a.length > 0 && got.c.length > 0, `all 20 offers went to one member (a: ${got.a.length}, c: ${got.c.length})`);
  for (const e of [...got.a, ...got.c]) assert.deepEqual(e.args[0], offers.find((o) => o.tid === e.args[0].tid));
  await a.nothingElse();
  await b.nothingElse();
  await c.nothingElse();

  // A connected member's own offers go to another connected member, never back to itself.
  const own = Array.from({ length: 5 }, (_, i) => sprayOffer(a, unique(`own${i}`)));
  for (const offer of own) sendNew(a, room, offer);
  for (const offer of own) assert.deepEqual(await c.next(), newSpray(offer));
  await a.nothingElse();
  await b.nothingElse();
});

test('new with a known tid goes to the member remembered for it, in order', async () => {
  const room = unique('room');
  const { a, b: c } = await entrance(room);
  c.emit('connected', { id: c.id, room });
  assert.equal((await c.next()).name, 'connected');
  const b = await connect('b');
  assert.deepEqual(await b.join(room), { room, connected: false });

  // The first offer of the tid picks a or c; the trickled candidates that follow under the
  // same tid all go to that one.
  const tid = unique('tid');
  const offers = Array.from({ length: 6 }, (_, i) => sprayOffer(b, tid, i));
  sendNew(b, room, offers[0]);
  await queued([a, c], 1);
  const [chosen, other] = a.queue.length ? [a, c] : [c, a];
  assert.deepEqual(await chosen.next(), newSpray(offers[0]));
  for (const offer of offers.slice(1)) sendNew(b, room, offer);
  for (const offer of offers.slice(1)) assert.deepEqual(await chosen.next(), newSpray(offer));
  await other.nothingElse();
  await chosen.nothingElse();
  await b.nothingElse();
});

test('new with a known tid is no longer forwarded once the sender is connected', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  const tid = unique('tid');
  sendNew(b, room, sprayOffer(b, tid, 0));
  assert.equal((await a.next()).name, 'new_spray');

  b.emit('connected', { id: b.id, room });
  assert.deepEqual(await b.next(), { name: 'connected', args: [{ id: b.id, room }] });
  const late = sprayOffer(b, tid, 1);
  sendNew(b, room, late);
  // Marker: an offer with a new tid, which goes to a (the only other connected member).
  const marker = sprayOffer(b, unique('marker'));
  sendNew(b, room, marker);
  assert.deepEqual(await a.next(), newSpray(marker));
  await b.nothingElse();
});

test('new when no other member is connected: the sender gets connected (no payload)', async () => {
  const room = unique('room');
  const a = await connect('a');
  assert.deepEqual(await a.join(room), { room, connected: true });
  sendNew(a, room, sprayOffer(a, unique('tid')));
  assert.deepEqual(await a.next(), { name: 'connected', args: [] });
  await a.nothingElse();
});

test('accept with a known tid reaches the remembered sender as accept_spray <offer>, each time', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  const tid = unique('tid');
  const offer = sprayOffer(b, tid);
  sendNew(b, room, offer);
  assert.deepEqual(await a.next(), newSpray(offer));

  // The answer and its trickled candidates, all under the offer's tid.
  const answers = [0, 1, 2].map((n) => sprayOffer(a, tid, n, 'MResponse'));
  for (const answer of answers) sendAccept(a, room, answer);
  for (const answer of answers) assert.deepEqual(await b.next(), acceptSpray(answer));
  await a.nothingElse();
  await b.nothingElse();
});

test('events sent with an acknowledgement id are handled and not acknowledged', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  const tid = unique('tid');
  const offer = sprayOffer(b, tid);
  b.emit('new', { id: b.id, tid, offer, room }, (...args) => b.push({ name: 'ack', args }));
  assert.deepEqual(await a.next(), newSpray(offer));
  const answer = sprayOffer(a, tid, 0, 'MResponse');
  a.emit('accept', { id: a.id, offer: answer, room }, (...args) => a.push({ name: 'ack', args }));
  assert.deepEqual(await b.next(), acceptSpray(answer));
  await a.nothingElse();
  await b.nothingElse();
});

test('accept with an unknown tid is dropped', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  const tid = unique('tid');
  sendNew(b, room, sprayOffer(b, tid));
  assert.equal((await a.next()).name, 'new_spray');

  sendAccept(a, room, sprayOffer(a, unique('unknown'), 0, 'MResponse'));
  // Marker: an accept of the known tid, which reaches b.
  const marker = sprayOffer(a, tid, 0, 'MResponse');
  sendAccept(a, room, marker);
  assert.deepEqual(await b.next(), acceptSpray(marker));
  await a.nothingElse();
  await b.nothingElse();
});

/**
 * Resolves once the server has removed a disconnected socket that was the only connected
 * member of `room`: `probe` joins `room` until the answer is connected: true (no event
 * announces a departure; each joinRoom is answered at once, so this waits for nothing but
 * the server).
 */
async function departed(probe, room, tries = 100) {
  for (let i = 0; i < tries; i++) {
    if ((await probe.join(room)).connected) return;
  }
  throw new Error(`${room} still had a connected member after ${tries} joinRoom`);
}

test('a disconnect removes the socket from its rooms: the entrance passes to the next member', async () => {
  const room = unique('room');
  const side = unique('side');
  const { a, b } = await entrance(room);
  // a is connected in a second room too, which the probe watches.
  assert.deepEqual(await a.join(side), { room: side, connected: true });
  a.close();
  const probe = await connect('probe');
  await departed(probe, side);

  // b is the only member left in room: its offer makes it the connected one.
  sendNew(b, room, sprayOffer(b, unique('tid')));
  assert.deepEqual(await b.next(), { name: 'connected', args: [] });
  // A newcomer is not first, and its offer goes to b.
  const c = await connect('c');
  assert.deepEqual(await c.join(room), { room, connected: false });
  const offer = sprayOffer(c, unique('tid'));
  sendNew(c, room, offer);
  assert.deepEqual(await b.next(), newSpray(offer));
  await b.nothingElse();
  await c.nothingElse();
});

test('a disconnected connected member gets no more offers: the next joiner of the room is first', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  a.close();
  const probe = await connect('probe');
  await departed(probe, room);
  // The probe is now the connected member; b's offer goes to it.
  const offer = sprayOffer(b, unique('tid'));
  sendNew(b, room, offer);
  assert.deepEqual(await probe.next(), newSpray(offer));
  await probe.nothingElse();
  await b.nothingElse();
});

test('the whole entrance over WebSocket-only clients', async () => {
  const room = unique('room');
  const opts = { transports: ['websocket'] };
  const { a, b } = await entrance(room, opts);
  const tid = unique('tid');
  const offer = sprayOffer(b, tid);
  sendNew(b, room, offer);
  assert.deepEqual(await a.next(), newSpray(offer));
  const answer = sprayOffer(a, tid, 0, 'MResponse');
  sendAccept(a, room, answer);
  assert.deepEqual(await b.next(), acceptSpray(answer));
  b.emit('connected', { id: b.id, room });
  assert.deepEqual(await b.next(), { name: 'connected', args: [{ id: b.id, room }] });
  await a.nothingElse();
});

test('an offer of 48 KB passes through untouched', async () => {
  const room = unique('room');
  const { a, b } = await entrance(room);
  const tid = unique('tid');
  const offer = sprayOffer(b, tid);
  offer.offer.sdp += `a=x-padding:${'é0'.repeat(16 * 1024)}\r\n`; // 48 KiB of UTF-8
  sendNew(b, room, offer);
  assert.deepEqual(await a.next(), newSpray(offer));
});

test(`the tid memory is bounded by limits.entrance_tids, oldest first${ORACLE ? ' (the original keeps every tid for 5 minutes)' : ''}`, async () => {
  const own = await startTarget({ config: { limits: { entrance_tids: 2 } } });
  try {
    const room = unique('room');
    const opts = {};
    const a = await Peer.connect(own.url, 'a', opts);
    const b = await Peer.connect(own.url, 'b', opts);
    assert.deepEqual(await a.join(room), { room, connected: true });
    assert.deepEqual(await b.join(room), { room, connected: false });
    const tids = [1, 2, 3].map((n) => unique(`tid${n}`));
    for (const tid of tids) {
      const offer = sprayOffer(b, tid);
      sendNew(b, room, offer);
      assert.deepEqual(await a.next(), newSpray(offer));
    }
    // Answers to all three, oldest first: the first tid was evicted by the third.
    const answers = tids.map((tid) => sprayOffer(a, tid, 0, 'MResponse'));
    for (const answer of answers) sendAccept(a, room, answer);
    const due = ORACLE ? answers : answers.slice(1);
    for (const answer of due) assert.deepEqual(await b.next(), acceptSpray(answer));
    await b.nothingElse();
    assert.equal(own.exited, null);
  } finally {
    closeAll();
    await own.stop();
  }
});

test('with [compat.entrance] enabled = false the entrance events go unanswered', { skip: ORACLE && 'the original has no such switch' }, async () => {
  const own = await startTarget({ config: { 'compat.entrance': { enabled: false } } });
  try {
    const a = await Peer.connect(own.url, 'a');
    const room = unique('room');
    a.emit('joinRoom', { id: a.id, room });
    a.emit('connected', { id: a.id, room });
    sendNew(a, room, sprayOffer(a, unique('tid')));
    // Marker: the webRTCWorkspaces endpoint on the same socket still answers.
    a.emit('iceservers', {});
    assert.equal((await a.next()).name, 'iceservers');
    assert.equal(own.exited, null);
  } finally {
    closeAll();
    await own.stop();
  }
});
