// One WebSocket to a Switchboard server that comes back by itself: requests with ids and
// timeouts, replies matched by `re`, reconnects when to try is up to reconnect.js. What a
// new socket has to do before it is usable (re-attend) and what pushes mean belong to the
// subclasses, Membership and Switchboard.

import { Backoff } from './reconnect.js';
import { SwitchboardError } from './session.js';

/** @import { Attended, ConnectionStatus, Reply, RequestOptions, SwitchboardOptions } from './index.js' */

/**
 * A request waiting for its reply. `resolve` takes the reply's `data`: whatever JSON the
 * server sent, which is the shape docs/protocol.md gives for the request's event.
 * @typedef {object} Pending
 * @property {(data: any) => void} resolve
 * @property {(err: SwitchboardError) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 */

/**
 * A request waiting for the connection (or the re-attend) before it is sent.
 * @typedef {object} Waiter
 * @property {() => void} resolve
 * @property {(err: SwitchboardError) => void} reject
 */

const DEFAULT_TIMEOUT_MS = 10_000;

// The protocol's close codes (docs/protocol.md) that the SDK acts on: the membership was
// taken over by a newer socket, or the member was kicked. Reconnecting after either
// would be wrong.
export const CLOSE_REPLACED = 4001;
export const CLOSE_KICKED = 4003;
const FINAL_CLOSE_CODES = new Set([CLOSE_REPLACED, CLOSE_KICKED]);

/**
 * The WebSocket URL of a server address: a ws(s) URL as it is; an http(s) address as the
 * same server's `/ws` (its path, when it has one other than `/`, kept for a reverse proxy
 * that serves Switchboard under a prefix, e.g. `https://example.com/signal` ->
 * `wss://example.com/signal/ws`); none, this page's server.
 * @param {string} [address]
 * @returns {string}
 */
function webSocketUrl(address = globalThis.location?.origin) {
  const url = new URL(address ?? '', globalThis.location?.href);
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.href;
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws`;
  return url.href;
}

/**
 * The socket and the requests of a {@link Switchboard} (its base class: use Switchboard).
 */
export class Connection extends EventTarget {
  /**
   * Does not connect yet: the first request (or {@link connect}) does.
   * @param {string} [url] The server: its WebSocket URL (`wss://example.com/ws`), or its http(s) address (`https://example.com`, meaning `wss://example.com/ws`). Default: this page's server (`wss://<host>/ws` on https pages, `ws://…` otherwise).
   * @param {SwitchboardOptions} [options] `timeout`.
   */
  constructor(url, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
    super();
    /** The server's WebSocket URL. */
    this.url = webSocketUrl(url);
    /** How long a request waits for its reply, in milliseconds. */
    this.timeout = timeout;
    /**
     * `idle` | `connecting` | `open` | `reconnecting` | `closed` (see {@link ConnectionStatus}).
     * @type {ConnectionStatus}
     */
    this.status = 'idle';

    /** @type {WebSocket | null} */
    this._ws = null;
    /** @type {Promise<void> | null} */
    this._connecting = null;
    this._nextId = 1;
    /** @type {Map<number, Pending>} */
    this._pending = new Map();
    /** @type {Waiter[]} */
    this._waiters = [];
    this._backoff = new Backoff(() => this._reconnect());
    // True while a new socket is open but not usable yet (its re-attend is under way).
    this._rebinding = false;
    this._wasOpen = false;
    this._closedByUser = false;

    // Coming back online is a better moment to retry than the backoff timer's. `close()`
    // removes the listener, which would otherwise keep this object alive with the page.
    this._listening = new AbortController();
    globalThis.addEventListener?.('online', () => this._retryNow(), { signal: this._listening.signal });
  }

  // ----- what the subclass decides ------------------------------------------------------

  /**
   * The socket closed (`wasOpen`: it was usable); called before deciding to reconnect.
   * @type {(e: CloseEvent, state: {wasOpen: boolean}) => void}
   */
  _onSocketClosed() {}

  /** Whether a lost connection should come back (Switchboard: while it holds a session). */
  _wantsReconnect() {
    return false;
  }

  /**
   * Makes a reconnected socket usable; Switchboard re-attends.
   * @type {(automatic: boolean) => Promise<Attended | void>}
   */
  async _rebind() {}

  /**
   * A server push (a frame without `re`): its event and `data` (see docs/protocol.md).
   * @type {(event: string, data: any) => void}
   */
  _onPush() {}

  // ----- the socket ---------------------------------------------------------------------

  /**
   * Opens the WebSocket; resolves once it is open. Requests call it when needed.
   * @returns {Promise<void>} Rejects with a {@link SwitchboardError} `disconnected` when the socket closes before it opens.
   */
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

  /**
   * Closes the connection for good (no reconnect). Requests waiting for the connection
   * reject with `disconnected`. A Switchboard keeps its stored session, for a reload.
   */
  close() {
    this._closedByUser = true;
    this._backoff.cancel();
    this._listening.abort();
    this.status = 'closed';
    this._failWaiters(new SwitchboardError('disconnected', 'The connection was closed.'));
    this._ws?.close(1000);
  }

  // A server (or a network) that swallows the handshake would keep the request waiting
  // for as long as the browser does, minutes: a request waits `timeout` for it. The
  // attempt goes on, for the next request.
  /** @param {number} timeout */
  _connectWithin(timeout) {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SwitchboardError('timeout', `Could not connect to the server within ${timeout} ms.`)), timeout);
    });
    return Promise.race([this.connect(), late]).finally(() => clearTimeout(timer));
  }

  _setOpen() {
    this.status = 'open';
    this._wasOpen = true;
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.resolve());
  }

  /** @param {SwitchboardError} err */
  _failWaiters(err) {
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.reject(err));
  }

  /** @param {CloseEvent} e */
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

  _scheduleReconnect() {
    this.status = 'reconnecting';
    this._rebinding = true;
    this._emit('reconnecting', this._backoff.schedule());
  }

  _retryNow() {
    if (this.status === 'reconnecting' && !this._connecting) this._backoff.now();
  }

  async _reconnect() {
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
   * SwitchboardError. Waits for the connection (or a reconnection) first. On a
   * Switchboard, a member event answered `expired_token` is sent once more after the SDK
   * re-attended (see docs/sdk.md).
   * @template {string} E
   * @param {E} event The protocol event, e.g. `attendees` (docs/protocol.md, "Events").
   * @param {object} [data] Its `data` (default `{}`).
   * @param {RequestOptions} [options] `timeout`.
   * @returns {Promise<Reply<E>>} The reply's `data` ({@link Replies}); rejects with a {@link SwitchboardError}: the `alert`'s code, `timeout` or `disconnected`.
   */
  async request(event, data = {}, { timeout = this.timeout } = {}) {
    await this._whenOpen(timeout);
    return this._request(event, data, timeout);
  }

  /**
   * @param {number} timeout
   * @returns {Promise<void>}
   */
  _whenOpen(timeout) {
    if (this.status === 'open' && this._ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.status === 'idle' || this.status === 'closed') return this._connectWithin(timeout);
    return new Promise((resolve, reject) => {
      const waiter = /** @type {Waiter} */ ({});
      const timer = setTimeout(() => {
        this._waiters = this._waiters.filter((w) => w !== waiter);
        reject(new SwitchboardError('timeout', 'Not connected to the server.'));
      }, timeout);
      waiter.resolve = () => (clearTimeout(timer), resolve());
      waiter.reject = (err) => (clearTimeout(timer), reject(err));
      this._waiters.push(waiter);
    });
  }

  /**
   * @template {string} E
   * @param {E} event
   * @param {object} data
   * @param {number} timeout
   * @returns {Promise<Reply<E>>}
   */
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

  /** @param {string} text */
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

  /**
   * The server's http(s) URL of `path`, beside its WebSocket endpoint (same host, and the
   * prefix a reverse proxy serves it under).
   * @param {string} path
   * @returns {URL}
   */
  _httpUrl(path) {
    const url = new URL(this.url);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = url.pathname.replace(/\/ws$/, '') + path;
    url.search = '';
    return url;
  }

  /**
   * An HTTP GET to the server, within `timeout`; fails as requests do.
   * @param {URL} url
   * @returns {Promise<Response>}
   */
  async _fetch(url) {
    try {
      return await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(this.timeout) });
    } catch (err) {
      if (err.name === 'TimeoutError') throw new SwitchboardError('timeout', `No answer from ${url.pathname} within ${this.timeout} ms.`);
      throw new SwitchboardError('disconnected', 'Could not reach the server.');
    }
  }

  /**
   * @param {string} type
   * @param {object} [detail]
   */
  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
