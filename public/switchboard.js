// Switchboard browser SDK: a client of the native protocol (docs/protocol.md) and a mesh
// video call on top of it. A dependency-free ES module; its parts are in ./sdk/, and
// docs/sdk.md describes them.

import { Call } from './sdk/call.js';
import { Membership } from './sdk/membership.js';
import { Outbox } from './sdk/outbox.js';
import { SwitchboardError, compact, decodeToken, sessions } from './sdk/session.js';

export { Call, SwitchboardError, decodeToken, sessions };

// Signals that arrive before a call is running are kept (bounded) for it.
const MAX_QUEUED_SIGNALS = 500;

/**
 * One connection to a Switchboard server and, once bound, one membership of a workspace.
 * Events are CustomEvents whose `detail` is the protocol's `data` (see docs/sdk.md).
 */
export class Switchboard extends Membership {
  constructor(url, options) {
    super(url, options);
    this._signalHandler = null;
    this._queuedSignals = [];
    // Outgoing signals: never lost (sent again when the server refuses them for the rate),
    // and no ICE candidate crosses the description it belongs to (see sdk/outbox.js).
    this._outbox = new Outbox((event, data) => this._requestSignal(event, data));
  }

  // ----- the connection's hooks ---------------------------------------------------------

  _onSocketClosed(e, { wasOpen }) {
    // Signals made on a lost connection are stale: the peers they were for start over.
    if (wasOpen) this._outbox.flush(new SwitchboardError('disconnected', 'The connection to the server was lost.'));
    if (e.code === 4003) this._onKicked(this.attendeeId);
  }

  _onRenewing() {
    this._outbox.flush(new SwitchboardError('expired_token', 'The session expired: the call starts over.'));
  }

  _onSessionEnded() {
    this._queuedSignals = [];
    this._outbox.flush(new SwitchboardError('not_attending', 'The membership has ended.'));
  }

  // ----- membership -------------------------------------------------------------------

  /** Creates a workspace and binds to it as its owner. Resolves to `{workspace, attendee, token}`. */
  async create({ name, pin, attendeeName } = {}) {
    const data = await this.request('create', compact({ name, pin: pin || undefined, attendee_name: attendeeName }));
    this._bind(data);
    return data;
  }

  /** Joins a workspace with its invite token (and PIN). Resolves to the `attended` data. */
  async attend({ invite, pin, name } = {}) {
    const data = await this.request('attend', compact({ invite, pin: pin || undefined, name }));
    this._bind(data);
    return data;
  }

  /**
   * Comes back as the member a session token names (default: the last stored session),
   * e.g. after a page reload. Resolves to the `re-attended` data and emits `reattended`.
   * A refused token is forgotten; other failures are retried in the background.
   */
  async reAttend(token = sessions.last()?.token) {
    if (!token) throw new SwitchboardError('invalid_token', 'No stored session.');
    this.token = token;
    try {
      await this._whenOpen(this.timeout);
    } catch (err) {
      if (!this._retryTimer && this.token && !this._closedByUser) this._scheduleReconnect();
      throw err;
    }
    return this._rebind(false);
  }

  /** Leaves the workspace (attendees only; the owner destroys it instead). */
  async leave() {
    const data = await this.request('leave');
    this._endSession();
    return data;
  }

  /**
   * Owner: removes a member; emits `attendee-left` (reason `kicked`) locally too. With
   * `ban`, the server also rotates the invite and refuses the member's address at this
   * workspace for a while (`workspace.ban_secs`); `workspace.invite` is the new link then.
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
  async _afterBan(data, before) {
    if (data.invite) this._setInvite(data.invite);
    else if (this.workspace && this.workspace.invite === before) await this.rotateInvite().catch(() => {});
  }

  /** Owner: replaces the invite link; the old one stops working. Resolves to `{invite}`. */
  async rotateInvite() {
    const data = await this.request('rotate-invite');
    this._setInvite(data.invite);
    return data;
  }

  /**
   * Owner: sets the PIN that newcomers need (4 to 64 characters), or removes it (`null`
   * or an empty string). Resolves to `{protected}`.
   */
  async setPin(pin) {
    const data = await this.request('set-pin', { pin: pin || null });
    this._updateWorkspace({ protected: data.protected });
    return data;
  }

  /** Owner: ends the workspace for everyone. */
  async destroy() {
    const data = await this.request('destroy');
    this._endSession();
    return data;
  }

  /** Resolves to the member list (join order, the own attendee included). */
  async attendees() {
    const data = await this.request('attendees');
    this.members = new Map(data.attendees.map((a) => [a.id, { ...a }]));
    this._emit('members', { attendees: data.attendees });
    return data.attendees;
  }

  /** Publishes the own mic/cam state; emits `state` for the own attendee once accepted. */
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

  /** Resolves to the RTCIceServer list for this member. */
  async iceServers() {
    const data = await this.request('iceservers');
    return data.ice_servers;
  }

  // ----- signals: each resolves once the server relayed it (`sent`). Descriptions keep
  // their order per target, candidates between them are pipelined, and every signal is sent
  // again when refused with `rate_limited` (see sdk/outbox.js).

  ring(to, call, sdp) {
    return this._outbox.push('ring', { to, call, sdp });
  }

  answer(to, call, sdp) {
    return this._outbox.push('answer', { to, call, sdp });
  }

  busy(to, call) {
    return this._outbox.push('busy', { to, call });
  }

  hangup(call, to) {
    return this._outbox.push('hangup', compact({ call, to }));
  }

  iceCandidate(to, candidate) {
    return this._outbox.push('icecandidate', { to, candidate });
  }

  negotiation(to, description) {
    return this._outbox.push('negotiation', { to, description });
  }

  /**
   * Starts a mesh call with every other online member. Returns the Call at once, so that
   * listeners are attached before any stream arrives; `call.ready` resolves once it runs.
   */
  call(options = {}) {
    const call = new Call(this, options);
    call.ready = call.start();
    return call;
  }

  // ----- internal state ---------------------------------------------------------------

  _onKicked(attendeeId) {
    if (!this.token || attendeeId !== this.attendeeId) return;
    this._endSession();
    this._emit('kicked', { attendee_id: attendeeId });
  }

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
  _setInvite(invite) {
    const version = (token) => decodeToken(token)?.ver ?? 0;
    if (!this.workspace || !invite || version(invite) < version(this.workspace.invite)) return;
    this._updateWorkspace({ invite });
  }

  _updateWorkspace(change) {
    if (!this.workspace) return;
    Object.assign(this.workspace, change);
    this._emit('workspace', { workspace: this.workspace });
  }

  // Offers can arrive before the app has started its call (it may still be waiting for the
  // camera); they are kept for the call instead of being lost.
  _routeSignal(event, data) {
    if (this._signalHandler) {
      this._signalHandler(event, data);
      return;
    }
    this._queuedSignals.push({ event, data });
    if (this._queuedSignals.length > MAX_QUEUED_SIGNALS) this._queuedSignals.shift();
  }

  // A member who left, went offline or hung up: the signals from them that wait for a
  // call, and ours to them still in the outbox, were for a connection that is gone.
  _dropSignals(id) {
    this._queuedSignals = this._queuedSignals.filter((s) => s.data.from !== id);
    this._outbox.drop(id, new SwitchboardError('peer_offline', 'That member left, went offline or hung up.'));
  }

  _setSignalHandler(handler) {
    this._signalHandler = handler;
    const queued = this._queuedSignals;
    this._queuedSignals = [];
    return queued;
  }
}
