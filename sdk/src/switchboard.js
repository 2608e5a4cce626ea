// The workspace a Switchboard connection is bound to, as the server's pushes keep it: the
// members and their presence and mic/cam state, the invite and PIN, and the owner's
// moderation. The call signals are signals.js's.

import { Call } from './call.js';
import { CLOSE_KICKED } from './connection.js';
import { Signaling } from './signals.js';
import { SwitchboardError, compact, decodeToken, sessions } from './session.js';

/**
 * @import { AttendOptions, Attended, Attendee, CallOptions, Created, CreateOptions, Destroyed, Empty, InviteInfo,
 *   InviteRotated, Kicked, KickOptions, MediaState, PinSet, SwitchboardEventMap, SwitchboardOptions, Workspace } from './index.js'
 */

/**
 * One connection to a Switchboard server and, once bound, one membership of a workspace.
 * Events are CustomEvents whose `detail` is the protocol's `data` (see docs/sdk.md and
 * {@link SwitchboardEventMap}). Requests reject with a {@link SwitchboardError}.
 */
export class Switchboard extends Signaling {
  /**
   * Does not connect yet: the first request (or {@link connect}) does.
   * @param {string} [url] The server: its WebSocket URL (`wss://example.com/ws`), or its http(s) address (`https://example.com`, meaning `wss://example.com/ws`). Default: this page's server (`wss://<host>/ws` on https pages, `ws://…` otherwise).
   * @param {SwitchboardOptions} [options] `timeout`.
   */
  constructor(url, options) {
    super(url, options);
  }

  // ----- events -------------------------------------------------------------------------
  // EventTarget's own methods, with the event names and `detail` types of
  // SwitchboardEventMap for TypeScript; they only call EventTarget's.

  /**
   * Listens to an event of {@link SwitchboardEventMap} (EventTarget's method).
   * @template {keyof SwitchboardEventMap} K
   * @param {K} type The event's name.
   * @param {((this: Switchboard, event: SwitchboardEventMap[K]) => void) | {handleEvent(event: SwitchboardEventMap[K]): void} | null} listener Called with the `CustomEvent`; its `detail` is the payload.
   * @param {boolean | AddEventListenerOptions} [options] As for any EventTarget (`once`, `signal`, …).
   * @returns {void}
   */
  addEventListener(type, listener, options) {
    super.addEventListener(type, /** @type {EventListenerOrEventListenerObject | null} */ (listener), options);
  }

  /**
   * Stops listening (EventTarget's method).
   * @template {keyof SwitchboardEventMap} K
   * @param {K} type The event's name.
   * @param {((this: Switchboard, event: SwitchboardEventMap[K]) => void) | {handleEvent(event: SwitchboardEventMap[K]): void} | null} listener The listener that was added.
   * @param {boolean | EventListenerOptions} [options] As for any EventTarget.
   * @returns {void}
   */
  removeEventListener(type, listener, options) {
    super.removeEventListener(type, /** @type {EventListenerOrEventListenerObject | null} */ (listener), options);
  }

  // ----- the connection's hooks ---------------------------------------------------------

  /**
   * @param {CloseEvent} e
   * @param {{wasOpen: boolean}} state
   */
  _onSocketClosed(e, state) {
    super._onSocketClosed(e, state);
    if (e.code === CLOSE_KICKED) this._onKicked(this.attendeeId);
  }

  // ----- membership -------------------------------------------------------------------

  /**
   * Creates a workspace and binds to it as its owner. Resolves to `{workspace, attendee, token}`.
   * @param {CreateOptions} [options] An empty `pin` is left out: no PIN.
   * @returns {Promise<Created>} Rejects with `already_attending`, `rate_limited` (10 creates a minute per address), `bad_request` or `too_large` (names, PIN), `disconnected`, `timeout`.
   */
  async create({ name, pin, attendeeName } = {}) {
    const data = await this.request('create', compact({ name, pin: pin || undefined, attendee_name: attendeeName }));
    this._bind(data);
    return data;
  }

  /**
   * Joins a workspace with its invite token (and PIN). Resolves to the `attended` data.
   * @overload
   * @param {AttendOptions} options An empty `pin` is left out: no PIN.
   * @returns {Promise<Attended>} `{workspace, attendee, token, attendees, call}`. Rejects with `wrong_pin`, `workspace_full`, `invalid_token` (a bad or rotated invite), `expired_token`, `workspace_not_found`, `forbidden` (a banned address), `rate_limited` (PIN guessing), `already_attending`, `disconnected`, `timeout`.
   */
  // The signature above is the declared one: the default `{}` below would make `options`
  // optional for TypeScript, and an attend without an invite is always refused.
  /**
   * @param {AttendOptions} options
   * @returns {Promise<Attended>}
   */
  async attend({ invite, pin, name } = /** @type {AttendOptions} */ ({})) {
    const data = await this.request('attend', compact({ invite, pin: pin || undefined, name }));
    this._bind(data);
    return data;
  }

  /**
   * Looks up where an invite leads before attending (`GET /invite-info`, over HTTP; no
   * socket needed): the workspace's name and whether `attend` will ask for a PIN. Joins
   * nothing and checks no PIN. Works from another origin that `allowed_origins` admits.
   * @param {string} invite An invite token.
   * @returns {Promise<InviteInfo>} `{workspace_id, name, pin_required}`. Rejects with `invalid_token` (bogus, or rotated away), `expired_token`, `workspace_not_found`, `forbidden` (this address is banned there), `rate_limited`, `bad_request`; `disconnected` when the server cannot be reached, `timeout` after `timeout` ms, `unavailable` when the answer is not Switchboard's (a proxy's error page).
   */
  async inviteInfo(invite) {
    const url = this._httpUrl('/invite-info');
    url.searchParams.set('invite', invite);
    const response = await this._fetch(url);
    const body = await response.json().catch(() => null);
    if (response.ok && body) return body;
    if (typeof body?.code === 'string') throw new SwitchboardError(body.code, body.message);
    throw new SwitchboardError('unavailable', `The invite look-up was answered with HTTP ${response.status}.`);
  }

  /**
   * Comes back as the member a session token names (default: the last stored session),
   * e.g. after a page reload. Resolves to the `re-attended` data and emits `reattended`.
   * A refused token is forgotten; other failures are retried in the background.
   * @param {string} [token] A session token (default: the tab's last stored one, {@link sessions | sessions.last}).
   * @returns {Promise<Attended>} `{workspace, attendee, token, attendees, call}`. Rejects with `invalid_token` (also when no session is stored), `expired_token` or `workspace_not_found` (the session is forgotten), or `disconnected`, `timeout`, `rate_limited` (then retried in the background: `reattended` follows when it works).
   */
  async reAttend(token = sessions.last()?.token) {
    if (!token) throw new SwitchboardError('invalid_token', 'No stored session.');
    this.token = token;
    try {
      await this._whenOpen(this.timeout);
    } catch (err) {
      if (!this._backoff.pending && this.token && !this._closedByUser) this._scheduleReconnect();
      throw err;
    }
    return this._rebind(false);
  }

  /**
   * Leaves the workspace (attendees only; the owner destroys it instead). The stored
   * session is forgotten, and the running call closes.
   * @returns {Promise<Empty>} `{}`. Rejects with `forbidden` for the owner, `not_attending`.
   */
  async leave() {
    const data = await this.request('leave');
    this._endSession();
    return data;
  }

  /**
   * Owner: removes a member; emits `attendee-left` (reason `kicked`) locally too. With
   * `ban`, the server also rotates the invite and refuses the member's address at this
   * workspace for a while (`workspace.ban_secs`); `workspace.invite` is the new link then.
   * @param {string} attendeeId The member to remove.
   * @param {KickOptions} [options] `ban`.
   * @returns {Promise<Kicked>} `{attendee_id}`. Rejects with `forbidden` (not the owner, or the owner themself), `unknown_attendee`.
   */
  async kick(attendeeId, { ban = false } = {}) {
    const invite = this.workspace?.invite;
    const data = await this.request('kick', ban ? { attendee_id: attendeeId, ban: true } : { attendee_id: attendeeId });
    if (this.members.delete(attendeeId)) {
      this._dropSignals(attendeeId);
      this._emit('attendee-left', { attendee_id: attendeeId, reason: 'kicked' });
      this._emit('members', { attendees: [...this.members.values()] });
    }
    if (ban) await this._afterBan(data, invite);
    return data;
  }

  // The ban rotated the invite. The `kicked` reply does not carry the new one: unless an
  // `invite-rotated` push brought it meanwhile, one more rotation does, so that the owner
  // never shows a link that no longer works (the others get that one pushed too).
  /**
   * @param {Kicked & {invite?: string}} data
   * @param {string | undefined} before
   */
  async _afterBan(data, before) {
    if (data.invite) this._setInvite(data.invite);
    else if (this.workspace && this.workspace.invite === before) await this.rotateInvite().catch(() => {});
  }

  /**
   * Owner: replaces the invite link; the old one stops working. Resolves to `{invite}`.
   * @returns {Promise<InviteRotated>} `{invite}`, also `workspace.invite` now (event `workspace`). Rejects with `forbidden` when not the owner.
   */
  async rotateInvite() {
    const data = await this.request('rotate-invite');
    this._setInvite(data.invite);
    return data;
  }

  /**
   * Owner: sets the PIN that newcomers need (4 to 64 characters), or removes it (`null`
   * or an empty string). Resolves to `{protected}`.
   * @param {string | null} pin The new PIN, or `null` / `''` for none.
   * @returns {Promise<PinSet>} `{protected}`, also `workspace.protected` now (event `workspace`). Rejects with `bad_request` (a PIN under 4 characters or with control characters), `too_large` (over 64), `forbidden`, `rate_limited`.
   */
  async setPin(pin) {
    const data = await this.request('set-pin', { pin: pin || null });
    this._updateWorkspace({ protected: data.protected });
    return data;
  }

  /**
   * Owner: ends the workspace for everyone. The stored session is forgotten, and the
   * running call closes.
   * @returns {Promise<Destroyed>} `{workspace_id}`. Rejects with `forbidden` when not the owner.
   */
  async destroy() {
    const data = await this.request('destroy');
    this._endSession();
    return data;
  }

  /**
   * Resolves to the member list (join order, the own attendee included).
   * @returns {Promise<Attendee[]>} The list, which also replaces {@link members} (event `members`).
   */
  async attendees() {
    const data = await this.request('attendees');
    this.members = new Map(data.attendees.map((a) => [a.id, { ...a }]));
    this._emit('members', { attendees: data.attendees });
    return data.attendees;
  }

  /**
   * Publishes the own mic/cam state; emits `state` for the own attendee once accepted.
   * Goes through the outbox like the signals (see docs/sdk.md).
   * @param {MediaState} [change] The fields to change.
   * @returns {Promise<Empty>} `{}` once the server accepted it.
   */
  async state({ mic, cam } = {}) {
    const change = compact({ mic, cam });
    const data = await this._outbox.push('state', change).catch(async (err) => {
      // Unlike other signals, a state is still true after a re-attend.
      if (err.code !== 'expired_token' || !this._renewing) throw err;
      await this._renewing;
      return this._outbox.push('state', change);
    });
    const self = this.self;
    if (self) {
      if (mic !== undefined) self.mic = mic;
      if (cam !== undefined) self.cam = cam;
      this._emit('state', { from: self.id, mic: self.mic, cam: self.cam });
      this._emit('members', { attendees: [...this.members.values()] });
    }
    return data;
  }

  /**
   * Resolves to the RTCIceServer list for this member (TURN credentials included; they
   * expire after the reply's `ttl`, see {@link IceServerList}).
   * @returns {Promise<RTCIceServer[]>} Rejects with `unavailable` when a provider failed.
   */
  async iceServers() {
    const data = await this.request('iceservers');
    return data.ice_servers;
  }

  /**
   * Starts a mesh call with every other online member. Returns the Call at once, so that
   * listeners are attached before any stream arrives; `call.ready` resolves once it runs.
   * @param {CallOptions} [options] `localStream`, `mic`, `cam`, `callId`, `dataChannel`.
   * @returns {Call} The call, started.
   */
  call(options = {}) {
    return new Call(this, options);
  }

  // ----- internal state ---------------------------------------------------------------

  /** @param {string | null} attendeeId */
  _onKicked(attendeeId) {
    if (!this.token || attendeeId !== this.attendeeId) return;
    this._endSession();
    this._emit('kicked', { attendee_id: attendeeId });
  }

  /**
   * @param {string} event
   * @param {any} data
   */
  _onPush(event, data) {
    if (event === 'kicked') {
      this._onKicked(data.attendee_id); // emits `kicked` once, whether push or close 4003
      return;
    }
    this._applyPush(event, data);
    this._emit(event, data);
    if (event.startsWith('attendee-') || event === 'state') {
      this._emit('members', { attendees: [...this.members.values()] });
    }
  }

  // What a push changes in the SDK's state, before the app hears of it.
  /**
   * @param {string} event
   * @param {any} data The push's `data`, of the shape its event has in SwitchboardEventMap.
   */
  _applyPush(event, data) {
    const member = this.members.get(data.attendee_id ?? data.from);
    switch (event) {
      case 'destroyed':
        this._endSession();
        break;
      case 'attendee-joined':
        this.members.set(data.attendee.id, { ...data.attendee });
        break;
      case 'attendee-left':
        this.members.delete(data.attendee_id);
        this._dropSignals(data.attendee_id);
        break;
      case 'attendee-online':
        if (member) member.online = true;
        break;
      case 'attendee-offline':
        if (member) member.online = false;
        this._dropSignals(data.attendee_id);
        break;
      case 'state':
        if (member) Object.assign(member, { mic: data.mic, cam: data.cam });
        break;
      case 'hangup':
        this._dropSignals(data.from);
        break;
      case 'ring':
      case 'negotiation':
      case 'icecandidate':
        this._routeSignal(event, data);
        break;
      case 'invite-rotated':
        this._setInvite(data.invite);
        break;
      default:
        break;
    }
  }

  // Rotations may be answered and pushed in either order: an invite of an older version
  // (its `ver` claim) than the one we hold is not taken.
  /** @param {string | undefined} invite */
  _setInvite(invite) {
    /** @param {string} token */
    const version = (token) => decodeToken(token)?.ver ?? 0;
    if (!this.workspace || !invite || version(invite) < version(this.workspace.invite)) return;
    this._updateWorkspace({ invite });
  }

  /** @param {Partial<Workspace>} change */
  _updateWorkspace(change) {
    if (!this.workspace) return;
    Object.assign(this.workspace, change);
    this._emit('workspace', { workspace: this.workspace });
  }
}
