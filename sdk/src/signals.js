// The call signals of a membership: sent through the outbox, in order and never lost to
// the server's rate limit (outbox.js), and received for the running Call, or kept for it
// until the app starts one. Each signal method resolves once the server relayed it
// (`sent`); descriptions keep their order per target, candidates between them are
// pipelined, and a signal refused with `rate_limited` is sent again.

import { Membership } from './membership.js';
import { Outbox } from './outbox.js';
import { SwitchboardError, compact } from './session.js';

/**
 * @import { Empty } from './index.js'
 * @import { Call } from './call.js'
 */

/**
 * A signal for the call: `ring`, `negotiation` or `icecandidate` and its pushed `data`.
 * @typedef {{event: string, data: {from: string} & Record<string, unknown>}} Signal
 */

// Signals that arrive before a call is running are kept (bounded) for it.
const MAX_QUEUED_SIGNALS = 500;

/**
 * The signals of a {@link Switchboard} (its base class: use Switchboard).
 */
export class Signaling extends Membership {
  /**
   * @param {string} [url]
   * @param {import('./index.js').SwitchboardOptions} [options]
   */
  constructor(url, options) {
    super(url, options);
    // The running call: it gets the call signals, and ends with the membership.
    /** @type {Call | null} */
    this._call = null;
    /** @type {Signal[]} */
    this._queuedSignals = [];
    // Outgoing signals: never lost (sent again when the server refuses them for the rate),
    // and no ICE candidate crosses the description it belongs to (see outbox.js).
    this._outbox = new Outbox((event, data) => this._requestSignal(event, data));
  }

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

  // ----- the membership's hooks ----------------------------------------------------------

  /**
   * @param {CloseEvent} e
   * @param {{wasOpen: boolean}} state
   */
  _onSocketClosed(e, { wasOpen }) {
    super._onSocketClosed(e, { wasOpen });
    // Signals made on a lost connection are stale: the peers they were for start over.
    if (wasOpen) this._outbox.flush(new SwitchboardError('disconnected', 'The connection to the server was lost.'));
  }

  _onRenewing() {
    this._outbox.flush(new SwitchboardError('expired_token', 'The session expired: the call starts over.'));
  }

  _onSessionEnded() {
    this._call?.close();
    this._queuedSignals = [];
    this._outbox.flush(new SwitchboardError('not_attending', 'The membership has ended.'));
  }

  // ----- incoming signals -----------------------------------------------------------------

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
