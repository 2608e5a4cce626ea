'use strict';
// A raw Socket.IO 2 client (socket.io-client 2.5.0, the protocol foglet-core's signaling
// speaks) whose every received event is queued, so that a test awaits the next one (with a
// timeout only as a failure bound) instead of sleeping, and can assert that nothing else
// came before it.

const crypto = require('node:crypto');
const io = require('socket.io-client');

const EVENT_TIMEOUT = 5_000; // an event the server should forward or answer at once

/** A name unique to this run (rooms, ids, tids), readable in failures. */
const unique = (prefix) => `${prefix}-${crypto.randomUUID()}`;

class Peer {
  /**
   * Connects to `url` with a fresh Manager and no reconnection (a dropped socket stays
   * dropped); `opts` go to socket.io-client (e.g. `transports: ['websocket']`).
   */
  static async connect(url, label, opts = {}) {
    const peer = new Peer(io(url, { forceNew: true, reconnection: false, timeout: EVENT_TIMEOUT, ...opts }), label);
    await peer.connected;
    return peer;
  }

  constructor(socket, label) {
    this.socket = socket;
    this.label = label;
    this.id = unique(label); // the `id` field this peer sends, like foglet's peer id
    this.queue = [];
    this.waiters = [];
    this.watchers = []; // called once at the next queued event (see queued())
    this.sent = []; // the names of the events this peer emitted, in order
    this.gone = null;
    live.add(this);
    // Every event packet the server sends, with all its arguments.
    const onevent = socket.onevent;
    socket.onevent = (packet) => {
      const [name, ...args] = packet.data || [];
      this.push({ name, args });
      onevent.call(socket, packet);
    };
    this.connected = new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', (err) => reject(new Error(`${label}: connect_error ${err && err.message}`)));
      socket.once('connect_timeout', () => reject(new Error(`${label}: connect_timeout`)));
    });
    this.disconnected = new Promise((resolve) => {
      socket.once('disconnect', (reason) => {
        this.gone = reason;
        resolve(reason);
        for (const w of this.waiters.splice(0)) w.reject(new Error(`${label} disconnected (${reason}) while awaiting an event`));
      });
    });
  }

  push(event) {
    const w = this.waiters.shift();
    if (w) w.resolve(event);
    else this.queue.push(event);
    for (const wake of this.watchers.splice(0)) wake();
  }

  emit(name, ...args) {
    this.sent.push(name);
    this.socket.emit(name, ...args);
  }

  /** The Engine.IO session and what this peer sent, for failure messages. */
  describe() {
    const engine = this.socket.io.engine;
    const transport = engine && engine.transport ? engine.transport.name : 'none';
    return `sid ${engine && engine.id}, transport ${transport}${engine && engine.upgrading ? ' (upgrading)' : ''}, sent ${this.sent.join(' ')}`;
  }

  /** Resolves to the next event `{name, args}` this peer received. */
  next(timeout = EVENT_TIMEOUT) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.gone !== null) return Promise.reject(new Error(`${this.label} is disconnected (${this.gone})`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.label} got no event within ${timeout} ms (${this.describe()})`));
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  /** `joinRoom {id, room}`; resolves to the payload of the `joinedRoom` that must come next. */
  async join(room) {
    this.emit('joinRoom', { id: this.id, room });
    const e = await this.next();
    if (e.name !== 'joinedRoom') throw new Error(`${this.label}: expected joinedRoom, got ${JSON.stringify(e)}`);
    return e.args[0];
  }

  /**
   * Proves that nothing reached this peer since the last awaited event: it sends
   * `connected {id, room}` for a room of its own, which the server echoes at once, and the
   * echo must be the next event (the server answers a socket's events in order).
   */
  async nothingElse() {
    const data = { id: this.id, room: unique('probe') };
    this.emit('connected', data);
    const e = await this.next();
    if (e.name !== 'connected' || JSON.stringify(e.args) !== JSON.stringify([data])) {
      throw new Error(`${this.label} got ${JSON.stringify(e)} where only the echo of its probe was due`);
    }
  }

  close() {
    live.delete(this);
    this.socket.close();
  }
}

/** Every peer not closed yet (closeAll() ends them after each test). */
const live = new Set();

function closeAll() {
  for (const peer of [...live]) peer.close();
}

/**
 * Resolves once `n` events in all are queued (unread) at `peers`; a peer disconnecting or
 * `timeout` passing first rejects.
 */
function queued(peers, n, timeout = EVENT_TIMEOUT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const counts = peers.map((p) => `${p.label}: ${p.queue.length}`).join(', ');
      reject(new Error(`${n} events were due, ${counts} within ${timeout} ms`));
    }, timeout);
    const check = () => {
      if (peers.reduce((sum, p) => sum + p.queue.length, 0) >= n) {
        clearTimeout(timer);
        resolve();
        return;
      }
      const down = peers.find((p) => p.gone !== null);
      if (down) {
        clearTimeout(timer);
        reject(new Error(`${down.label} disconnected (${down.gone}) while events were due`));
        return;
      }
      for (const p of peers) p.watchers.push(check);
    };
    check();
  });
}

/**
 * An offer as spray-wrtc hands it to foglet's signaling (neighborhood-wrtc's MRequest, or
 * MResponse for an answer): `tid` keys the exchange, `offer` is the SDP or a candidate.
 */
function sprayOffer(peer, tid, n = 0, type = 'MRequest') {
  return {
    tid,
    peer: `${peer.id}-I|${peer.id}-O`,
    pid: 'spray-wrtc',
    offer: n === 0 ? { type: type === 'MRequest' ? 'offer' : 'answer', sdp: `v=0\r\no=- ${n} 2 IN IP4 127.0.0.1\r\n` } : { candidate: { candidate: `candidate:${n} 1 udp 2122260223 127.0.0.1 ${40000 + n} typ host`, sdpMLineIndex: 0, sdpMid: '0' } },
    type,
    offerType: 'init',
  };
}

/** `new` as foglet-core's signaling sends it: {id, tid (its own, unused), offer, room}. */
function sendNew(peer, room, offer) {
  peer.emit('new', { id: peer.id, tid: crypto.randomUUID(), offer, room });
}

/** `accept` as foglet-core's signaling sends it: {id, offer, room}. */
function sendAccept(peer, room, offer) {
  peer.emit('accept', { id: peer.id, offer, room });
}


module.exports = { Peer, unique, closeAll, queued, sprayOffer, sendNew, sendAccept, EVENT_TIMEOUT };
