// The workspace a Switchboard connection is bound to, as the server's pushes keep it: the
// members and their presence and mic/cam state, the invite and PIN, the owner's moderation,
// and the signals of a call, sent through the outbox and routed to the running Call.

import { Call } from './call.js';
import { Membership } from './membership.js';
import { Outbox } from './outbox.js';
import { SwitchboardError, compact, decodeToken, sessions } from './session.js';

/**
 * @import { AttendOptions, Attended, Attendee, CallOptions, Created, CreateOptions, Destroyed, Empty,
 *   InviteRotated, Kicked, KickOptions, MediaState, PinSet, SwitchboardEventMap, SwitchboardOptions, Workspace } from './index.js'
 */

/**
 * A signal for the call: `ring`, `negotiation` or `icecandidate` and its pushed `data`.
 * @typedef {{event: string, data: {from: string} & Record<string, unknown>}} Signal
 */

// Signals that arrive before a call is running are kept (bounded) for it.
const MAX_QUEUED_SIGNALS = 500;

/**
 * One connection to a Switchboard server and, once bound, one membership of a workspace.
 * Events are CustomEvents whose `detail` is the protocol's `data` (see docs/sdk.md and
 * {@link SwitchboardEventMap}). Requests reject with a {@link SwitchboardError}.
 */
export class Switchboard extends Membership {
  /**
   * Does not connect yet: the first request (or {@link connect}) does.
   * @param {string} [url] The server: its WebSocket URL (`wss://example.com/ws`), or its http(s) address (`https://example.com`, meaning `wss://example.com/ws`). Default: this page's server (`wss://<host>/ws` on https pages, `ws://…` otherwise).
   * @param {SwitchboardOptions} [options] `timeout`.
   */
  constructor(url, options) {
    super(url, options);
    // The running call: it gets the call signals, and ends with the membership.
    /** @type {Call | null} */
    this._call = null;
    /** @type {Signal[]} */
    this._queuedSignals = [];
    // Outgoing signals: never lost (sent again when the server refuses them for the rate),
    // and no ICE candidate crosses the description it belongs to (see sdk/outbox.js).
    this._outbox = new Outbox((event, data) => this._requestSignal(event, data));
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
  _onSocketClosed(e, { wasOpen }) {
    // Signals made on a lost connection are stale: the peers they were for start over.
    if (wasOpen) this._outbox.flush(new SwitchboardError('disconnected', 'The connection to the server was lost.'));
    if (e.code === 4003) this._onKicked(this.attendeeId);
  }

  _onRenewing() {
    this._outbox.flush(new SwitchboardError('expired_token', 'The session expired: the call starts over.'));
  }

  _onSessionEnded() {
    this._call?.close();
    this._queuedSignals = [];
    this._outbox.flush(new SwitchboardError('not_attending', 'The membership has ended.'));
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
   * session is forgotten.
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
   * Owner: ends the workspace for everyone. The stored session is forgotten.
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

  // ----- signals: each resolves once the server relayed it (`sent`). Descriptions keep
  // their order per target, candidates between them are pipelined, and every signal is sent
  // again when refused with `rate_limited` (see sdk/outbox.js).

  /**
   * Sends a call offer in the webRTCWorkspaces style (docs/compat.md).
   * @param {string} to The attendee id to ring.
   * @param {string} call A call id (1 to 64 characters).
   * @param {RTCSessionDescriptionInit | null} sdp The offer (passed through untouched).
   * @returns {Promise<Empty>} `{}` once relayed. Rejects with `peer_offline`, `unknown_attendee`, `bad_request` (`to` is the sender), or `disconnected` / `expired_token` / `not_attending` when the connection or membership it was for is gone.
   */
  ring(to, call, sdp) {
    return this._outbox.push('ring', { to, call, sdp });
  }

  /**
   * Answers a `ring`.
   * @param {string} to The attendee id that rang.
   * @param {string} call The call id of the ring.
   * @param {RTCSessionDescriptionInit | null} sdp The answer (passed through untouched).
   * @returns {Promise<Empty>} `{}` once relayed; rejects as {@link ring} does.
   */
  answer(to, call, sdp) {
    return this._outbox.push('answer', { to, call, sdp });
  }

  /**
   * Tells a member who rang that we are in another call.
   * @param {string} to The attendee id that rang.
   * @param {string} call The call id of the ring.
   * @returns {Promise<Empty>} `{}` once relayed; rejects as {@link ring} does.
   */
  busy(to, call) {
    return this._outbox.push('busy', { to, call });
  }

  /**
   * Hangs up: to one member, or to every online member.
   * @param {string} call The call id.
   * @param {string} [to] An attendee id; default: every online member.
   * @returns {Promise<Empty>} `{}` once relayed; rejects as {@link ring} does.
   */
  hangup(call, to) {
    return this._outbox.push('hangup', compact({ call, to }));
  }

  /**
   * Sends an ICE candidate to a member.
   * @param {string} to The attendee id.
   * @param {RTCIceCandidateInit} candidate The candidate (`RTCIceCandidate.toJSON()`), passed through untouched.
   * @returns {Promise<Empty>} `{}` once relayed; rejects as {@link ring} does.
   */
  iceCandidate(to, candidate) {
    return this._outbox.push('icecandidate', { to, candidate });
  }

  /**
   * Sends an offer or answer of perfect negotiation to a member.
   * @param {string} to The attendee id.
   * @param {RTCSessionDescriptionInit | null} description The description (passed through untouched).
   * @returns {Promise<Empty>} `{}` once relayed; rejects as {@link ring} does.
   */
  negotiation(to, description) {
    return this._outbox.push('negotiation', { to, description });
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

  // Offers can arrive before the app has started its call (it may still be waiting for the
  // camera); they are kept for the call instead of being lost.
  /**
   * @param {string} event
   * @param {Signal['data']} data
   */
  _routeSignal(event, data) {
    if (this._call) {
      this._call._onSignal(event, data);
      return;
    }
    this._queuedSignals.push({ event, data });
    if (this._queuedSignals.length > MAX_QUEUED_SIGNALS) this._queuedSignals.shift();
  }

  // A member who left, went offline or hung up: the signals from them that wait for a
  // call, and ours to them still in the outbox, were for a connection that is gone.
  /** @param {string} id */
  _dropSignals(id) {
    this._queuedSignals = this._queuedSignals.filter((s) => s.data.from !== id);
    this._outbox.drop(id, new SwitchboardError('peer_offline', 'That member left, went offline or hung up.'));
  }

  /**
   * A new call takes the call signals over from any earlier one.
   * @param {Call} call
   * @returns {Signal[]} The signals queued until now, for it.
   */
  _attachCall(call) {
    this._call = call;
    const queued = this._queuedSignals;
    this._queuedSignals = [];
    return queued;
  }

  /**
   * A call that closes stops getting signals, unless a newer one has them already.
   * @param {Call} call
   */
  _detachCall(call) {
    if (this._call === call) this._call = null;
  }
}
