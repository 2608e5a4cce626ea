// A mesh video call on top of a Switchboard membership: one RTCPeerConnection per other
// online member, negotiated with the perfect-negotiation pattern. See docs/sdk.md.

import { IceServers } from './ice.js';

// A peer connection stuck in `disconnected` this long gets an ICE restart.
const DISCONNECTED_GRACE_MS = 4_000;

// The session id of an SDP's `o=` line: it changes only when the remote side made a new
// RTCPeerConnection (e.g. it reloaded), so a different one means our connection is stale.
function sdpSession(description) {
  const m = /^o=\S+ (\d+) /m.exec(description?.sdp ?? '');
  return m ? m[1] : null;
}

/**
 * A full mesh of RTCPeerConnections with every other online member, negotiated with the
 * perfect-negotiation pattern over `negotiation` / `icecandidate` signals.
 * Events: `stream` {attendeeId, stream}, `peer-state` {attendeeId, state}, `closed`.
 */
export class Call extends EventTarget {
  constructor(sb, { localStream = null, callId = 'mesh', mic, cam } = {}) {
    super();
    this.sb = sb;
    this.localStream = localStream;
    this.callId = callId;
    /** Peers by attendee id: `{pc, stream, polite}`. */
    this.peers = new Map();
    this.closed = false;
    this._started = false;
    this._ice = new IceServers(
      () => sb.request('iceservers'),
      (list) => this._applyIceServers(list),
    );
    this._chains = new Map();
    this._inbox = sb._setSignalHandler((event, data) => this._onSignal(event, data));
    this._listeners = this._listen();
    this._setTracks('audio', mic ?? true);
    this._setTracks('video', cam ?? true);
  }

  get mic() {
    return this._enabled('audio');
  }

  get cam() {
    return this._enabled('video');
  }

  /** Fetches ICE servers, handles the offers that came in meanwhile, offers to the rest. */
  async start() {
    await this._ice.update(); // on failure, none: host candidates still connect a LAN
    if (this.closed) return;
    this._started = true;
    const inbox = this._inbox;
    this._inbox = [];
    inbox.forEach(({ event, data }) => this._onSignal(event, data));
    await this._connectAll();
    this._publishState();
  }

  /** Turns the microphone on or off (tracks enabled, `state {mic}` sent). */
  setMic(on) {
    this._setTracks('audio', on);
    return this.sb.state({ mic: on });
  }

  /** Turns the camera on or off (tracks enabled, `state {cam}` sent). */
  setCam(on) {
    this._setTracks('video', on);
    return this.sb.state({ cam: on });
  }

  /** Leaves the call: tells every online member (`hangup`), then closes. */
  async hangup() {
    if (this.closed) return;
    const sent = this.sb.hangup(this.callId).catch(() => {});
    this.close();
    await sent;
  }

  /** Closes every peer connection. The local stream is the app's: it is not stopped. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this._ice.stop();
    for (const id of [...this.peers.keys()]) this._closePeer(id);
    if (this.sb._signalHandler) this.sb._setSignalHandler(null);
    for (const [type, fn] of this._listeners) this.sb.removeEventListener(type, fn);
    this.dispatchEvent(new CustomEvent('closed'));
  }

  // ----- wiring -----------------------------------------------------------------------

  _listen() {
    const drop = (e) => this._closePeer(e.detail.attendee_id ?? e.detail.from);
    const unlessConnected = (e) => this._closeUnlessConnected(e.detail.attendee_id);
    const end = () => this.close();
    const listeners = [
      ['attendee-left', drop],
      // Online and offline are about a member's socket to the server, which a drained or
      // restarted server closes under a call: media that still flows peer to peer goes on.
      // A connection that does not work is dropped: a member back online offers anew, and
      // so does one who reloaded (a new SDP session replaces ours, see _onDescription).
      ['attendee-offline', unlessConnected],
      ['attendee-online', unlessConnected],
      ['hangup', drop],
      ['reattended', () => this._reconnectAll()],
      ['kicked', end],
      ['destroyed', end],
      ['session-ended', end],
    ];
    for (const [type, fn] of listeners) this.sb.addEventListener(type, fn);
    return listeners;
  }

  // After our own reconnect (a drained or restarted server, a network blip): connections
  // that still carry media stay, as the other side keeps its own; the rest start over
  // with everyone online.
  _reconnectAll() {
    if (!this._started || this.closed) return;
    for (const id of [...this.peers.keys()]) {
      if (this.sb.members.has(id)) this._closeUnlessConnected(id);
      else this._closePeer(id); // left while we were away
    }
    this._connectAll().catch(() => {});
    this._publishState();
  }

  _closeUnlessConnected(id) {
    const peer = this.peers.get(id);
    if (peer && peer.pc.connectionState !== 'connected') this._closePeer(id);
  }

  async _connectAll() {
    await this._ice.fresh();
    if (this.closed) return;
    for (const member of this.sb.members.values()) {
      if (member.id !== this.sb.attendeeId && member.online) this._peer(member.id);
    }
  }

  _publishState() {
    this.sb.state({ mic: this.mic, cam: this.cam }).catch(() => {});
  }

  _tracks(kind) {
    return this.localStream ? this.localStream.getTracks().filter((t) => t.kind === kind) : [];
  }

  _setTracks(kind, on) {
    this._tracks(kind).forEach((t) => (t.enabled = on));
  }

  _enabled(kind) {
    const tracks = this._tracks(kind);
    return tracks.length > 0 ? tracks.some((t) => t.enabled) : false;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ----- peers ------------------------------------------------------------------------

  _peer(id) {
    const existing = this.peers.get(id);
    if (existing) return existing;
    const pc = new RTCPeerConnection({ iceServers: this._ice.list });
    const peer = {
      id,
      pc,
      // Exactly one side is polite; it gives way when both offer at once.
      polite: this.sb.attendeeId > id,
      stream: new MediaStream(),
      makingOffer: false,
      ignoreOffer: false,
      remoteSession: null,
      candidates: [],
      restartTimer: null,
    };
    this.peers.set(id, peer);
    this._addLocalMedia(pc);
    pc.onnegotiationneeded = () => this._offer(peer);
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.sb.iceCandidate(id, candidate.toJSON()).catch(() => {});
    };
    pc.ontrack = ({ track }) => this._onTrack(peer, track);
    pc.onconnectionstatechange = () => this._onConnectionState(peer);
    return peer;
  }

  // Our tracks, or receive-only transceivers when we have none of a kind, so that we still
  // see and hear the others without a camera or microphone.
  _addLocalMedia(pc) {
    for (const kind of ['audio', 'video']) {
      const tracks = this._tracks(kind);
      if (tracks.length === 0) pc.addTransceiver(kind, { direction: 'recvonly' });
      tracks.forEach((t) => pc.addTrack(t, this.localStream));
    }
  }

  _onTrack(peer, track) {
    if (!peer.stream.getTracks().includes(track)) peer.stream.addTrack(track);
    this._emit('stream', { attendeeId: peer.id, stream: peer.stream });
  }

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
  _applyIceServers(list) {
    for (const { pc } of this.peers.values()) {
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: list });
      } catch (err) {
        console.warn('switchboard: could not update the ICE servers of a connection', err);
      }
    }
  }

  _closePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    this._chains.delete(id);
    clearTimeout(peer.restartTimer);
    peer.pc.close();
    this._emit('peer-state', { attendeeId: id, state: 'closed' });
  }

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

  _onSignal(event, data) {
    if (!this._started) {
      this._inbox.push({ event, data });
      return;
    }
    // One sender's signals are handled strictly in order (offer before its candidates).
    const from = data.from;
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
  async _onDescription(from, description, ringCall) {
    if (this.closed || !description?.type || from === this.sb.attendeeId) return;
    const isOffer = description.type === 'offer';
    // An offer may need a new connection, or restart ICE: either gathers with our servers.
    if (isOffer) await this._ice.fresh();
    if (this.closed) return;
    let peer = this.peers.get(from);
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
  }

  async _onCandidate(from, candidate) {
    const peer = this.peers.get(from);
    if (!peer || !candidate) return;
    if (!peer.pc.remoteDescription) {
      peer.candidates.push(candidate); // they may precede the description we ignored
      return;
    }
    await this._addCandidate(peer, candidate);
  }

  async _flushCandidates(peer) {
    const queued = peer.candidates;
    peer.candidates = [];
    for (const c of queued) await this._addCandidate(peer, c);
  }

  async _addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored, or of a previous ICE generation, fail harmlessly.
      if (!peer.ignoreOffer && peer.pc.signalingState !== 'closed') console.debug('switchboard: candidate', err);
    }
  }
}
