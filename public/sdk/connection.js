// One WebSocket to a Switchboard server that comes back by itself: requests with ids and
// timeouts, replies matched by `re`, reconnects with backoff. What a new socket has to do
// before it is usable (re-attend) and what pushes mean belong to the subclass, Switchboard.

import { SwitchboardError } from './session.js';

const DEFAULT_TIMEOUT_MS = 10_000;
const MIN_RECONNECT_MS = 500;
const MAX_RECONNECT_MS = 30_000;

// Close codes after which reconnecting would be wrong: replaced by a newer socket, kicked.
const FINAL_CLOSE_CODES = new Set([4001, 4003]);

function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

export class Connection extends EventTarget {
  constructor(url = defaultUrl(), { timeout = DEFAULT_TIMEOUT_MS } = {}) {
    super();
    this.url = url;
    this.timeout = timeout;
    /** `idle` | `connecting` | `open` | `reconnecting` | `closed` */
    this.status = 'idle';

    this._ws = null;
    this._connecting = null;
    this._nextId = 1;
    this._pending = new Map();
    this._waiters = [];
    this._attempt = 0;
    this._retryTimer = null;
    // True while a new socket is open but not usable yet (its re-attend is under way).
    this._rebinding = false;
    this._wasOpen = false;
    this._closedByUser = false;

    if (typeof window !== 'undefined') {
      // Coming back online is a better moment to retry than the backoff timer's.
      window.addEventListener('online', () => this._retryNow());
    }
  }

  // ----- what the subclass decides ------------------------------------------------------

  /** The socket closed (`wasOpen`: it was usable); called before deciding to reconnect. */
  _onSocketClosed() {}

  /** Whether a lost connection should come back (Switchboard: while it holds a session). */
  _wantsReconnect() {
    return false;
  }

  /** Makes a reconnected socket usable; Switchboard re-attends. */
  async _rebind() {}

  /** A server push (a frame without `re`). */
  _onPush() {}

  // ----- the socket ---------------------------------------------------------------------

  /** Opens the WebSocket; resolves once it is open. Requests call it when needed. */
  connect() {
    if (this._ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this._connecting) return this._connecting;
    this._closedByUser = false;
    if (this.status !== 'reconnecting') this.status = 'connecting';
    this._connecting = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this._ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this._connecting = null;
        this._emit('connected');
        if (!this._rebinding) this._setOpen();
        resolve();
      };
      ws.onmessage = (e) => this._onFrame(e.data);
      ws.onclose = (e) => {
        if (ws !== this._ws) return;
        this._ws = null;
        this._connecting = null;
        if (!opened) reject(new SwitchboardError('disconnected', 'Could not connect to the server.'));
        this._onClose(e);
      };
    });
    return this._connecting;
  }

  /** Closes the connection for good (no reconnect). */
  close() {
    this._closedByUser = true;
    clearTimeout(this._retryTimer);
    this.status = 'closed';
    this._failWaiters(new SwitchboardError('disconnected', 'The connection was closed.'));
    this._ws?.close(1000);
  }

  _setOpen() {
    this.status = 'open';
    this._wasOpen = true;
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.resolve());
  }

  _failWaiters(err) {
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.reject(err));
  }

  _onClose(e) {
    for (const [id, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new SwitchboardError('disconnected', 'The connection to the server was lost.'));
      this._pending.delete(id);
    }
    const wasOpen = this._wasOpen;
    this._wasOpen = false;
    this._onSocketClosed(e, { wasOpen });
    const reconnecting = !this._closedByUser && this._wantsReconnect() && !FINAL_CLOSE_CODES.has(e.code);
    if (wasOpen) {
      this._emit('disconnected', { code: e.code, reason: e.reason, reconnecting });
    }
    if (reconnecting) {
      this._scheduleReconnect();
    } else {
      this.status = this._closedByUser ? 'closed' : 'idle';
      this._rebinding = false;
      this._failWaiters(new SwitchboardError('disconnected', 'The connection to the server was lost.'));
    }
  }

  // Exponential backoff with jitter, so that a restarted server is not hit by everyone at once.
  _scheduleReconnect() {
    this.status = 'reconnecting';
    this._rebinding = true;
    const base = Math.min(MAX_RECONNECT_MS, MIN_RECONNECT_MS * 2 ** this._attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this._attempt += 1;
    this._emit('reconnecting', { attempt: this._attempt, delay });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._reconnect(), delay);
  }

  _retryNow() {
    if (this.status !== 'reconnecting' || !this._retryTimer || this._connecting) return;
    clearTimeout(this._retryTimer);
    this._reconnect();
  }

  async _reconnect() {
    this._retryTimer = null;
    try {
      await this.connect();
    } catch {
      return; // the close handler has scheduled the next attempt
    }
    await this._rebind(true).catch(() => {}); // a failure is handled (and retried) there
  }

  // ----- requests -----------------------------------------------------------------------

  /**
   * Sends any protocol event and resolves to the reply's `data`; an `alert` rejects with a
   * SwitchboardError. Waits for the connection (or a reconnection) first.
   */
  async request(event, data = {}, { timeout = this.timeout } = {}) {
    await this._whenOpen(timeout);
    return this._request(event, data, timeout);
  }

  _whenOpen(timeout) {
    if (this.status === 'open' && this._ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.status === 'idle' || this.status === 'closed') return this.connect();
    return new Promise((resolve, reject) => {
      const waiter = {};
      const timer = setTimeout(() => {
        this._waiters = this._waiters.filter((w) => w !== waiter);
        reject(new SwitchboardError('timeout', 'Not connected to the server.'));
      }, timeout);
      waiter.resolve = () => (clearTimeout(timer), resolve());
      waiter.reject = (err) => (clearTimeout(timer), reject(err));
      this._waiters.push(waiter);
    });
  }

  _request(event, data, timeout) {
    return new Promise((resolve, reject) => {
      const ws = this._ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new SwitchboardError('disconnected', 'Not connected to the server.'));
        return;
      }
      const id = this._nextId++;
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new SwitchboardError('timeout', `No answer to ${event} within ${timeout} ms.`));
      }, timeout);
      this._pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ event, id, data }));
    });
  }

  _onFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // the server only sends JSON; ignore anything else rather than crash
    }
    const data = msg.data ?? {};
    if (msg.re !== undefined && msg.re !== null) {
      const pending = this._pending.get(msg.re);
      if (!pending) return; // a late reply to a request that timed out
      this._pending.delete(msg.re);
      clearTimeout(pending.timer);
      if (msg.event === 'alert') pending.reject(new SwitchboardError(data.code, data.message));
      else pending.resolve(data);
      return;
    }
    this._onPush(msg.event, data);
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
