// The peer connections of a call, one per other member, negotiated with the
// perfect-negotiation pattern over `negotiation` / `icecandidate` signals (`ring` from
// webRTCWorkspaces clients is an offer too): offers and answers per member in order,
// ICE candidates trickled, ICE restarts, and connections replaced when the other side
// made a new one. What goes on them (media, a data channel) is the Call's (call.js).

import { IceServers } from './ice.js';

/**
 * @import { CallEventMap, CallPeer } from './index.js'
 * @import { Switchboard } from './switchboard.js'
 * @import { Signal } from './signals.js'
 */

/**
 * A peer as the call keeps it: what CallPeer shows, and the state of its negotiation.
 * @typedef {object} PeerState
 * @property {boolean} makingOffer An offer of ours is being made (perfect negotiation).
 * @property {boolean} ignoreOffer Their last offer collided with ours and was ignored.
 * @property {string | null} remoteSession The SDP session id of their connection.
 * @property {RTCIceCandidateInit[]} candidates Candidates that came before their description.
 * @property {ReturnType<typeof setTimeout> | null} restartTimer The ICE restart after a `disconnected` grace.
 * @property {ReturnType<typeof setTimeout> | null} startTimer The check that ICE began after the negotiation.
 */
/** @typedef {CallPeer & PeerState} Peer */

// A peer connection stuck in `disconnected` this long gets an ICE restart.
const DISCONNECTED_GRACE_MS = 4_000;
// A negotiated connection whose ICE has not begun (still `new`) this long is made anew.
const ICE_START_GRACE_MS = 5_000;

// The session id of an SDP's `o=` line: it changes only when the remote side made a new
// RTCPeerConnection (e.g. it reloaded), so a different one means our connection is stale.
/**
 * @param {RTCSessionDescriptionInit | null | undefined} description
 * @returns {string | null}
 */
function sdpSession(description) {
  const m = /^o=\S+ (\d+) /m.exec(description?.sdp ?? '');
  return m ? m[1] : null;
}

/**
 * The peer connections of a {@link Call} (its base class: use Call).
 */
export class Mesh extends EventTarget {
  /** @param {Switchboard} sb The bound Switchboard whose members to connect to. */
  constructor(sb) {
    super();
    /** The Switchboard the call runs on. */
    this.sb = sb;
    /**
     * Peers by attendee id: `{pc, stream, polite, channel}` (`channel` with `dataChannel`).
     * @type {Map<string, CallPeer>}
     */
    this.peers = new Map();
    /** Whether the call has closed (it cannot be started again). */
    this.closed = false;
    // Signals wait here until the call has its ICE servers (see Call's _start).
    this._started = false;
    /** @type {Signal[]} */
    this._inbox = [];
    this._ice = new IceServers(
      () => sb.request('iceservers'),
      (list) => this._applyIceServers(list),
    );
    // Per member, the signals being handled, one after the other.
    /** @type {Map<string, Promise<void>>} */
    this._chains = new Map();
  }

  // ----- what the call adds ---------------------------------------------------------------

  /** Puts the local media (and the data channel) on a new peer connection. @param {Peer} peer */
  _addMedia(peer) {}

  /** A remote track arrived. @param {Peer} peer @param {MediaStreamTrack} track */
  _onTrack(peer, track) {}

  /**
   * @template {keyof CallEventMap} K
   * @param {K} type
   * @param {CallEventMap[K]['detail']} detail
   */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ----- peers ------------------------------------------------------------------------------

  /**
   * @param {string} id
   * @returns {Peer}
   */
  _peer(id) {
    const existing = /** @type {Peer | undefined} */ (this.peers.get(id));
    if (existing) return existing;
    const pc = new RTCPeerConnection({ iceServers: this._ice.list });
    /** @type {Peer} */
    const peer = {
      id,
      pc,
      // Exactly one side is polite; it gives way when both offer at once.
      polite: /** @type {string} */ (this.sb.attendeeId) > id,
      stream: new MediaStream(),
      makingOffer: false,
      ignoreOffer: false,
      remoteSession: null,
      candidates: [],
      restartTimer: null,
      startTimer: null,
      channel: null,
    };
    this.peers.set(id, peer);
    this._addMedia(peer);
    pc.onnegotiationneeded = () => this._offer(peer);
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.sb.iceCandidate(id, candidate.toJSON()).catch(() => {});
    };
    pc.ontrack = ({ track }) => this._onTrack(peer, track);
    pc.onconnectionstatechange = () => this._onConnectionState(peer);
    return peer;
  }

  /** @param {Peer} peer */
  _onConnectionState(peer) {
    const { pc } = peer;
    const state = pc.connectionState;
    if (this.peers.get(peer.id) !== peer) return; // a replaced connection
    this._emit('peer-state', { attendeeId: peer.id, state });
    clearTimeout(peer.restartTimer);
    if (state === 'failed') {
      this._restartIce(peer);
    } else if (state === 'disconnected') {
      // Often recovers by itself (a brief network change); restart if it does not.
      peer.restartTimer = setTimeout(() => {
        if (pc.connectionState === 'disconnected') this._restartIce(peer);
      }, DISCONNECTED_GRACE_MS);
    }
  }

  // A restart gathers relay candidates anew: with valid TURN credentials, then. Fetching
  // them may take a moment, in which the connection may have recovered or been replaced.
  // A member who is offline cannot get the restart's offer: the connection kept for them
  // is over instead.
  /** @param {Peer} peer */
  async _restartIce(peer) {
    if (!this.sb.members.get(peer.id)?.online) {
      if (this.peers.get(peer.id) === peer) this._closePeer(peer.id);
      return;
    }
    await this._ice.fresh();
    const state = peer.pc.connectionState;
    if (this.peers.get(peer.id) === peer && (state === 'failed' || state === 'disconnected')) peer.pc.restartIce();
  }

  // New credentials go to the existing connections too, for their next ICE restart.
  /** @param {RTCIceServer[]} list */
  _applyIceServers(list) {
    for (const { pc } of this.peers.values()) {
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: list });
      } catch (err) {
        console.warn('switchboard: could not update the ICE servers of a connection', err);
      }
    }
  }

  /** @param {string} id */
  _closePeer(id) {
    const peer = /** @type {Peer | undefined} */ (this.peers.get(id));
    if (!peer) return;
    this.peers.delete(id);
    this._chains.delete(id);
    clearTimeout(peer.restartTimer);
    clearTimeout(peer.startTimer);
    peer.pc.close();
    this._emit('peer-state', { attendeeId: id, state: 'closed' });
  }

  /** @param {Peer} peer */
  async _offer(peer) {
    let sending = null;
    try {
      peer.makingOffer = true;
      await peer.pc.setLocalDescription();
      sending = this.sb.negotiation(peer.id, peer.pc.localDescription);
    } catch (err) {
      if (!this.closed && peer.pc.signalingState !== 'closed') console.warn('switchboard: offer failed', err);
    } finally {
      peer.makingOffer = false;
    }
    await sending?.catch(() => {});
  }

  // ----- incoming signals -------------------------------------------------------------

  /**
   * @param {string} event
   * @param {any} data The signal's pushed `data` (SwitchboardEventMap's shape for its event).
   */
  _onSignal(event, data) {
    if (!this._started) {
      this._inbox.push({ event, data });
      return;
    }
    // One sender's signals are handled strictly in order (offer before its candidates).
    /** @type {string} */
    const from = data.from;
    /** @type {Record<string, () => Promise<void>>} */
    const handlers = {
      negotiation: () => this._onDescription(from, data.description),
      // webRTCWorkspaces clients (docs/compat.md) start calls with `ring` and expect
      // `answer`; a ring is an offer like any other.
      ring: () => this._onDescription(from, data.sdp, data.call),
      icecandidate: () => this._onCandidate(from, data.candidate),
    };
    const handle = handlers[event];
    if (!handle) return;
    const prev = this._chains.get(from) ?? Promise.resolve();
    const next = prev.then(handle).catch((err) => {
      if (!this.closed) console.warn('switchboard: signal from', from, 'failed', err);
    });
    this._chains.set(from, next);
  }

  // `ringCall`: the offer came as a `ring` of that call; it is answered with `answer`.
  /**
   * @param {string} from
   * @param {RTCSessionDescriptionInit | undefined} description
   * @param {string} [ringCall]
   */
  async _onDescription(from, description, ringCall) {
    if (this.closed || !description?.type || from === this.sb.attendeeId) return;
    const isOffer = description.type === 'offer';
    // An offer may need a new connection, or restart ICE: either gathers with our servers.
    if (isOffer) await this._ice.fresh();
    if (this.closed) return;
    let peer = /** @type {Peer | undefined | null} */ (this.peers.get(from));
    const session = sdpSession(description);
    if (peer && peer.remoteSession && session && session !== peer.remoteSession) {
      // The other side started a new connection (reload, reconnect): ours is stale.
      this._closePeer(from);
      peer = null;
      if (!isOffer) {
        this._peer(from); // an answer to an offer we no longer have: offer again
        return;
      }
    }
    if (!peer) {
      if (!isOffer) return;
      peer = this._peer(from);
    }
    const { pc } = peer;
    const collision = isOffer && (peer.makingOffer || pc.signalingState !== 'stable');
    // A ringing client cannot give way: when it rings, we do.
    peer.ignoreOffer = !peer.polite && collision && ringCall === undefined;
    if (peer.ignoreOffer) return;
    if (!isOffer && pc.signalingState !== 'have-local-offer') return; // a stale answer
    await pc.setRemoteDescription(description);
    peer.remoteSession = session;
    await this._flushCandidates(peer);
    if (isOffer) {
      await pc.setLocalDescription();
      // Not awaited: the SDK keeps our answer ahead of our candidates, and their next
      // signals need not wait while a busy server has it paced.
      const answer = ringCall === undefined ? this.sb.negotiation(from, pc.localDescription) : this.sb.answer(from, ringCall, pc.localDescription);
      answer.catch(() => {});
    }
    this._watchIceStart(peer);
  }

  // Two offers crossing make the polite side roll its own back; rolled back before it
  // gathered a candidate, Chromium's gathering can stall for good (seen in about one in
  // four such crossings), and an ICE restart on that connection does not revive it. So
  // once the negotiation is done, a connection whose ICE never began is replaced: by the
  // impolite side only, so that the two replacements do not cross in turn. The other
  // side sees the new SDP session and replaces its own (see _onDescription).
  /** @param {Peer} peer */
  _watchIceStart(peer) {
    clearTimeout(peer.startTimer);
    if (peer.polite) return;
    peer.startTimer = setTimeout(() => {
      if (this.peers.get(peer.id) !== peer || peer.pc.connectionState !== 'new' || peer.pc.signalingState !== 'stable') return;
      this._closePeer(peer.id);
      this._peer(peer.id);
    }, ICE_START_GRACE_MS);
  }

  /**
   * @param {string} from
   * @param {RTCIceCandidateInit | undefined} candidate
   */
  async _onCandidate(from, candidate) {
    const peer = /** @type {Peer | undefined} */ (this.peers.get(from));
    if (!peer || !candidate) return;
    if (!peer.pc.remoteDescription) {
      peer.candidates.push(candidate); // they may precede the description we ignored
      return;
    }
    await this._addCandidate(peer, candidate);
  }

  /** @param {Peer} peer */
  async _flushCandidates(peer) {
    const queued = peer.candidates;
    peer.candidates = [];
    for (const c of queued) await this._addCandidate(peer, c);
  }

  /**
   * @param {Peer} peer
   * @param {RTCIceCandidateInit} candidate
   */
  async _addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored, or of a previous ICE generation, fail harmlessly.
      if (!peer.ignoreOffer && peer.pc.signalingState !== 'closed') console.debug('switchboard: candidate', err);
    }
  }
}
