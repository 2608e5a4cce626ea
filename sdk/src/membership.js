// The membership a Switchboard connection is bound to, and the session token that proves
// it: stored for reloads, refreshed before it expires, and used to re-attend when the
// socket comes back or when the server found the token expired anyway.

import { CLOSE_REPLACED, Connection } from './connection.js';
import { decodeToken, sessions } from './session.js';

/** @import { Attended, Attendee, Created, Refreshed, Reply, RequestOptions, SwitchboardOptions, TokenClaims, Workspace } from './index.js' */
/** @import { SwitchboardError } from './session.js' */

// Refresh the session token when this share of its lifetime has passed.
const REFRESH_AT = 0.8;
const REFRESH_RETRY_MS = 30_000;

// Errors saying that a session token will never work again.
const SESSION_GONE = new Set(['invalid_token', 'expired_token', 'workspace_not_found']);
// Requests that bind a socket: an `expired_token` answer is about the token they carry.
const BINDING_EVENTS = new Set(['create', 'attend', 're-attend']);

/**
 * The membership and session token of a {@link Switchboard} (its base class: use Switchboard).
 */
export class Membership extends Connection {
  /**
   * @param {string} [url] The server's WebSocket URL (default `wss://<this page's host>/ws` on https pages, `ws://…` otherwise).
   * @param {SwitchboardOptions} [options] `timeout`.
   */
  constructor(url, options) {
    super(url, options);
    /**
     * The workspace of the membership, or `null`; `invite` and `protected` follow
     * rotations and PIN changes (event `workspace`).
     * @type {Workspace | null}
     */
    this.workspace = null;
    /**
     * The own attendee id, or `null`.
     * @type {string | null}
     */
    this.attendeeId = null;
    /**
     * Members by id, in join order, the own attendee included; kept up to date by the
     * pushes (event `members`).
     * @type {Map<string, Attendee>}
     */
    this.members = new Map();
    /**
     * The current session token, or `null`.
     * @type {string | null}
     */
    this.token = null;

    /** @type {ReturnType<typeof setTimeout> | null} */
    this._refreshTimer = null;
    // The re-attend under way after an `expired_token`, which every request waits for.
    /** @type {Promise<void> | null} */
    this._renewing = null;
  }

  /**
   * The own attendee object (kept up to date by `state` pushes), or null.
   * @returns {Attendee | null}
   */
  get self() {
    return this.members.get(/** @type {string} */ (this.attendeeId)) ?? null;
  }

  /** Whether the membership is the owner's. */
  get isOwner() {
    return this.self?.role === 'owner';
  }

  /** Closes the connection for good (no reconnect). The stored session stays for a reload. */
  close() {
    clearTimeout(this._refreshTimer);
    super.close();
  }

  /**
   * Exchanges the session token for a fresh one (done automatically when 80 % of its
   * lifetime has passed; a failure is retried every 30 s).
   * @returns {Promise<Refreshed>} `{token}`, the new session token (stored, and now `token`).
   */
  async refresh() {
    const data = await this.request('refresh');
    this._setToken(data.token);
    return data;
  }

  // ----- what the subclass adds -----------------------------------------------------------

  /**
   * The membership ended (left, kicked, destroyed, refused); its state is cleared.
   * @returns {void}
   */
  _onSessionEnded() {}

  /**
   * A re-attend after `expired_token` begins.
   * @returns {void}
   */
  _onRenewing() {}

  // ----- the connection's hooks -----------------------------------------------------------

  _wantsReconnect() {
    return !!this.token;
  }

  // Close 4001: a newer socket (another tab with a copy of this tab's session) took the
  // membership over. It is that socket's now, so this object lets go of it: no token
  // refresh, no call, no reconnect that would take it back. The stored session stays,
  // for an explicit `reAttend()`.
  /**
   * @param {CloseEvent} e
   * @param {{wasOpen: boolean}} state
   */
  _onSocketClosed(e, state) {
    if (e.code === CLOSE_REPLACED && this.token) this._endSession({ forget: false });
  }

  // Re-attends with the stored token on a fresh socket. Transient failures close the
  // socket, which schedules another attempt; a refused token ends the session.
  /**
   * @param {boolean} automatic
   * @returns {Promise<Attended>}
   */
  async _rebind(automatic) {
    this._rebinding = true;
    try {
      const data = await this._request('re-attend', { token: this.token }, this.timeout);
      this._backoff.reset();
      this._rebinding = false;
      this._bind(data);
      this._setOpen();
      this._emit('reattended', { ...data, automatic });
      return data;
    } catch (err) {
      if (SESSION_GONE.has(err.code)) {
        this._rebinding = false;
        this._endSession();
        this._setOpen(); // the socket is usable, unbound
        if (automatic) this._emit('session-ended', { code: err.code, message: err.message });
      } else if (this._ws) {
        this._ws.close(1000); // retried by the reconnect loop, since the token is kept
      }
      throw err;
    }
  }

  // ----- an expired token ---------------------------------------------------------------

  /**
   * Sends any protocol event (see docs/sdk.md). A member event answered `expired_token`
   * means the token ran out while the socket stayed open (the refresh timer did not fire:
   * a sleeping laptop, a throttled tab); the SDK re-attends with it, which the server
   * accepts for a grace period, and sends the event once more.
   * @template {string} E
   * @param {E} event The protocol event, e.g. `attendees` (docs/protocol.md, "Events").
   * @param {object} [data] Its `data` (default `{}`).
   * @param {RequestOptions} [options] `timeout`.
   * @returns {Promise<Reply<E>>} The reply's `data` ({@link Replies}); rejects with a {@link SwitchboardError}: the `alert`'s code, `timeout` or `disconnected`.
   */
  async request(event, data = {}, options = {}) {
    const token = this.token;
    try {
      return await super.request(event, data, options);
    } catch (err) {
      if (!this._expired(event, err, token)) throw err;
      if (this.token === token) await this._renew(); // else renewed meanwhile
      return super.request(event, data, options);
    }
  }

  /**
   * For signals: like `request`, but not sent again after the re-attend (the call starts
   * over on `reattended`, which makes them stale).
   */
  /**
   * @template {string} E
   * @param {E} event
   * @param {object} data
   * @returns {Promise<Reply<E>>}
   */
  async _requestSignal(event, data) {
    const token = this.token;
    try {
      return await super.request(event, data);
    } catch (err) {
      if (this._expired(event, err, token) && this.token === token) this._renew().catch(() => {});
      throw err;
    }
  }

  /**
   * @param {string} event
   * @param {SwitchboardError} err
   * @param {string | null} token
   */
  _expired(event, err, token) {
    return err.code === 'expired_token' && !BINDING_EVENTS.has(event) && !!token;
  }

  // One re-attend, however many requests met the expired token.
  /** @returns {Promise<void>} */
  _renew() {
    this._renewing ??= this._renewNow().finally(() => (this._renewing = null));
    return this._renewing;
  }

  async _renewNow() {
    this.status = 'reconnecting'; // requests made meanwhile wait for the re-attend
    this._onRenewing();
    await this._rebind(true);
  }

  // ----- state --------------------------------------------------------------------------

  /** @param {Created | Attended} data */
  _bind(data) {
    this.workspace = data.workspace;
    this.attendeeId = data.attendee.id;
    const list = /** @type {Partial<Attended>} */ (data).attendees ?? [data.attendee];
    this.members = new Map(list.map((a) => [a.id, { ...a }]));
    this._setToken(data.token);
  }

  /** @param {string} token */
  _setToken(token) {
    this.token = token;
    const claims = decodeToken(token);
    if (claims?.wid) sessions.set(claims.wid, token);
    this._scheduleRefresh(claims);
  }

  // The lifetime (exp - iat) is measured on the server's clock, so a skewed local clock
  // does not matter: every token we hold was issued moments before we got it.
  /** @param {TokenClaims | null} claims */
  _scheduleRefresh(claims) {
    clearTimeout(this._refreshTimer);
    if (!claims?.exp) return;
    const lifetimeMs = (claims.exp - (claims.iat ?? Date.now() / 1000)) * 1000;
    const delay = Math.min(2 ** 31 - 1, Math.max(1000, lifetimeMs * REFRESH_AT));
    this._refreshTimer = setTimeout(() => this._autoRefresh(), delay);
  }

  async _autoRefresh() {
    try {
      await this.refresh();
    } catch (err) {
      // A lost connection re-attends, which brings a fresh token anyway.
      if (!SESSION_GONE.has(err.code) && err.code !== 'disconnected' && this.token) {
        this._refreshTimer = setTimeout(() => this._autoRefresh(), REFRESH_RETRY_MS);
      }
    }
  }

  /** @param {{forget?: boolean}} [options] `forget`: the stored session too (default). */
  _endSession({ forget = true } = {}) {
    const claims = /** @type {TokenClaims | null} */ (this.token && decodeToken(this.token));
    const wid = claims?.wid ?? this.workspace?.id;
    if (wid && forget) sessions.forget(wid);
    clearTimeout(this._refreshTimer);
    this.token = null;
    this.workspace = null;
    this.attendeeId = null;
    this.members = new Map();
    this._onSessionEnded();
  }
}
