'use strict';
// Plain WebSocket clients for the protocols whose frames are plain JSON (signal-fire,
// Peero, webrtc-bootstrap's raw frames), with every received frame queued so a test
// awaits the next one (with a timeout) instead of sleeping.

const WebSocket = require('ws');

const FRAME_TIMEOUT = 5_000; // a frame the server should relay or answer at once

/**
 * What a client received and no test has taken yet: `put` hands an item to the oldest
 * waiter or queues it; `next(timeout, what)` resolves to the next one, or fails after
 * `timeout` ms; `end(why)` fails every waiter, and every later `next` once the queue is
 * empty. `label` names the client in failures.
 */
class Inbox {
  constructor(label) {
    this.label = label;
    this.queue = [];
    this.waiters = [];
    this.ended = null;
  }

  put(item) {
    const w = this.waiters.shift();
    if (w) w.resolve(item);
    else this.queue.push(item);
  }

  end(why) {
    this.ended = why;
    for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.label} ${why} while awaiting ${w.what}`));
  }

  next(timeout, what) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.reject(new Error(`${this.label} is ${this.ended}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.label}: no ${what} within ${timeout} ms`));
      }, timeout);
      const waiter = {
        what,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

/**
 * A connected client. `next()` resolves to the next received text frame parsed as JSON
 * (`nextRaw()` to the raw {data, isBinary}); `closed` resolves to {code, reason} when the
 * socket closes. `label` names it in failures.
 */
class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.inbox = new Inbox(label);
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: String(reason) };
        resolve(this.closeInfo);
        this.inbox.end(`closed (${code} ${reason})`);
      });
    });
    ws.on('message', (data, isBinary) => this.inbox.put({ data: isBinary ? data : String(data), isBinary }));
    ws.on('error', () => {}); // a refused or reset socket shows up as `closed`
  }

  /** Opens `url`; resolves once open, rejects with err.status on an HTTP answer instead of 101. */
  static open(url, { label = url, headers, origin } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, origin, handshakeTimeout: FRAME_TIMEOUT });
      const client = new Client(ws, label);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        const err = new Error(`${label}: upgrade answered ${res.statusCode}`);
        err.status = res.statusCode;
        res.resume();
        ws.terminate();
        reject(err);
      });
      ws.once('error', reject);
    });
  }

  nextRaw(timeout = FRAME_TIMEOUT) {
    return this.inbox.next(timeout, 'frame');
  }

  /** The next text frame, parsed (the raw text is kept as a non-enumerable `__raw`). */
  async next(timeout) {
    const frame = await this.nextRaw(timeout);
    if (frame.isBinary) throw new Error(`${this.label}: binary frame ${frame.data.toString('hex').slice(0, 80)}`);
    const value = JSON.parse(frame.data);
    if (value && typeof value === 'object') Object.defineProperty(value, '__raw', { value: frame.data });
    return value;
  }

  /** Frames received and not yet taken. */
  pending() {
    return this.inbox.queue.length;
  }

  send(msg) {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  /** Resolves to {code, reason} within `timeout`, or rejects. */
  async waitClosed(timeout = FRAME_TIMEOUT) {
    return withTimeout(this.closed, timeout, `${this.label} to close`);
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** The HTTP status a WebSocket upgrade of `url` gets (101 when it is accepted). */
function upgradeStatus(url, { origin, headers } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin, headers, handshakeTimeout: FRAME_TIMEOUT });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (req, res) => {
      res.resume();
      ws.terminate();
      resolve(res.statusCode);
    });
    ws.once('error', (err) => reject(new Error(`upgrade of ${url}: ${err.message}`)));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Closes every client opened through `open`; for t.after / finally. */
function clientPool() {
  const clients = [];
  const open = async (url, opts) => {
    const c = await Client.open(url, opts);
    clients.push(c);
    return c;
  };
  open.closeAll = () => {
    for (const c of clients.splice(0)) c.close();
  };
  return open;
}

/** Which server the tests that have one target talk to: Switchboard, or the original (oracle). */
const TARGET = process.env.COMPAT_TARGET === 'oracle' ? 'oracle' : 'switchboard';

module.exports = { Client, Inbox, FRAME_TIMEOUT, TARGET, clientPool, upgradeStatus, withTimeout };
