'use strict';
// COMPAT.md 1a: the webRTCWorkspaces events on the Socket.IO v2 endpoint, driven by the
// real socket.io-client (2.0.4, the version the webRTCWorkspaces page loads, and the latest
// 2.x) emitting exactly what webRTCWorkspaces.js emits, over both transports (polling then
// the upgrade, and WebSocket only). Then one workspace shared by a native /ws client and a
// Socket.IO client, every signal translated field by field. Events that must not arrive are
// checked without waiting: a marker that does arrive comes after them (socketio-helpers.js).
// Switchboard only (there is no original to compare with): skipped with COMPAT_TARGET=oracle.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./server');
const { TARGET } = require('./helpers');
const {
  VARIANTS,
  EVENT_TIMEOUT,
  SioClient,
  NativeClient,
  sioPool,
  sioServerOptions,
  stopServer,
  assertNothingElse,
  assertStunOnly,
  assertAttendeeCard,
  assertWorkspaceObject,
  workspaceCore,
  signJwt,
  jwtClaims,
  randomString,
  plain,
} = require('./socketio-helpers');

const skip = TARGET === 'oracle' ? 'Switchboard only' : false;

// Payloads the server must pass through untouched: what browsers produce, and the odd
// corners of JSON.
const OFFER = {
  type: 'offer',
  sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS ✓\r\n',
  extra: { n: 1.5e-7, big: 9007199254740991, neg: -0.25, list: [1, 'two', null, true, false, [], {}], empty: '', unicode: 'Zoë 🦄 \u2028' },
};
const ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n', nested: { a: { b: { c: [{ d: 'deep' }] } } } };
const CANDIDATE = { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.1 53421 typ srflx raddr 0.0.0.0 rport 0 generation 0', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'uF9b' };
const DESCRIPTION = { type: 'offer', sdp: 'v=0\r\no=- 99 3 IN IP4 127.0.0.1\r\ns=renegotiate\r\n' };

/**
 * A workspace of Socket.IO members: the first creates it (with `pin`), the others attend;
 * every `attend` push is taken. Resolves to the clients, the owner first.
 */
async function workspaceOf(connect, names, { pin = '', name = 'Team' } = {}) {
  const owner = await connect(names[0]);
  await owner.create({ name, pin, attendeeName: names[0] });
  const members = [owner];
  for (const attendeeName of names.slice(1)) {
    const c = await connect(attendeeName);
    await c.attend(owner.workspace.token, { pin, name: attendeeName });
    for (const m of members) assert.deepEqual(await m.expect('attend', `attend ${attendeeName}`), c.card(), `${m.label} sees ${attendeeName} arrive`);
    members.push(c);
  }
  return members;
}

/** The attendees map the server should answer for these members. */
const attendeesOf = (...members) => Object.fromEntries(members.map((m) => [m.attendee.id, m.card()]));

describe('COMPAT 1a: webRTCWorkspaces events', { skip }, () => {
  let server;
  before(async () => {
    server = await startServer(sioServerOptions());
  });
  after(async () => {
    await stopServer(server, 'socketio-1a');
  });

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      const pool = () => sioPool(server.url, variant);

      test('create answers created {workspace, attendee, accessToken, nonce}, then the member\'s iceservers', async () => {
        const connect = pool();
        try {
          // connect() checks the iceservers answered before any membership: STUN only.
          const a = await connect('Ada');
          const nonce = a.emitCreate('Daily 🦄 standup', '', 'Ada');
          const created = await a.expect('created');
          assert.deepEqual(Object.keys(created).sort(), ['accessToken', 'attendee', 'nonce', 'workspace'], JSON.stringify(created));
          assert.equal(created.nonce, nonce, 'the nonce is echoed');
          assertWorkspaceObject(created.workspace, 'created');
          assertAttendeeCard(created.attendee, 'created');
          assert.equal(created.workspace.name, 'Daily 🦄 standup');
          assert.equal(created.workspace.avatar, '');
          assert.deepEqual(created.attendee, { id: created.attendee.id, name: 'Ada', avatar: '' });
          assert.equal(created.workspace.owner, created.attendee.id, 'the creator owns it');
          assert.notEqual(created.workspace.id, created.attendee.id);
          // The tokens are the native ones: an invite to this workspace, a session of its owner.
          assert.deepEqual(
            { typ: jwtClaims(created.workspace.token).typ, wid: jwtClaims(created.workspace.token).wid },
            { typ: 'invite', wid: created.workspace.id },
          );
          const session = jwtClaims(created.accessToken);
          assert.deepEqual(
            { typ: session.typ, wid: session.wid, sub: session.sub, role: session.role },
            { typ: 'session', wid: created.workspace.id, sub: created.attendee.id, role: 'owner' },
          );
          a.keep(created);
          // Right after the grant: the member's full list (TURN credentials included).
          await a.expectMemberIceServers('created');
          a.emitAttendees();
          assert.deepEqual(await a.expect('attendees'), { attendees: attendeesOf(a) });

          // Names follow the native rules: trimmed, defaults when empty, at most 64 characters.
          const b = await connect('defaults');
          const defaults = await b.create({ name: '', attendeeName: '' });
          assert.equal(defaults.workspace.name, 'Untitled Workspace');
          assert.equal(defaults.attendee.name, 'Anonymous');
          const c = await connect('trimmed');
          const trimmed = await c.create({ name: 'w'.repeat(64), attendeeName: '  Cy  ' });
          assert.equal(trimmed.workspace.name, 'w'.repeat(64));
          assert.equal(trimmed.attendee.name, 'Cy');
          assert.notEqual(trimmed.workspace.id, defaults.workspace.id, 'each create makes a new workspace');
          await assertNothingElse(a, [], [b, c], 'after the creates');
        } finally {
          connect.closeAll();
        }
      });

      test('create refuses bad input with an alert, and the socket can create afterwards', async () => {
        const connect = pool();
        try {
          const d = await connect('Dee');
          const good = () => ({ workspace: { name: 'W', pin: '', avatar: '' }, attendee: { name: 'Dee', avatar: '' }, nonce: 'create-workspace::x' });
          // (Every field of create is optional, as in the native create: a missing payload,
          // workspace or attendee gives the default names.)
          const bad = [
            ['a string payload', 'create'],
            ['a null payload', null],
            ['an array payload', [good()]],
            ['a workspace that is a string', { ...good(), workspace: 'W' }],
            ['a workspace name that is a number', { ...good(), workspace: { name: 7, pin: '', avatar: '' } }],
            ['an attendee name that is an object', { ...good(), attendee: { name: { first: 'Dee' }, avatar: '' } }],
            ['a workspace name of 65 characters', { ...good(), workspace: { name: 'w'.repeat(65), pin: '', avatar: '' } }],
            ['an attendee name of 65 characters', { ...good(), attendee: { name: 'a'.repeat(65), avatar: '' } }],
            ['a name with a control character', { ...good(), attendee: { name: 'De\u0007e', avatar: '' } }],
            ['a PIN of 3 characters', { ...good(), workspace: { name: 'W', pin: '123', avatar: '' } }],
            ['a PIN of 65 characters', { ...good(), workspace: { name: 'W', pin: '1'.repeat(65), avatar: '' } }],
            ['a PIN that is an object', { ...good(), workspace: { name: 'W', pin: { pin: '1234' }, avatar: '' } }],
          ];
          for (const [what, payload] of bad) {
            d.emit('create', payload);
            await d.expectAlert(`create with ${what}`);
          }
          await d.assertQuiet('after the refused creates');
          const created = await d.create({ name: 'W', attendeeName: 'Dee' });
          d.emitAttendees();
          assert.deepEqual(await d.expect('attendees'), { attendees: attendeesOf(d) }, 'the refused creates made no member');
          assert.equal(created.workspace.name, 'W');
        } finally {
          connect.closeAll();
        }
      });

      test('attend without a PIN: attendance-granted {workspace with call null, attendee, attendees, accessToken, nonce}; the others get attend', async () => {
        const connect = pool();
        try {
          const a = await connect('Ada');
          const created = await a.create({ name: 'Open', attendeeName: 'Ada' });
          const b = await connect('Bob');
          const nonce = b.emitAttend(created.workspace.token, '', 'Bob');
          const granted = await b.expect('attendance-granted');
          assert.deepEqual(Object.keys(granted).sort(), ['accessToken', 'attendee', 'attendees', 'nonce', 'workspace'], JSON.stringify(granted));
          assert.equal(granted.nonce, nonce);
          assertWorkspaceObject(granted.workspace, 'attendance-granted', ['call']);
          assert.equal(granted.workspace.call, null);
          assert.deepEqual(workspaceCore(granted.workspace), workspaceCore(created.workspace), 'the same workspace');
          assert.equal(jwtClaims(granted.workspace.token).wid, created.workspace.id);
          assertAttendeeCard(granted.attendee, 'attendance-granted');
          assert.deepEqual(granted.attendee, { id: granted.attendee.id, name: 'Bob', avatar: '' });
          assert.notEqual(granted.attendee.id, a.attendee.id);
          const claims = jwtClaims(granted.accessToken);
          assert.deepEqual({ sub: claims.sub, wid: claims.wid, role: claims.role }, { sub: granted.attendee.id, wid: created.workspace.id, role: 'attendee' });
          b.keep(granted);
          assert.deepEqual(granted.attendees, attendeesOf(a, b), 'the owner and the newcomer');
          await b.expectMemberIceServers('attendance-granted');
          assert.deepEqual(await a.expect('attend'), b.card(), 'the owner sees Bob arrive');

          // The client may leave the PIN out altogether.
          const c = await connect('Cy');
          c.emit('attend', { workspace: { token: created.workspace.token }, attendee: { name: 'Cy', avatar: '' }, nonce: 'attend-workspace::c' });
          const grantedC = await c.expect('attendance-granted');
          c.keep(grantedC);
          assert.equal(grantedC.nonce, 'attend-workspace::c');
          assert.deepEqual(grantedC.attendees, attendeesOf(a, b, c));
          await c.expectMemberIceServers('attendance-granted');
          for (const m of [a, b]) assert.deepEqual(await m.expect('attend'), c.card(), `${m.label} sees Cy arrive`);

          // attendees: everyone, the owner and the asker included.
          for (const m of [a, b, c]) {
            m.emitAttendees();
            assert.deepEqual(await m.expect('attendees'), { attendees: attendeesOf(a, b, c) }, `${m.label}'s attendees`);
          }
          await assertNothingElse(a, [b, c], [], 'after the attends');
        } finally {
          connect.closeAll();
        }
      });

      test('attend with a PIN: the right one is granted; a wrong or missing one is an alert and nothing else happens', async () => {
        const connect = pool();
        try {
          const a = await connect('Ada');
          const created = await a.create({ name: 'Locked', pin: '4242', attendeeName: 'Ada' });
          assert.equal(created.workspace.pin, undefined, 'the PIN is never sent back');
          const b = await connect('Bob');
          b.emitAttend(created.workspace.token, '0000', 'Bob');
          await b.expectAlert('a wrong PIN');
          b.emitAttend(created.workspace.token, '', 'Bob');
          await b.expectAlert('an empty PIN');
          b.emit('attend', { workspace: { token: created.workspace.token }, attendee: { name: 'Bob', avatar: '' }, nonce: 'n' });
          await b.expectAlert('no PIN');
          await assertNothingElse(a, [], [b], 'after the refused attends');
          a.emitAttendees();
          assert.deepEqual(await a.expect('attendees'), { attendees: attendeesOf(a) }, 'nobody got in');
          const granted = await b.attend(created.workspace.token, { pin: '4242', name: 'Bob' });
          assert.deepEqual(granted.attendees, attendeesOf(a, b));
          assert.deepEqual(await a.expect('attend'), b.card());

          // A page that passes its PIN as a number: the workspace is protected by it, or the
          // create is refused; never created without a PIN (as the original server did).
          const n = await connect('Numeric');
          n.emit('create', { workspace: { name: 'Numeric', pin: 98765, avatar: '' }, attendee: { name: 'Num', avatar: '' }, nonce: 'n' });
          const answer = await n.next();
          if (answer.name === 'created') {
            n.keep(answer.data);
            await n.expectMemberIceServers('created');
            const m = await connect('Guest of Numeric');
            m.emitAttend(answer.data.workspace.token, '', 'Guest');
            await m.expectAlert('no PIN for a workspace created with a numeric PIN');
            await m.attend(answer.data.workspace.token, { pin: '98765', name: 'Guest' });
            assert.deepEqual(await n.expect('attend'), m.card());
          } else {
            assert.equal(answer.name, 'alert', `create with a numeric PIN: ${JSON.stringify(answer)}`);
          }
        } finally {
          connect.closeAll();
        }
      });

      test('attend refuses bad input with an alert, and nothing else happens', async () => {
        const connect = pool();
        try {
          const a = await connect('Ada');
          const { workspace } = await a.create({ name: 'Team', attendeeName: 'Ada' });
          const d = await connect('Dee');
          const good = () => ({ workspace: { token: workspace.token, pin: '' }, attendee: { name: 'Dee', avatar: '' }, nonce: 'n' });
          const bad = [
            ['no payload', undefined],
            ['a number payload', 42],
            ['no workspace', { ...good(), workspace: undefined }],
            ['no invite token', { ...good(), workspace: { pin: '' } }],
            ['an invite token that is a number', { ...good(), workspace: { token: 42, pin: '' } }],
            ['a workspace that is a string', { ...good(), workspace: workspace.token }],
            ['an attendee name that is a number', { ...good(), attendee: { name: 5, avatar: '' } }],
            ['an attendee name of 65 characters', { ...good(), attendee: { name: 'd'.repeat(65), avatar: '' } }],
          ];
          for (const [what, payload] of bad) {
            if (payload === undefined) d.emit('attend');
            else d.emit('attend', payload);
            await d.expectAlert(`attend with ${what}`);
          }
          await assertNothingElse(a, [], [d], 'after the refused attends');
          a.emitAttendees();
          assert.deepEqual(await a.expect('attendees'), { attendees: attendeesOf(a) });
        } finally {
          connect.closeAll();
        }
      });

      test('a full workspace answers full {} and nothing else happens; a freed seat can be taken', async () => {
        const connect = pool();
        try {
          // max_capacity is 3 on this server, the owner included.
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          const d = await connect('Dee');
          d.emitAttend(a.workspace.token, '', 'Dee');
          assert.deepEqual(await d.expect('full'), {});
          await assertNothingElse(a, [b, c], [d], 'after full');
          b.emitLeave();
          for (const m of [a, c]) assert.deepEqual(await m.expect('leave'), b.card());
          const granted = await d.attend(a.workspace.token, { name: 'Dee' });
          assert.deepEqual(granted.attendees, attendeesOf(a, c, d));
          for (const m of [a, c]) assert.deepEqual(await m.expect('attend'), d.card());
        } finally {
          connect.closeAll();
        }
      });

      test('an unknown or expired invite answers destroyed {}', async () => {
        const connect = pool();
        try {
          const d = await connect('Dee');
          // A workspace that was destroyed.
          const gone = await connect('Gone');
          const { workspace } = await gone.create({ name: 'Gone' });
          gone.emitDestroy();
          assert.deepEqual(await gone.expect('destroyed'), {});
          d.emitAttend(workspace.token, '', 'Dee');
          assert.deepEqual(await d.expect('destroyed'), {}, 'the invite of a destroyed workspace');
          // A workspace that never existed (a well-signed invite).
          const now = Math.floor(Date.now() / 1000);
          d.emitAttend(signJwt({ typ: 'invite', wid: `_${randomString(10)}`, ver: 0, iat: now }), '', 'Dee');
          assert.deepEqual(await d.expect('destroyed'), {}, 'an invite to a workspace that never existed');
          // An expired invite to a live workspace.
          const live = await connect('Live');
          const liveCreated = await live.create({ name: 'Live' });
          d.emitAttend(signJwt({ typ: 'invite', wid: liveCreated.workspace.id, ver: 0, iat: now - 120, exp: now - 60 }), '', 'Dee');
          assert.deepEqual(await d.expect('destroyed'), {}, 'an expired invite');
          await assertNothingElse(live, [], [d, gone], 'after the refused attends');
          live.emitAttendees();
          assert.deepEqual(await live.expect('attendees'), { attendees: attendeesOf(live) });
        } finally {
          connect.closeAll();
        }
      });

      test('re-attend after a reconnect: re-attendance-granted with call null, nonce "" and a fresh accessToken; the others get attend', async () => {
        const connect = pool();
        try {
          const [a, b] = await workspaceOf(connect, ['Ada', 'Bob']);
          const stored = { workspace: b.workspace, attendee: b.attendee, accessToken: b.accessToken };
          b.close();
          // The page reloads: a new socket, iceservers first (STUN only: no membership yet).
          const b2 = await connect('Bob again');
          b2.emitReAttend(stored);
          const granted = await b2.expect('re-attendance-granted');
          assert.deepEqual(Object.keys(granted).sort(), ['accessToken', 'attendee', 'attendees', 'call', 'nonce', 'workspace'], JSON.stringify(granted));
          assert.equal(granted.call, null, 'call is always null');
          assert.equal(granted.nonce, '');
          assert.deepEqual(workspaceCore(granted.workspace), workspaceCore(a.workspace));
          if ('call' in granted.workspace) assert.equal(granted.workspace.call, null);
          assert.deepEqual(granted.attendee, b.card());
          assert.deepEqual(granted.attendees, attendeesOf(a, b));
          assert.equal(typeof granted.accessToken, 'string');
          const fresh = jwtClaims(granted.accessToken);
          const old = jwtClaims(stored.accessToken);
          assert.deepEqual({ sub: fresh.sub, wid: fresh.wid }, { sub: b.attendee.id, wid: a.workspace.id });
          assert.ok(fresh.exp >= old.exp && fresh.iat >= old.iat, 'a newly minted session token');
          b2.keep(granted);
          await b2.expectMemberIceServers('re-attendance-granted');
          assert.deepEqual(await a.expect('attend'), b.card(), 'the others see the returning attendee arrive');
          // The fresh token works, and relays reach the new socket.
          b2.emitAttendees();
          assert.deepEqual(await b2.expect('attendees'), { attendees: attendeesOf(a, b2) });
          await assertNothingElse(a, [b2], [], 'after the re-attend');
          await assertNothingElse(b2, [a], [], 'after the re-attend');
        } finally {
          connect.closeAll();
        }
      });

      test('ring, answer, busy and hangup: the pushes of the table, payloads untouched', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          const callId = a.nonceSalt.slice(0, 7);
          // Ada rings Bob.
          const sent = a.emitRing(b.attendee.id, callId, OFFER);
          const ring = await b.expect('ring');
          assert.deepEqual(Object.keys(ring).sort(), ['call', 'caller', 'nonce', 'offer', 'workspace'], JSON.stringify(ring));
          assert.deepEqual(ring.caller, a.card());
          assert.deepEqual(ring.offer, OFFER, 'the offer is untouched');
          assert.deepEqual(ring.call, { id: callId });
          assert.equal(ring.nonce, sent.nonce);
          assert.deepEqual(workspaceCore(ring.workspace), workspaceCore(a.workspace), 'the workspace object');
          // Bob answers (echoing the workspace, the call and the nonce, as the client does).
          b.emitAnswer(ring, ANSWER);
          const answer = await a.expect('answer');
          assert.deepEqual(Object.keys(answer).sort(), ['answer', 'call', 'callee', 'nonce', 'workspace'], JSON.stringify(answer));
          assert.deepEqual(answer.callee, b.card());
          assert.deepEqual(answer.answer, ANSWER, 'the answer is untouched');
          assert.equal(answer.call.id, callId);
          assert.equal(answer.nonce, sent.nonce);
          assert.deepEqual(workspaceCore(answer.workspace), workspaceCore(a.workspace));
          // Ada rings Cy, who is busy: Ada only is told.
          const sentC = a.emitRing(c.attendee.id, callId, OFFER);
          const ringC = await c.expect('ring');
          assert.equal(ringC.nonce, sentC.nonce);
          c.emitBusy(ringC);
          const busy = await a.expect('busy');
          assert.deepEqual(Object.keys(busy).sort(), ['call', 'callee', 'workspace'], JSON.stringify(busy));
          assert.deepEqual(busy.callee, c.card());
          assert.equal(busy.call.id, callId);
          assert.deepEqual(workspaceCore(busy.workspace), workspaceCore(a.workspace));
          await assertNothingElse(a, [b, c], [], 'after ring, answer and busy');
          // Bob hangs up: everyone else is told.
          b.emitHangup(callId);
          for (const m of [a, c]) {
            const hangup = await m.expect('hangup');
            assert.deepEqual(Object.keys(hangup).sort(), ['attendee', 'call'], JSON.stringify(hangup));
            assert.deepEqual(hangup.attendee, b.card());
            assert.equal(hangup.call.id, callId);
          }
          // Ada (the owner) hangs up: everyone else is told.
          a.emitHangup(callId);
          for (const m of [b, c]) {
            const hangup = await m.expect('hangup');
            assert.deepEqual(hangup.attendee, a.card());
            assert.equal(hangup.call.id, callId);
          }
          await assertNothingElse(a, [b, c], [], 'after the hangups');
          await assertNothingElse(b, [a], [], 'after the hangups');
        } finally {
          connect.closeAll();
        }
      });

      test('icecandidate and negotiation reach their target only, shaped as the table says', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          a.emitIceCandidate(b.attendee.id, CANDIDATE);
          assert.deepEqual(await b.expect('icecandidate'), { attendee: { id: b.attendee.id }, broadcaster: { id: a.attendee.id }, candidate: CANDIDATE });
          b.emitIceCandidate(a.attendee.id, { ...CANDIDATE, sdpMid: '1' });
          assert.deepEqual(await a.expect('icecandidate'), { attendee: { id: a.attendee.id }, broadcaster: { id: b.attendee.id }, candidate: { ...CANDIDATE, sdpMid: '1' } });
          const offer = { type: 'offer', data: DESCRIPTION };
          a.emitNegotiation(b.attendee.id, offer);
          assert.deepEqual(await b.expect('negotiation'), { attendee: { id: a.attendee.id }, message: offer });
          const reply = { type: 'answer', data: { ...ANSWER } };
          b.emitNegotiation(a.attendee.id, reply);
          assert.deepEqual(await a.expect('negotiation'), { attendee: { id: b.attendee.id }, message: reply });
          await assertNothingElse(a, [b], [c], 'Cy got none of it');
        } finally {
          connect.closeAll();
        }
      });

      test('mic-toggle and cam-toggle reach every other member as {attendee: {id}, state}', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          a.emitToggle('mic-toggle', false);
          for (const m of [b, c]) assert.deepEqual(await m.expect('mic-toggle'), { attendee: { id: a.attendee.id }, state: false });
          b.emitToggle('cam-toggle', true);
          for (const m of [a, c]) assert.deepEqual(await m.expect('cam-toggle'), { attendee: { id: b.attendee.id }, state: true });
          a.emitToggle('mic-toggle', true);
          for (const m of [b, c]) assert.deepEqual(await m.expect('mic-toggle'), { attendee: { id: a.attendee.id }, state: true });
          await assertNothingElse(a, [b, c], [], 'the sender does not get its own toggle');
          await assertNothingElse(b, [a], [], 'the sender does not get its own toggle');
        } finally {
          connect.closeAll();
        }
      });

      test('a relay to someone who is not a member, or is offline, is dropped without an event', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          const [x] = await workspaceOf(connect, ['Xi']);
          const nobody = `_${randomString(10)}`;
          a.emitRing(nobody, 'c1', OFFER);
          a.emitIceCandidate(nobody, CANDIDATE);
          a.emitRing(x.attendee.id, 'c1', OFFER);
          a.emitNegotiation(x.attendee.id, { type: 'offer', data: DESCRIPTION });
          await assertNothingElse(a, [b, c], [x], 'relays to non-members');
          // Bob goes offline (his socket closes): relays to him are dropped.
          const stored = { workspace: b.workspace, attendee: b.attendee, accessToken: b.accessToken };
          b.close();
          for (let i = 0; i < 3; i++) a.emitIceCandidate(b.attendee.id, { ...CANDIDATE, i });
          a.emitRing(b.attendee.id, 'c2', OFFER);
          await assertNothingElse(a, [c], [], 'relays to an offline member');
          // When he is back, nothing was kept for him.
          const b2 = await connect('Bob again');
          b2.emitReAttend(stored);
          b2.keep(await b2.expect('re-attendance-granted'));
          await b2.expectMemberIceServers('re-attendance-granted');
          for (const m of [a, c]) assert.deepEqual(await m.expect('attend'), b.card());
          await assertNothingElse(a, [b2], [], 'nothing queued for the returning member');
        } finally {
          connect.closeAll();
        }
      });

      test('leave: the others get leave <the server\'s copy>, the token stops working; the owner\'s leave is an alert', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          const card = b.card();
          // The client sends its stored attendee object; the others get the server's copy.
          b.emitLeave({ ...b.attendee, name: 'Someone Else', avatar: 'spoof.png', isOnCall: true });
          for (const m of [a, c]) assert.deepEqual(await m.expect('leave'), card, `${m.label} sees Bob leave`);
          await assertNothingElse(a, [c], [], 'after the leave');
          // Bob got nothing, and his socket has no membership any more.
          b.emit('iceservers', {});
          assertStunOnly(await b.expect('iceservers'), 'iceservers after leaving');
          b.emitAttendees();
          await b.expectAlert('the token of a membership that was left');
          b.emitIceCandidate(a.attendee.id, CANDIDATE);
          await b.expectAlert('a relay with the token of a membership that was left');
          a.emitAttendees();
          assert.deepEqual(await a.expect('attendees'), { attendees: attendeesOf(a, c) });
          // The owner cannot leave.
          a.emitLeave();
          await a.expectAlert("the owner's leave");
          await assertNothingElse(a, [c], [b], "after the owner's leave");
          a.emitAttendees();
          assert.deepEqual(await a.expect('attendees'), { attendees: attendeesOf(a, c) }, 'the owner is still there');
        } finally {
          connect.closeAll();
        }
      });

      test('kick: the owner, the kicked socket and every other member get kicked <attendee>; the kicked token stops working', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          const card = b.card();
          const stored = { workspace: b.workspace, attendee: b.attendee, accessToken: b.accessToken };
          // Only the owner kicks, and not themself, and only members.
          c.emitKick(b.attendee);
          await c.expectAlert('a kick by a non-owner');
          a.emitKick(a.attendee);
          await a.expectAlert('the owner kicking themself');
          a.emitKick({ id: `_${randomString(10)}`, name: 'Nobody' });
          await a.expectAlert('a kick of a non-member');
          await assertNothingElse(a, [b, c], [], 'after the refused kicks');

          a.emitKick(b.attendee);
          for (const m of [a, b, c]) assert.deepEqual(await m.expect('kicked'), card, `${m.label} gets kicked <Bob>`);
          await assertNothingElse(a, [c], [], 'after the kick');
          a.emitAttendees();
          assert.deepEqual(await a.expect('attendees'), { attendees: attendeesOf(a, c) });
          // The kicked token no longer works.
          const k = await connect('with the kicked token');
          k.emitReAttend(stored);
          await k.expectAlert('re-attend with the kicked token');
          k.keep(stored);
          k.emitRing(a.attendee.id, 'k1', OFFER);
          await k.expectAlert('a ring with the kicked token');
          k.emitAttendees();
          await k.expectAlert('attendees with the kicked token');
          await assertNothingElse(a, [c], [k], 'after the kicked token was refused');
          // The kicked socket stays connected, as the original server left it: its token is
          // refused there too, and it can attend again, as a new member.
          b.emitAttendees();
          await b.expectAlert('the kicked token on the kicked socket');
          const again = await b.attend(a.workspace.token, { name: 'Bob' });
          assert.notEqual(again.attendee.id, card.id, 'a new membership');
          for (const m of [a, c]) assert.deepEqual(await m.expect('attend'), b.card());
        } finally {
          connect.closeAll();
        }
      });

      test('destroy: everyone gets destroyed {}; stale tokens and the invite then get destroyed {}', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          b.emitDestroy();
          await b.expectAlert('a destroy by a non-owner');
          await assertNothingElse(a, [b, c], [], 'after the refused destroy');
          a.emitDestroy();
          for (const m of [a, b, c]) assert.deepEqual(await m.expect('destroyed'), {}, `${m.label} gets destroyed`);
          // Stale tokens: destroyed {} (the client then forgets the workspace).
          b.emitAttendees();
          assert.deepEqual(await b.expect('destroyed'), {}, 'attendees with a stale token');
          a.emitRing(b.attendee.id, 'd1', OFFER);
          assert.deepEqual(await a.expect('destroyed'), {}, 'ring with a stale token');
          c.emitToggle('mic-toggle', false);
          assert.deepEqual(await c.expect('destroyed'), {}, 'mic-toggle with a stale token');
          const c2 = await connect('Cy again');
          c2.emitReAttend(c);
          assert.deepEqual(await c2.expect('destroyed'), {}, 're-attend with a stale token');
          c2.emitAttend(a.workspace.token, '', 'Cy');
          assert.deepEqual(await c2.expect('destroyed'), {}, 'attend with the invite');
          // The sockets are free again.
          for (const m of [a, b, c]) {
            m.emit('iceservers', {});
            assertStunOnly(await m.expect('iceservers'), `${m.label}: iceservers after destroy`);
            await m.assertQuiet('after destroy');
          }
        } finally {
          connect.closeAll();
        }
      });

      test('every refusal (bad token, another workspace\'s token, a sender id not the token\'s own, missing fields, wrong types) is an alert and nothing else happens', async () => {
        const connect = pool();
        try {
          const [a, b, c] = await workspaceOf(connect, ['Ada', 'Bob', 'Cy']);
          const [x] = await workspaceOf(connect, ['Xi'], { name: 'Elsewhere' });
          const wid = a.workspace.id;
          const now = Math.floor(Date.now() / 1000);
          const callId = 'refusal-call';
          // Each member event as the client sends it, by whom, which key names the sender and
          // which other keys it cannot do without. (`workspace` is not among them: the token
          // names the workspace; a workspace id that is there must be the token's.)
          const events = [
            { name: 'attendees', by: a, sender: 'attendee', payload: () => ({ workspace: { id: wid }, attendee: { id: a.attendee.id }, accessToken: a.accessToken }) },
            { name: 'leave', by: b, sender: 'attendee', payload: () => ({ workspace: { id: wid }, attendee: { ...b.attendee }, accessToken: b.accessToken }) },
            {
              name: 'kick',
              by: a,
              sender: 'attendee',
              needs: ['kickedAttendee'],
              payload: () => ({ workspace: { id: wid }, attendee: { id: a.attendee.id }, kickedAttendee: { id: c.attendee.id, name: c.attendee.name }, accessToken: a.accessToken }),
              types: [['a kickedAttendee that is a string', (p) => ({ ...p, kickedAttendee: c.attendee.id })], ['a kickedAttendee id that is a number', (p) => ({ ...p, kickedAttendee: { id: 3 } })]],
            },
            { name: 'destroy', by: a, sender: 'attendee', payload: () => ({ workspace: { id: wid }, attendee: { id: a.attendee.id }, accessToken: a.accessToken }) },
            { name: 're-attend', by: b, sender: 'attendee', noExpired: true, payload: () => ({ workspace: { ...b.workspace }, attendee: { ...b.attendee }, accessToken: b.accessToken }) },
            {
              name: 'ring',
              by: a,
              sender: 'attendee',
              needs: ['call', 'callee'],
              payload: () => ({ workspace: { id: wid }, attendee: { ...a.attendee }, accessToken: a.accessToken, call: { id: callId }, callee: { id: b.attendee.id }, offer: OFFER, nonce: a.nonce('start-call', callId) }),
              types: [['a call that is a string', (p) => ({ ...p, call: callId })], ['a call id that is a number', (p) => ({ ...p, call: { id: 1 } })], ['a callee id that is a number', (p) => ({ ...p, callee: { id: 1 } })]],
            },
            {
              name: 'answer',
              by: b,
              sender: 'attendee',
              needs: ['call', 'caller'],
              payload: () => ({ workspace: { ...a.workspace }, attendee: { ...b.attendee }, call: { id: callId }, caller: { id: a.attendee.id }, answer: ANSWER, accessToken: b.accessToken, nonce: 'n' }),
              types: [['a caller that is a string', (p) => ({ ...p, caller: a.attendee.id })]],
            },
            {
              name: 'busy',
              by: b,
              sender: 'attendee',
              needs: ['call', 'caller'],
              payload: () => ({ workspace: { ...a.workspace }, attendee: { ...b.attendee }, call: { id: callId }, caller: { id: a.attendee.id }, accessToken: b.accessToken, nonce: 'n' }),
              types: [['a caller id that is a number', (p) => ({ ...p, caller: { id: 9 } })]],
            },
            {
              name: 'hangup',
              by: a,
              sender: 'attendee',
              needs: ['call'],
              payload: () => ({ workspace: { id: wid }, attendee: { ...a.attendee }, call: { id: callId }, accessToken: a.accessToken }),
              types: [['a call that is a number', (p) => ({ ...p, call: 5 })]],
            },
            {
              name: 'icecandidate',
              by: a,
              sender: 'broadcaster',
              needs: ['attendee'],
              payload: () => ({ attendee: { id: b.attendee.id }, broadcaster: { id: a.attendee.id }, workspace: { id: wid }, accessToken: a.accessToken, candidate: CANDIDATE }),
              types: [['a target id that is a number', (p) => ({ ...p, attendee: { id: 2 } })], ['a target that is a string', (p) => ({ ...p, attendee: b.attendee.id })]],
            },
            {
              name: 'negotiation',
              by: a,
              sender: 'broadcaster',
              needs: ['attendee'],
              payload: () => ({ attendee: { id: b.attendee.id }, broadcaster: { id: a.attendee.id }, workspace: { id: wid }, accessToken: a.accessToken, message: { type: 'offer', data: DESCRIPTION } }),
              types: [['a target id that is a number', (p) => ({ ...p, attendee: { id: 2 } })]],
            },
            { name: 'mic-toggle', by: a, sender: 'attendee', needs: ['state'], payload: () => ({ workspace: { id: wid }, accessToken: a.accessToken, attendee: { id: a.attendee.id }, state: false }) },
            { name: 'cam-toggle', by: b, sender: 'attendee', needs: ['state'], payload: () => ({ workspace: { id: wid }, accessToken: b.accessToken, attendee: { id: b.attendee.id }, state: true }) },
          ];
          const NONE = Symbol('no payload');
          const without = (p, key) => {
            const q = { ...p };
            delete q[key];
            return q;
          };
          for (const ev of events) {
            const other = ev.by === c ? b : c; // a member of the workspace that is not the sender
            const withSender = (p, id) => ({ ...p, [ev.sender]: { ...p[ev.sender], id } });
            const claims = jwtClaims(ev.by.accessToken);
            const mutations = [
              ['no payload', () => NONE],
              ['a payload that is a string', () => 'payload'],
              ['a payload that is null', () => null],
              ['a payload that is an array', (p) => [p]],
              ['a token that is not a JWT', (p) => ({ ...p, accessToken: 'not-a-token' })],
              ['a token signed with another secret', (p) => ({ ...p, accessToken: signJwt(claims, 'another-secret-0123456789abcdef0123456789') })],
              ...(ev.noExpired
                ? []
                : [
                    ['an expired token', (p) => ({ ...p, accessToken: signJwt({ ...claims, iat: now - 7200, exp: now - 3600 }) })],
                    ['an expired token of another member', (p) => ({ ...p, accessToken: signJwt({ ...jwtClaims(other.accessToken), iat: now - 7200, exp: now - 3600 }) })],
                  ]),
              ['an invite token', (p) => ({ ...p, accessToken: a.workspace.token })],
              ['the token of another member', (p) => ({ ...p, accessToken: other.accessToken })],
              ['the token of another workspace', (p) => ({ ...p, accessToken: x.accessToken })],
              ['the token of another workspace, with its own ids', (p) => withSender({ ...p, accessToken: x.accessToken }, x.attendee.id)],
              ["a sender id that is not the token's own", (p) => withSender(p, other.attendee.id)],
              ['no accessToken', (p) => without(p, 'accessToken')],
              [`no ${ev.sender}`, (p) => without(p, ev.sender)],
              ...(ev.needs || []).map((key) => [`no ${key}`, (p) => without(p, key)]),
              ['an accessToken that is a number', (p) => ({ ...p, accessToken: 12345 })],
              ['a workspace that is a string', (p) => ({ ...p, workspace: wid })],
              ['a workspace id that is a number', (p) => ({ ...p, workspace: { ...p.workspace, id: 7 } })],
              [`a ${ev.sender} that is a string`, (p) => ({ ...p, [ev.sender]: p[ev.sender].id })],
              [`a ${ev.sender} id that is a number`, (p) => withSender(p, 7)],
              ...(ev.types || []),
            ];
            for (const [what, mutate] of mutations) {
              const payload = mutate(ev.payload());
              if (payload === NONE) ev.by.emit(ev.name);
              else ev.by.emit(ev.name, payload);
              await ev.by.expectAlert(`${ev.name} with ${what}`);
              // Nothing else happened: no push reached a member of either workspace, and
              // the sender's socket still holds its membership.
              await assertNothingElse(ev.by, ev.by === a ? [b, c] : [a, c], [x], `after ${ev.name} with ${what}`);
            }
          }
          // And no state changed: every member is still in, and each token still works.
          for (const m of [a, b, c]) {
            m.emitAttendees();
            assert.deepEqual(await m.expect('attendees'), { attendees: attendeesOf(a, b, c) }, `${m.label}'s attendees`);
          }
          x.emitAttendees();
          assert.deepEqual(await x.expect('attendees'), { attendees: attendeesOf(x) });
          b.emitIceCandidate(c.attendee.id, CANDIDATE);
          assert.deepEqual(await c.expect('icecandidate'), { attendee: { id: c.attendee.id }, broadcaster: { id: b.attendee.id }, candidate: CANDIDATE });
        } finally {
          connect.closeAll();
        }
      });
    });
  }
});

describe('COMPAT 1a: one workspace, two protocols (native /ws and Socket.IO)', { skip }, () => {
  let server;
  before(async () => {
    server = await startServer(sioServerOptions());
  });
  after(async () => {
    await stopServer(server, 'socketio-mixed');
  });

  /** A native client's card as a Socket.IO client sees it. */
  const nativeCard = (n) => ({ id: n.attendee.id, name: n.attendee.name });
  const assertCardOf = (card, n, what) => {
    assertAttendeeCard(card, what);
    assert.deepEqual({ id: card.id, name: card.name }, nativeCard(n), what);
  };

  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      test('a native owner and a Socket.IO attendee: each sees the other arrive and leave; every signal is translated field by field', async () => {
        const connect = sioPool(server.url, variant);
        const n = await NativeClient.open(server.wsUrl('/ws'), 'native');
        try {
          const created = await n.request('create', { name: 'Mixed', attendee_name: 'Nat' });
          assert.equal(created.event, 'created', created.__raw);
          n.attendee = created.data.attendee;
          n.workspace = created.data.workspace;

          // The Socket.IO client attends with the native invite.
          const s = await connect('Sam');
          const granted = await s.attend(n.workspace.invite, { name: 'Sam' });
          assert.equal(granted.workspace.id, n.workspace.id);
          assert.equal(granted.workspace.owner, n.attendee.id);
          assert.equal(granted.workspace.name, 'Mixed');
          assert.deepEqual(Object.keys(granted.attendees).sort(), [n.attendee.id, s.attendee.id].sort());
          assertCardOf(granted.attendees[n.attendee.id], n, 'the native owner in attendees');
          const joined = await n.expectPush('attendee-joined');
          assert.equal(joined.attendee.id, s.attendee.id);
          assert.equal(joined.attendee.name, 'Sam');
          assert.equal(joined.attendee.role, 'attendee');
          assert.equal(joined.attendee.online, true);
          const sid = s.attendee.id;
          const nid = n.attendee.id;
          const sent = async (event, data) => {
            const reply = await n.request(event, data);
            assert.deepEqual({ event: reply.event, data: plain(reply.data) }, { event: 'sent', data: {} }, `native ${event}: ${reply.__raw}`);
          };
          const fromNative = (ev, name) => {
            assert.equal(ev.nonce, '', `${name} from a native sender carries nonce ""`);
            assert.deepEqual(workspaceCore(ev.workspace), workspaceCore(s.workspace), `${name} carries the workspace object`);
          };

          // ring: Socket.IO → native.
          s.emitRing(nid, 'mx-1', OFFER);
          assert.deepEqual(await n.expectPush('ring'), { from: sid, call: 'mx-1', sdp: OFFER });
          // answer: native → Socket.IO.
          await sent('answer', { to: sid, call: 'mx-1', sdp: ANSWER });
          const answer = await s.expect('answer');
          assert.deepEqual(Object.keys(answer).sort(), ['answer', 'call', 'callee', 'nonce', 'workspace'], JSON.stringify(answer));
          assertCardOf(answer.callee, n, 'answer.callee');
          assert.deepEqual(answer.answer, ANSWER);
          assert.deepEqual(answer.call, { id: 'mx-1' });
          fromNative(answer, 'answer');
          // ring: native → Socket.IO.
          await sent('ring', { to: sid, call: 'mx-2', sdp: OFFER });
          const ring = await s.expect('ring');
          assert.deepEqual(Object.keys(ring).sort(), ['call', 'caller', 'nonce', 'offer', 'workspace'], JSON.stringify(ring));
          assertCardOf(ring.caller, n, 'ring.caller');
          assert.deepEqual(ring.offer, OFFER);
          assert.deepEqual(ring.call, { id: 'mx-2' });
          fromNative(ring, 'ring');
          // answer: Socket.IO → native (the client echoes the ring's workspace, call and nonce).
          s.emitAnswer(ring, ANSWER);
          assert.deepEqual(await n.expectPush('answer'), { from: sid, call: 'mx-2', sdp: ANSWER });
          // busy, both ways.
          s.emitBusy(ring);
          assert.deepEqual(await n.expectPush('busy'), { from: sid, call: 'mx-2' });
          await sent('busy', { to: sid, call: 'mx-1' });
          const busy = await s.expect('busy');
          assertCardOf(busy.callee, n, 'busy.callee');
          assert.deepEqual(busy.call, { id: 'mx-1' });
          assert.deepEqual(workspaceCore(busy.workspace), workspaceCore(s.workspace));
          assert.ok(Object.keys(busy).every((k) => ['call', 'callee', 'workspace', 'nonce'].includes(k)), JSON.stringify(busy));
          if ('nonce' in busy) assert.equal(busy.nonce, '');
          // icecandidate, both ways.
          s.emitIceCandidate(nid, CANDIDATE);
          assert.deepEqual(await n.expectPush('icecandidate'), { from: sid, candidate: CANDIDATE });
          await sent('icecandidate', { to: sid, candidate: { ...CANDIDATE, sdpMid: '1' } });
          assert.deepEqual(await s.expect('icecandidate'), { attendee: { id: sid }, broadcaster: { id: nid }, candidate: { ...CANDIDATE, sdpMid: '1' } });
          // negotiation, both ways: description ⇄ message {type: description.type, data: description}.
          s.emitNegotiation(nid, { type: 'offer', data: DESCRIPTION });
          assert.deepEqual(await n.expectPush('negotiation'), { from: sid, description: DESCRIPTION });
          const back = { type: 'answer', sdp: 'v=0\r\ns=back\r\n' };
          await sent('negotiation', { to: sid, description: back });
          assert.deepEqual(await s.expect('negotiation'), { attendee: { id: nid }, message: { type: 'answer', data: back } });
          // mic-toggle / cam-toggle → state {from, mic, cam} (null until first set).
          s.emitToggle('mic-toggle', false);
          assert.deepEqual(await n.expectPush('state'), { from: sid, mic: false, cam: null });
          s.emitToggle('cam-toggle', true);
          assert.deepEqual(await n.expectPush('state'), { from: sid, mic: false, cam: true });
          // state → mic-toggle and cam-toggle.
          await sent('state', { mic: true, cam: false });
          const toggles = [await s.next(), await s.next()].sort((p, q) => p.name.localeCompare(q.name));
          assert.deepEqual(toggles, [
            { name: 'cam-toggle', data: { attendee: { id: nid }, state: false } },
            { name: 'mic-toggle', data: { attendee: { id: nid }, state: true } },
          ]);
          await sent('state', { mic: false });
          const afterMic = await s.fence();
          assert.ok(
            afterMic.some((e) => e.name === 'mic-toggle' && JSON.stringify(e.data) === JSON.stringify({ attendee: { id: nid }, state: false })),
            `state {mic: false} gives mic-toggle false: ${JSON.stringify(afterMic)}`,
          );
          for (const e of afterMic) {
            assert.ok(
              (e.name === 'mic-toggle' && e.data.state === false) || (e.name === 'cam-toggle' && e.data.state === false),
              `only toggles to the native member's state: ${JSON.stringify(e)}`,
            );
          }
          // hangup, both ways.
          s.emitHangup('mx-2');
          assert.deepEqual(await n.expectPush('hangup'), { from: sid, call: 'mx-2' });
          await sent('hangup', { call: 'mx-1' });
          const hangup = await s.expect('hangup');
          assert.deepEqual(Object.keys(hangup).sort(), ['attendee', 'call']);
          assertCardOf(hangup.attendee, n, 'hangup.attendee');
          assert.deepEqual(hangup.call, { id: 'mx-1' });
          await n.assertQuiet('after the signals');
          await s.assertQuiet('after the signals');

          // Presence: the Socket.IO member goes offline and comes back; then leaves.
          const stored = { workspace: s.workspace, attendee: s.attendee, accessToken: s.accessToken };
          s.close();
          assert.deepEqual(await n.expectPush('attendee-offline'), { attendee_id: sid });
          const s2 = await connect('Sam again');
          s2.emitReAttend(stored);
          const regranted = await s2.expect('re-attendance-granted');
          s2.keep(regranted);
          assert.equal(regranted.call, null);
          await s2.expectMemberIceServers('re-attendance-granted');
          assert.deepEqual(await n.expectPush('attendee-online'), { attendee_id: sid });
          s2.emitLeave();
          assert.deepEqual(await n.expectPush('attendee-left'), { attendee_id: sid, reason: 'left' });
          await n.assertQuiet('after the leave');
          const list = await n.request('attendees');
          assert.deepEqual(list.data.attendees.map((m) => m.id), [nid]);
        } finally {
          n.close();
          connect.closeAll();
        }
      });

      test('a Socket.IO owner and native attendees: arrival, leave, kick and destroy cross over', async () => {
        const connect = sioPool(server.url, variant);
        const natives = [];
        const native = async (label) => {
          const c = await NativeClient.open(server.wsUrl('/ws'), label);
          natives.push(c);
          return c;
        };
        try {
          const s = await connect('Sam');
          await s.create({ name: 'Crossing', attendeeName: 'Sam' });
          // A native client attends with the Socket.IO workspace's invite token.
          const n = await native('Nat');
          const attended = await n.request('attend', { invite: s.workspace.token, name: 'Nat' });
          assert.equal(attended.event, 'attended', attended.__raw);
          n.attendee = attended.data.attendee;
          assert.equal(attended.data.workspace.id, s.workspace.id);
          assert.deepEqual(
            attended.data.attendees.map((m) => [m.id, m.name]),
            [
              [s.attendee.id, 'Sam'],
              [n.attendee.id, 'Nat'],
            ],
          );
          const arrived = await s.expect('attend');
          assertCardOf(arrived, n, 'attend <native>');
          // The native attendee leaves.
          assert.equal((await n.request('leave')).event, 'left');
          assert.deepEqual(await s.expect('leave'), arrived, 'leave <native>');
          // Another one is kicked by the Socket.IO owner.
          const k = await native('Kit');
          const kAttended = await k.request('attend', { invite: s.workspace.token, name: 'Kit' });
          k.attendee = kAttended.data.attendee;
          const kCard = await s.expect('attend');
          assertCardOf(kCard, k, 'attend <Kit>');
          s.emitKick(kCard);
          assert.deepEqual(await s.expect('kicked'), kCard);
          assert.deepEqual(await k.expectPush('kicked'), { attendee_id: k.attendee.id });
          assert.equal((await k.client.waitClosed()).code, 4003);
          // A third stays until the Socket.IO owner destroys the workspace.
          const d = await native('Dot');
          const dAttended = await d.request('attend', { invite: s.workspace.token, name: 'Dot' });
          d.attendee = dAttended.data.attendee;
          assertCardOf(await s.expect('attend'), d, 'attend <Dot>');
          s.emitDestroy();
          assert.deepEqual(await s.expect('destroyed'), {});
          assert.deepEqual(await d.expectPush('destroyed'), { workspace_id: s.workspace.id });
          await s.assertQuiet('after destroy');
        } finally {
          for (const c of natives) c.close();
          connect.closeAll();
        }
      });
    });
  }
});

describe('COMPAT 1a: offline members', { skip }, () => {
  let server;
  before(async () => {
    server = await startServer(sioServerOptions({ workspace: { offline_ttl_secs: 1 } }));
  });
  after(async () => {
    await stopServer(server, 'socketio-offline');
  });

  for (const variant of VARIANTS) {
    test(`${variant.label}: a socket that disconnects leaves its member offline; after offline_ttl_secs the others get leave`, async () => {
      const connect = sioPool(server.url, variant);
      const n = await NativeClient.open(server.wsUrl('/ws'), 'native owner');
      try {
        const created = await n.request('create', { name: 'Presence', attendee_name: 'Nat' });
        const invite = created.data.workspace.invite;
        const s = await connect('Sam');
        await s.attend(invite, { name: 'Sam' });
        assert.equal((await n.expectPush('attendee-joined')).attendee.id, s.attendee.id);
        const t = await connect('Tia');
        await t.attend(invite, { name: 'Tia' });
        assert.equal((await n.expectPush('attendee-joined')).attendee.id, t.attendee.id);
        assert.deepEqual(await s.expect('attend'), t.card());
        const card = t.card();
        t.close();
        // Native clients see it go offline; Socket.IO clients have no such event...
        assert.deepEqual(await n.expectPush('attendee-offline'), { attendee_id: card.id });
        // ...and see it leave once the offline member is removed.
        const left = await s.next(EVENT_TIMEOUT + 2_000);
        assert.deepEqual(left, { name: 'leave', data: card });
        assert.deepEqual(await n.expectPush('attendee-left'), { attendee_id: card.id, reason: 'timeout' });
        await s.assertQuiet('after the timeout');
      } finally {
        n.close();
        connect.closeAll();
      }
    });
  }
});
