'use strict';
// COMPAT.md 1 and 1a: the Socket.IO v2 endpoint driven by the real socket.io-client (2.0.4,
// the version the webRTCWorkspaces page loads, and the latest 2.x), plus raw Engine.IO 3
// requests for what a client library hides (framing, CORS, refusals). Every event a client
// receives is queued, so a test awaits the next one with a timeout instead of sleeping.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const WebSocket = require('ws');
const { Client, Inbox } = require('./helpers');

const EVENT_TIMEOUT = 5_000; // an answer or a push the server should send at once

/** The two client versions every 1a flow runs with. */
const CLIENTS = [
  { version: require('socket.io-client/package.json').version, io: require('socket.io-client') },
  { version: require('socket.io-client-2x/package.json').version, io: require('socket.io-client-2x') },
];

/** The two ways a client connects: the default (polling, then the upgrade) and WebSocket only. */
const TRANSPORTS = [
  { name: 'polling then websocket', opts: {} },
  { name: 'websocket only', opts: { transports: ['websocket'] } },
];

/** Every (client version, transport) pair, labelled. */
const VARIANTS = CLIENTS.flatMap((client) =>
  TRANSPORTS.map((transport) => ({
    label: `socket.io-client ${client.version}, ${transport.name}`,
    io: client.io,
    version: client.version,
    transport: transport.name,
    opts: transport.opts,
  })),
);

// The secret the test servers sign tokens with (startServer's env overrides server.js's).
const MAGICK_TOKEN = 'sio-compat-magick-token-0123456789abcdef0123456789abcdef';
const TURN_SECRET = 'sio-compat-turn-secret';
const STUN_URLS = ['stun:127.0.0.1:9'];
const TURN_URLS = ['turn:127.0.0.1:3478?transport=udp'];

const ID_RE = /^_[A-Za-z0-9]{10}$/;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A plain copy for deepEqual (drops prototypes and undefined fields). */
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/**
 * A socket.io-client socket whose received events are queued in arrival order.
 * `next()` resolves to the next {name, data}; `expect(name)` to the data of the next event,
 * failing when the next event has another name. The webRTCWorkspaces session this client
 * holds (after create / attend / re-attend) is in `workspace`, `attendee`, `accessToken`.
 */
class SioClient {
  constructor(socket, label) {
    this.socket = socket;
    this.label = label;
    this.inbox = new Inbox(label);
    this.disconnectReason = null;
    this.workspace = null;
    this.attendee = null;
    this.accessToken = null;
    this.nonceSalt = randomString(10);
    const original = socket.onevent;
    socket.onevent = (packet) => {
      const [name, data] = packet.data || [];
      this.push({ name, data });
      original.call(socket, packet);
    };
    socket.on('disconnect', (reason) => {
      this.disconnectReason = reason;
      this.inbox.end(`disconnected (${reason})`);
    });
  }

  /**
   * Connects as the webRTCWorkspaces page does: `io.connect(url)` (here with forceNew and
   * no reconnection, so a drop shows) and `iceservers {}` emitted at once, before the
   * connection is even up. Resolves once connected; the `iceservers` answer stays queued
   * unless `takeIceServers` (then it is checked to be the STUN-only list and taken).
   */
  static async connect(url, { io, opts = {}, label = 'client', iceservers = true, takeIceServers = true } = {}) {
    const socket = io.connect(url, { forceNew: true, reconnection: false, timeout: EVENT_TIMEOUT, ...opts });
    const client = new SioClient(socket, label);
    if (iceservers) socket.emit('iceservers', {});
    try {
      await withTimeout(
        new Promise((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', (err) => reject(new Error(`${label}: connect_error ${err && (err.description || err.message || err)}`)));
          socket.once('error', (err) => reject(new Error(`${label}: error ${JSON.stringify(err)}`)));
        }),
        EVENT_TIMEOUT,
        `${label} to connect`,
      );
    } catch (err) {
      socket.close();
      throw err;
    }
    if (iceservers && takeIceServers) {
      const servers = await client.expect('iceservers');
      assertStunOnly(servers, `${label}: iceservers before any membership`);
    }
    return client;
  }

  push(event) {
    this.inbox.put(event);
  }

  next(timeout = EVENT_TIMEOUT) {
    return this.inbox.next(timeout, 'event');
  }

  /** The data of the next event, which must be `name`. */
  async expect(name, what = name) {
    const ev = await this.next();
    assert.equal(ev.name, name, `${this.label}: expected ${what}, got ${ev.name} ${JSON.stringify(ev.data)}`);
    return ev.data;
  }

  /** The next event must be an `alert` with a non-empty string (for a person); returns it. */
  async expectAlert(what) {
    const ev = await this.next();
    assert.equal(ev.name, 'alert', `${this.label}: ${what}: expected alert, got ${ev.name} ${JSON.stringify(ev.data)}`);
    assert.equal(typeof ev.data, 'string', `${this.label}: ${what}: the alert is a bare string: ${JSON.stringify(ev.data)}`);
    assert.ok(ev.data.length > 0, `${this.label}: ${what}: the alert says something`);
    return ev.data;
  }

  pending() {
    return this.inbox.queue.slice();
  }

  emit(name, ...args) {
    this.socket.emit(name, ...args);
  }

  /** What this client received before the answer to an `iceservers {}` it sends now. */
  async fence() {
    this.emit('iceservers', {});
    const got = [];
    for (;;) {
      const ev = await this.next();
      if (ev.name === 'iceservers') return got;
      got.push(ev);
    }
  }

  /** Asserts that nothing arrived for this client (no membership needed). */
  async assertQuiet(what) {
    assert.deepEqual(await this.fence(), [], `${this.label}: nothing else arrives (${what})`);
  }

  close() {
    this.socket.close();
  }

  /** The transport engine.io uses now ('polling' or 'websocket'). */
  transportName() {
    return this.socket.io.engine && this.socket.io.engine.transport && this.socket.io.engine.transport.name;
  }

  // --- The webRTCWorkspaces client's emits, field for field (webRTCWorkspaces.js) ---

  nonce(action, prefix = '') {
    return `${action}:${prefix}:${this.nonceSalt}`;
  }

  /** createWorkspace(workspaceName, workspacePin, attendeeName); returns the nonce. */
  emitCreate(workspaceName, workspacePin, attendeeName) {
    const nonce = this.nonce('create-workspace');
    this.emit('create', {
      workspace: { name: workspaceName, pin: workspacePin, avatar: '' },
      attendee: { name: attendeeName, avatar: '' },
      nonce,
    });
    return nonce;
  }

  /** joinWorkspace(workspaceToken, workspacePin, attendeeName); returns the nonce. */
  emitAttend(workspaceToken, workspacePin, attendeeName) {
    const nonce = this.nonce('attend-workspace');
    this.emit('attend', {
      workspace: { token: workspaceToken, pin: workspacePin },
      attendee: { name: attendeeName, avatar: '' },
      nonce,
    });
    return nonce;
  }

  /** _restoreSession(): the stored workspace and attendee objects, as they were received. */
  emitReAttend(session = this) {
    this.emit('re-attend', { workspace: session.workspace, attendee: session.attendee, accessToken: session.accessToken });
  }

  emitAttendees() {
    this.emit('attendees', { workspace: { id: this.workspace.id }, attendee: { id: this.attendee.id }, accessToken: this.accessToken });
  }

  emitLeave(attendee = this.attendee) {
    this.emit('leave', { workspace: { id: this.workspace.id }, attendee, accessToken: this.accessToken });
  }

  emitKick(kicked) {
    this.emit('kick', {
      workspace: { id: this.workspace.id },
      attendee: { id: this.attendee.id },
      kickedAttendee: { id: kicked.id, name: kicked.name },
      accessToken: this.accessToken,
    });
  }

  emitDestroy() {
    this.emit('destroy', { workspace: { id: this.workspace.id }, attendee: { id: this.attendee.id }, accessToken: this.accessToken });
  }

  /** startCall(): `ring` to one callee; returns what was sent. */
  emitRing(calleeId, callId, offer) {
    const payload = {
      workspace: { id: this.workspace.id },
      attendee: this.attendee,
      accessToken: this.accessToken,
      call: { id: callId },
      callee: { id: calleeId },
      offer,
      nonce: this.nonce('start-call', callId),
    };
    this.emit('ring', payload);
    return payload;
  }

  /**
   * The `ring` handler's answer to a received ring: the client took `data.call` as its own
   * call object and added `facingMode` to it before echoing it back.
   */
  emitAnswer(ring, answer) {
    this.emit('answer', {
      workspace: ring.workspace,
      attendee: this.attendee,
      call: { ...ring.call, facingMode: 'user' },
      caller: { id: ring.caller.id },
      answer,
      accessToken: this.accessToken,
      nonce: ring.nonce,
    });
  }

  emitBusy(ring) {
    this.emit('busy', {
      workspace: ring.workspace,
      attendee: this.attendee,
      call: { ...ring.call },
      caller: { id: ring.caller.id },
      accessToken: this.accessToken,
      nonce: ring.nonce,
    });
  }

  /** endCall(): `call` is the client's call object (`{id, camMode}` for the caller). */
  emitHangup(callId) {
    this.emit('hangup', {
      workspace: { id: this.workspace.id },
      attendee: this.attendee,
      call: { id: callId, camMode: 'user' },
      accessToken: this.accessToken,
    });
  }

  emitIceCandidate(targetId, candidate) {
    this.emit('icecandidate', {
      attendee: { id: targetId },
      broadcaster: { id: this.attendee.id },
      workspace: { id: this.workspace.id },
      accessToken: this.accessToken,
      candidate,
    });
  }

  emitNegotiation(targetId, message) {
    this.emit('negotiation', {
      attendee: { id: targetId },
      broadcaster: { id: this.attendee.id },
      workspace: { id: this.workspace.id },
      accessToken: this.accessToken,
      message,
    });
  }

  emitToggle(event, state) {
    this.emit(event, { workspace: { id: this.workspace.id }, accessToken: this.accessToken, attendee: { id: this.attendee.id }, state });
  }

  // --- Whole steps: an emit and the answers it must get ---

  /** Takes the `iceservers` pushed right after a grant and checks it is this member's full list. */
  async expectMemberIceServers(what) {
    const servers = await this.expect('iceservers', `the member's iceservers right after ${what}`);
    assertMemberIceServers(servers, this.attendee.id, `${this.label}: iceservers after ${what}`);
    return servers;
  }

  /** create → `created` (then the member's `iceservers`); keeps the session. */
  async create({ name = 'Workspace', pin = '', attendeeName = 'Owner' } = {}) {
    const nonce = this.emitCreate(name, pin, attendeeName);
    const created = await this.expect('created');
    assert.equal(created.nonce, nonce, `${this.label}: created echoes the nonce`);
    this.keep(created);
    await this.expectMemberIceServers('created');
    return created;
  }

  /** attend → `attendance-granted` (then the member's `iceservers`); keeps the session. */
  async attend(token, { pin = '', name = 'Guest' } = {}) {
    const nonce = this.emitAttend(token, pin, name);
    const granted = await this.expect('attendance-granted');
    assert.equal(granted.nonce, nonce, `${this.label}: attendance-granted echoes the nonce`);
    this.keep(granted);
    await this.expectMemberIceServers('attendance-granted');
    return granted;
  }

  keep(answer) {
    this.workspace = answer.workspace;
    this.attendee = answer.attendee;
    this.accessToken = answer.accessToken;
  }

  /** `{id, name, avatar}` of this member, as the server hands it out. */
  card() {
    return { id: this.attendee.id, name: this.attendee.name, avatar: this.attendee.avatar };
  }
}

/** Closes every client opened through it; for finally blocks. */
function sioPool(url, variant) {
  const clients = [];
  const connect = async (label, options = {}) => {
    const c = await SioClient.connect(url, { io: variant.io, opts: variant.opts, label, ...options });
    clients.push(c);
    return c;
  };
  connect.closeAll = () => {
    for (const c of clients.splice(0)) c.close();
  };
  return connect;
}

/**
 * Asserts that each of `targets` (members of `sender`'s workspace) receives nothing before a
 * marker `icecandidate` that `sender` relays to it now, and that `sender` itself receives
 * nothing before the answer to a fence. `others` (non-members) are fenced themselves.
 */
async function assertNothingElse(sender, targets = [], others = [], what = '') {
  const markers = targets.map((t) => {
    const marker = { marker: crypto.randomUUID() };
    sender.emitIceCandidate(t.attendee.id, marker);
    return marker;
  });
  // The sender first: its markers must have been relayed without a word back.
  await sender.assertQuiet(what);
  for (const [i, t] of targets.entries()) {
    const got = await t.next().catch((err) => assert.fail(`${t.label}: the marker from ${sender.label} never came (${what}): ${err.message}`));
    assert.deepEqual(
      got,
      { name: 'icecandidate', data: { attendee: { id: t.attendee.id }, broadcaster: { id: sender.attendee.id }, candidate: markers[i] } },
      `${t.label}: nothing arrives before the marker from ${sender.label} (${what})`,
    );
  }
  for (const o of others) await o.assertQuiet(what);
}

// --- ICE server lists ---

const urlsOf = (server) => (Array.isArray(server.urls) ? server.urls : [server.urls]);

function assertStunOnly(servers, what) {
  assert.ok(Array.isArray(servers), `${what}: an array of RTCIceServer: ${JSON.stringify(servers)}`);
  assert.deepEqual(servers.flatMap(urlsOf), STUN_URLS, `${what}: the configured stun_urls only: ${JSON.stringify(servers)}`);
  for (const s of servers) {
    assert.equal(s.username, undefined, `${what}: STUN has no username`);
    assert.equal(s.credential, undefined, `${what}: STUN has no credential`);
  }
}

/** The member's full list with [ice] provider = ["coturn", "stun"]: coturn's credentials, then STUN. */
function assertMemberIceServers(servers, attendeeId, what) {
  assert.ok(Array.isArray(servers), `${what}: an array of RTCIceServer: ${JSON.stringify(servers)}`);
  const turn = servers.filter((s) => s.username !== undefined);
  assert.equal(turn.length, 1, `${what}: one TURN server with credentials: ${JSON.stringify(servers)}`);
  const [t] = turn;
  assert.deepEqual(urlsOf(t), TURN_URLS, `${what}: the TURN urls`);
  const m = /^(\d+):(.+)$/.exec(t.username);
  assert.ok(m, `${what}: coturn username <expiry>:<attendee id>: ${t.username}`);
  assert.equal(m[2], attendeeId, `${what}: the credentials are this member's`);
  assert.ok(Number(m[1]) > Date.now() / 1000, `${what}: the credentials have not expired`);
  assert.equal(t.credential, crypto.createHmac('sha1', TURN_SECRET).update(t.username).digest('base64'), `${what}: coturn's credential`);
  assert.deepEqual(
    servers.filter((s) => s !== t).flatMap(urlsOf),
    STUN_URLS,
    `${what}: the STUN servers too: ${JSON.stringify(servers)}`,
  );
}

// --- Objects ---

function assertAttendeeCard(a, what) {
  assert.deepEqual(Object.keys(a).sort(), ['avatar', 'id', 'name'], `${what}: an attendee is {id, name, avatar}: ${JSON.stringify(a)}`);
  assert.match(a.id, ID_RE, `${what}: attendee id`);
  assert.equal(typeof a.name, 'string');
  assert.equal(typeof a.avatar, 'string');
}

/** A workspace `{id, name, avatar, owner, created, token}` (plus `extra` keys). */
function assertWorkspaceObject(w, what, extra = []) {
  assert.deepEqual(
    Object.keys(w).sort(),
    ['avatar', 'created', 'id', 'name', 'owner', 'token', ...extra].sort(),
    `${what}: a workspace is {id, name, avatar, owner, created, token${extra.map((k) => `, ${k}`).join('')}}: ${JSON.stringify(w)}`,
  );
  assert.match(w.id, ID_RE, `${what}: workspace id`);
  assert.match(w.owner, ID_RE, `${what}: owner id`);
  assert.equal(typeof w.name, 'string');
  assert.equal(typeof w.avatar, 'string');
  assert.ok(Number.isInteger(w.created), `${what}: created is a number of ms: ${w.created}`);
  assert.ok(Math.abs(w.created - Date.now()) < 10 * 60_000, `${what}: created is ms since the epoch, about now: ${w.created}`);
  assert.equal(typeof w.token, 'string');
  assert.match(w.token, /^[\w-]+\.[\w-]+\.[\w-]*$/, `${what}: the invite token is a JWT`);
}

/** The fields of a workspace object that stay as they are for its whole life. */
const workspaceCore = (w) => ({ id: w.id, name: w.name, avatar: w.avatar, owner: w.owner, created: w.created });

// --- Tokens (HS256, the server's secret or another) ---

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function signJwt(claims, secret = MAGICK_TOKEN) {
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${head}.${crypto.createHmac('sha256', secret).update(head).digest('base64url')}`;
}

function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

function randomString(n) {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(crypto.randomBytes(n), (b) => chars[b % chars.length]).join('');
}

// --- Native /ws client (PROTOCOL.md) ---

let nativeIds = 0;

/** A native client on /ws: `request(event, data)` resolves to the reply carrying its id back. */
class NativeClient {
  static async open(url, label) {
    const c = new NativeClient();
    c.client = await Client.open(url, { label });
    c.label = label;
    return c;
  }

  async request(event, data = {}) {
    const id = ++nativeIds;
    this.client.send({ event, id, data });
    const reply = await this.client.next(EVENT_TIMEOUT);
    assert.equal(reply.re, id, `${this.label}: the reply to ${event} comes next: ${reply.__raw}`);
    return reply;
  }

  /** The next frame, which must be a push of `event`; returns its data. */
  async expectPush(event) {
    const f = await this.client.next(EVENT_TIMEOUT);
    assert.equal(f.event, event, `${this.label}: expected push ${event}, got ${f.__raw}`);
    assert.equal(f.re, undefined, `${this.label}: a push carries no re: ${f.__raw}`);
    return plain(f.data);
  }

  /** Pushes received before the reply to an `attendees {}` request sent now. */
  async fence() {
    const id = ++nativeIds;
    this.client.send({ event: 'attendees', id, data: {} });
    const got = [];
    for (;;) {
      const f = await this.client.next(EVENT_TIMEOUT);
      if (f.re === id) return got;
      got.push({ event: f.event, data: plain(f.data) });
    }
  }

  async assertQuiet(what) {
    assert.deepEqual(await this.fence(), [], `${this.label}: nothing else arrives (${what})`);
  }

  close() {
    this.client.close();
  }
}

// --- Raw Engine.IO 3 over HTTP and WebSocket ---

/**
 * One HTTP request. Resolves to {status, headers, body (Buffer), text}, or to {error} when
 * the connection fails (reset, closed early).
 */
function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
    req.setTimeout(EVENT_TIMEOUT * 2, () => req.destroy(new Error('request timed out')));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Engine.IO 3 text framing: `<length>:<packet>`, the length in UTF-16 code units. */
function encodePayload(packets) {
  return packets.map((p) => `${p.length}:${p}`).join('');
}

/** Decodes a text payload strictly: each declared length must be exact, in UTF-16 code units. */
function decodeTextPayload(s) {
  const out = [];
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    const len = colon < 0 ? '' : s.slice(i, colon);
    if (!/^\d+$/.test(len)) throw new Error(`bad payload: no length at ${i}: ${JSON.stringify(s.slice(i, i + 40))} in ${JSON.stringify(s)}`);
    const n = Number(len);
    const packet = s.slice(colon + 1, colon + 1 + n);
    if (packet.length !== n) throw new Error(`bad payload: length ${n} runs past the end: ${JSON.stringify(s)}`);
    out.push(packet);
    i = colon + 1 + n;
  }
  return out;
}

/** Engine.IO 3 binary framing: <0|1><length digits 0-9><255><bytes>; string packets are UTF-8. */
function decodeBinaryPayload(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const kind = buf[i++];
    if (kind !== 0 && kind !== 1) throw new Error(`bad binary payload: packet kind ${kind} at ${i - 1}`);
    let n = 0;
    let digits = 0;
    while (i < buf.length && buf[i] !== 255) {
      if (buf[i] > 9) throw new Error(`bad binary payload: length digit ${buf[i]}`);
      n = n * 10 + buf[i++];
      digits++;
    }
    if (buf[i] !== 255 || digits === 0) throw new Error('bad binary payload: no length');
    i++;
    if (i + n > buf.length) throw new Error(`bad binary payload: length ${n} runs past the end`);
    const body = buf.subarray(i, i + n);
    out.push(kind === 0 ? body.toString('utf8') : body);
    i += n;
  }
  return out;
}

/** The packets of a polling response, in either framing (by its Content-Type). */
function decodeResponse(res) {
  const type = String(res.headers['content-type'] || '');
  return type.startsWith('application/octet-stream') ? decodeBinaryPayload(res.body) : decodeTextPayload(res.text);
}

/** A Socket.IO event packet as it travels in an Engine.IO message: `42["name",data]`. */
const eventPacket = (name, data) => `42${JSON.stringify(data === undefined ? [name] : [name, data])}`;

/** `42["name",data]` → {name, data}; anything else → null. */
function parseEvent(packet) {
  if (typeof packet !== 'string' || !packet.startsWith('42')) return null;
  const [name, data] = JSON.parse(packet.slice(2));
  return { name, data };
}

/** A raw Engine.IO 3 polling session: handshake, polls and posts, by hand. */
class RawPolling {
  constructor(base, { path = '/socket.io/', origin, b64 = true } = {}) {
    this.base = base;
    this.path = path;
    this.origin = origin;
    this.b64 = b64;
    this.sid = null;
    this.buffered = []; // packets received and not yet taken
  }

  url(extra = {}) {
    const q = new URLSearchParams({ EIO: '3', transport: 'polling', t: randomString(7), ...(this.b64 ? { b64: '1' } : {}), ...(this.sid ? { sid: this.sid } : {}), ...extra });
    return `${this.base}${this.path}?${q}`;
  }

  headers(extra = {}) {
    return { ...(this.origin ? { Origin: this.origin } : {}), ...extra };
  }

  /** The handshake: resolves to the open packet's fields; the rest of its payload is buffered. */
  async handshake() {
    const res = await httpRequest(this.url(), { headers: this.headers() });
    assert.equal(res.status, 200, `handshake: ${res.status} ${res.text}`);
    const packets = decodeResponse(res);
    assert.ok(packets.length >= 1 && packets[0].startsWith('0'), `the handshake starts with the open packet: ${JSON.stringify(packets)}`);
    this.open = JSON.parse(packets[0].slice(1));
    this.sid = this.open.sid;
    this.buffered.push(...packets.slice(1));
    this.lastResponse = res;
    return this.open;
  }

  /** One GET: resolves to the response with its packets decoded (`packets`). */
  async get() {
    const res = await httpRequest(this.url(), { headers: this.headers() });
    if (res.status === 200) res.packets = decodeResponse(res);
    return res;
  }

  /** One POST of `packets` (strings), text-framed. */
  async post(packets, headers = {}) {
    return httpRequest(this.url(), {
      method: 'POST',
      headers: this.headers({ 'Content-Type': 'text/plain;charset=UTF-8', ...headers }),
      body: encodePayload(packets),
    });
  }

  /** The next packet that is not a noop, polling as needed. */
  async nextPacket() {
    for (;;) {
      while (this.buffered.length) {
        const p = this.buffered.shift();
        if (p !== '6') return p;
      }
      const res = await this.get();
      assert.equal(res.status, 200, `poll: ${res.status} ${res.text}`);
      this.buffered.push(...res.packets);
    }
  }

  /** The next Socket.IO event, which must be `name`. */
  async expectEvent(name) {
    const p = await this.nextPacket();
    const ev = parseEvent(p);
    assert.ok(ev && ev.name === name, `expected 42["${name}",…], got ${JSON.stringify(p)}`);
    return ev.data;
  }
}

/** A raw Engine.IO 3 WebSocket: every text message queued; `next()` the next one. */
class RawWs {
  static open(url, { origin, headers } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { origin, headers, handshakeTimeout: EVENT_TIMEOUT });
      const raw = new RawWs(ws);
      ws.once('open', () => resolve(raw));
      ws.once('unexpected-response', (req, res) => {
        const err = new Error(`upgrade answered ${res.statusCode}`);
        err.status = res.statusCode;
        res.resume();
        ws.terminate();
        reject(err);
      });
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = new Inbox('the WebSocket');
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: String(reason) };
        resolve(this.closeInfo);
        this.inbox.end(`closed (${code})`);
      });
    });
    ws.on('message', (data, isBinary) => this.inbox.put(isBinary ? data : String(data)));
    ws.on('error', () => {});
  }

  next(timeout = EVENT_TIMEOUT) {
    return this.inbox.next(timeout, 'message');
  }

  send(m) {
    this.ws.send(m);
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/**
 * Stops a test server; with SIO_SERVER_LOGS=dir set, first writes its log lines to
 * dir/<name>.log (for reading what the server said about a failure).
 */
async function stopServer(server, name) {
  if (!server) return;
  if (process.env.SIO_SERVER_LOGS) {
    const fs = require('node:fs');
    const path = require('node:path');
    fs.mkdirSync(process.env.SIO_SERVER_LOGS, { recursive: true });
    fs.writeFileSync(path.join(process.env.SIO_SERVER_LOGS, `${name}.log`), `${server.logs.join('\n')}\n`);
  }
  await server.stop();
}

/** The config sections every Socket.IO test server gets (plus the caller's). */
function sioServerOptions(config = {}) {
  const base = {
    workspace: { max_capacity: 3 },
    limits: { creates_per_minute: 100_000, requests_per_second: 2_000, request_burst: 10_000 },
    ice: { provider: ['coturn', 'stun'], stun_urls: STUN_URLS, turn_urls: TURN_URLS },
  };
  for (const [section, keys] of Object.entries(config)) base[section] = { ...base[section], ...keys };
  return { config: base, env: { MAGICK_TOKEN, TURN_SECRET } };
}

module.exports = {
  CLIENTS,
  TRANSPORTS,
  VARIANTS,
  EVENT_TIMEOUT,
  ID_RE,
  MAGICK_TOKEN,
  STUN_URLS,
  TURN_URLS,
  SioClient,
  NativeClient,
  RawPolling,
  RawWs,
  sioPool,
  sioServerOptions,
  stopServer,
  assertNothingElse,
  assertStunOnly,
  assertMemberIceServers,
  assertAttendeeCard,
  assertWorkspaceObject,
  workspaceCore,
  signJwt,
  jwtClaims,
  randomString,
  httpRequest,
  encodePayload,
  decodeTextPayload,
  decodeBinaryPayload,
  decodeResponse,
  eventPacket,
  parseEvent,
  plain,
  withTimeout,
};
