// A mesh video call on top of a Switchboard membership: one RTCPeerConnection per other
// online member, negotiated with the perfect-negotiation pattern. See docs/sdk.md.

import { IceServers } from './ice.js';
import { compact } from './session.js';

/**
 * @import { CallEventMap, CallOptions, CallPeer, DataChannelData, Empty, SwitchboardEventMap } from './index.js'
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

/**
 * An event of the Switchboard that the call listens to, and what it does then.
 * @typedef {[keyof SwitchboardEventMap, (e: CustomEvent<{attendee_id?: string, from?: string}>) => void]} SbListener
 */

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

// The data channel's label and SCTP stream id when the app gives none.
const DATA_CHANNEL_LABEL = 'switchboard';
const DATA_CHANNEL_ID = 0;

/**
 * A full mesh of RTCPeerConnections with every other online member, negotiated with the
 * perfect-negotiation pattern over `negotiation` / `icecandidate` signals.
 * Events: `stream` {attendeeId, stream}, `peer-state` {attendeeId, state}, `closed`, and
 * with the `dataChannel` option `channel-open` {attendeeId, channel}, `message`
 * {attendeeId, data} (see {@link CallEventMap}).
 */
export class Call extends EventTarget {
  /**
   * Made by {@link Switchboard.call}, which also starts it; a Call made with `new` starts
   * with {@link start}. It listens to `sb` and takes over its call signals.
   * @param {Switchboard} sb The bound Switchboard whose members to call.
   * @param {CallOptions} [options] `localStream`, `mic`, `cam`, `callId`, `dataChannel`.
   */
  constructor(sb, { localStream = null, callId = 'mesh', mic, cam, dataChannel = false } = {}) {
    super();
    /** The Switchboard the call runs on. */
    this.sb = sb;
    /**
     * The stream sent to every peer; the app's (closing the call does not stop it).
     * @type {MediaStream | null}
     */
    this.localStream = localStream;
    /** The `call` string of the `hangup` it sends. */
    this.callId = callId;
    // Both sides open the channel themselves (negotiated, on an agreed id): it is in the
    // first offer, and neither waits for the other's `datachannel` event.
    /** @type {(RTCDataChannelInit & {label: string}) | null} */
    this._channelInit = dataChannel ? { label: DATA_CHANNEL_LABEL, id: DATA_CHANNEL_ID, ...compact(dataChannel === true ? {} : dataChannel), negotiated: true } : null;
    /**
     * Peers by attendee id: `{pc, stream, polite, channel}` (`channel` with `dataChannel`).
     * @type {Map<string, CallPeer>}
     */
    this.peers = new Map();
    /** Whether the call has closed (it cannot be started again). */
    this.closed = false;
    this._started = false;
    this._ice = new IceServers(
      () => sb.request('iceservers'),
      (list) => this._applyIceServers(list),
    );
    /** @type {Map<string, Promise<void>>} */
    this._chains = new Map();
    this._inbox = sb._attachCall(this);
    this._listeners = this._listen();
    this._setTracks('audio', mic ?? true);
    this._setTracks('video', cam ?? true);
    /**
     * Resolves once the call runs: ICE servers fetched, offers made to every online member.
     * @type {Promise<void>}
     */
    this.ready = this._start(); // last: it reads the state set above
  }

  /** Whether the local audio tracks are enabled (false without any). */
  get mic() {
    return this._enabled('audio');
  }

  /** Whether the local video tracks are enabled (false without any). */
  get cam() {
    return this._enabled('video');
  }

  /**
   * The promise of {@link ready}: the constructor starts the call.
   * @returns {Promise<void>}
   */
  start() {
    return this.ready;
  }

  // Fetches ICE servers, handles the offers that came in meanwhile, offers to the rest.
  async _start() {
    await this._ice.update(); // on failure, none: host candidates still connect a LAN
    if (this.closed) return;
    this._started = true;
    const inbox = this._inbox;
    this._inbox = [];
    inbox.forEach(({ event, data }) => this._onSignal(event, data));
    // Members whose offer is waiting get our answer, not an offer of ours as well: two
    // offers crossing make one side roll its own back, and Chromium's ICE gathering
    // sometimes never resumes after a rollback, leaving that connection `new` for good.
    /** @param {Signal} signal */
    const isOffer = ({ event, data }) => event === 'ring' || (event === 'negotiation' && /** @type {RTCSessionDescriptionInit | undefined} */ (data.description)?.type === 'offer');
    const offering = inbox.filter(isOffer);
    await this._connectAll(new Set(offering.map(({ data }) => data.from)));
    this._publishState();
  }

  /**
   * Turns the microphone on or off (tracks enabled, `state {mic}` sent).
   * @param {boolean} on
   * @returns {Promise<Empty>} Resolves once the server accepted the `state`.
   */
  setMic(on) {
    this._setTracks('audio', on);
    return this.sb.state({ mic: on });
  }

  /**
   * Turns the camera on or off (tracks enabled, `state {cam}` sent).
   * @param {boolean} on
   * @returns {Promise<Empty>} Resolves once the server accepted the `state`.
   */
  setCam(on) {
    this._setTracks('video', on);
    return this.sb.state({ cam: on });
  }

  /**
   * Sends `data` over the data channel (the `dataChannel` option) to one member, or to
   * every member whose channel is open. Returns the ids it was sent to: a member whose
   * channel is not open (yet) is left out, as RTCDataChannel.send would throw.
   * @param {DataChannelData} data What `RTCDataChannel.send` takes.
   * @param {string} [to] An attendee id; default: every member whose channel is open.
   * @returns {string[]} The attendee ids it was sent to.
   */
  send(data, to) {
    /** @type {string[]} */
    const sent = [];
    for (const peer of this.peers.values()) {
      if ((to === undefined || peer.id === to) && peer.channel?.readyState === 'open') {
        // lib.dom declares send() once per type of data, which a union matches none of.
        /** @type {{send(data: DataChannelData): void}} */ (peer.channel).send(data);
        sent.push(peer.id);
      }
    }
    return sent;
  }

  /**
   * Leaves the call: tells every online member (`hangup`), then closes.
   * @returns {Promise<void>} Resolves once the `hangup` was relayed (or failed: it is not retried).
   */
  async hangup() {
    if (this.closed) return;
    const sent = this.sb.hangup(this.callId).catch(() => {});
    this.close();
    await sent;
  }

  /**
   * Closes every peer connection and emits `closed`. The local stream is the app's: it is
   * not stopped.
   * @returns {void}
   */
  close() {
    if (this.closed) return;
    this.closed = true;
    this._ice.stop();
    for (const id of [...this.peers.keys()]) this._closePeer(id);
    this.sb._detachCall(this);
    for (const [type, fn] of this._listeners) this.sb.removeEventListener(type, /** @type {EventListener} */ (fn));
    this.dispatchEvent(new CustomEvent('closed'));
  }

  // ----- events -------------------------------------------------------------------------
  // EventTarget's own methods, with the event names and `detail` types of CallEventMap for
  // TypeScript; they only call EventTarget's.

  /**
   * Listens to an event of {@link CallEventMap} (EventTarget's method).
   * @template {keyof CallEventMap} K
   * @param {K} type The event's name.
   * @param {((this: Call, event: CallEventMap[K]) => void) | {handleEvent(event: CallEventMap[K]): void} | null} listener Called with the `CustomEvent`; its `detail` is the payload.
   * @param {boolean | AddEventListenerOptions} [options] As for any EventTarget (`once`, `signal`, …).
   * @returns {void}
   */
  addEventListener(type, listener, options) {
    super.addEventListener(type, /** @type {EventListenerOrEventListenerObject | null} */ (listener), options);
  }

  /**
   * Stops listening (EventTarget's method).
   * @template {keyof CallEventMap} K
   * @param {K} type The event's name.
   * @param {((this: Call, event: CallEventMap[K]) => void) | {handleEvent(event: CallEventMap[K]): void} | null} listener The listener that was added.
   * @param {boolean | EventListenerOptions} [options] As for any EventTarget.
   * @returns {void}
   */
  removeEventListener(type, listener, options) {
    super.removeEventListener(type, /** @type {EventListenerOrEventListenerObject | null} */ (listener), options);
  }

  // ----- wiring -----------------------------------------------------------------------

  /** @returns {SbListener[]} */
  _listen() {
    // `attendee-left` and `attendee-*line` carry `attendee_id`, `hangup` carries `from`.
    /** @param {CustomEvent<{attendee_id?: string, from?: string}>} e */
    const drop = (e) => this._closePeer(/** @type {string} */ (e.detail.attendee_id ?? e.detail.from));
    /** @param {CustomEvent<{attendee_id?: string}>} e */
    const unlessConnected = (e) => this._closeUnlessConnected(/** @type {string} */ (e.detail.attendee_id));
    const end = () => this.close();
    /** @type {SbListener[]} */
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
    // Each listener takes its own event's detail; TypeScript cannot match them up in a list.
    for (const [type, fn] of listeners) this.sb.addEventListener(type, /** @type {EventListener} */ (fn));
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

  /** @param {string} id */
  _closeUnlessConnected(id) {
    const peer = this.peers.get(id);
    if (peer && peer.pc.connectionState !== 'connected') this._closePeer(id);
  }

  /** @param {Set<string>} [answering] Members not to offer to: their offer is being answered. */
  async _connectAll(answering = new Set()) {
    await this._ice.fresh();
    if (this.closed) return;
    for (const member of this.sb.members.values()) {
      if (member.id !== this.sb.attendeeId && member.online && !answering.has(member.id)) this._peer(member.id);
    }
  }

  _publishState() {
    this.sb.state({ mic: this.mic, cam: this.cam }).catch(() => {});
  }

  /**
   * @param {string} kind `audio` or `video`
   * @returns {MediaStreamTrack[]}
   */
  _tracks(kind) {
    return this.localStream ? this.localStream.getTracks().filter((t) => t.kind === kind) : [];
  }

  /**
   * @param {string} kind
   * @param {boolean} on
   */
  _setTracks(kind, on) {
    this._tracks(kind).forEach((t) => (t.enabled = on));
  }

  /** @param {string} kind */
  _enabled(kind) {
    const tracks = this._tracks(kind);
    return tracks.length > 0 ? tracks.some((t) => t.enabled) : false;
  }

  /**
   * @template {keyof CallEventMap} K
   * @param {K} type
   * @param {CallEventMap[K]['detail']} detail
   */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ----- peers ------------------------------------------------------------------------

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
    this._addLocalMedia(pc);
    if (this._channelInit) this._openChannel(peer);
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
  /** @param {RTCPeerConnection} pc */
  _addLocalMedia(pc) {
    for (const kind of ['audio', 'video']) {
      const tracks = this._tracks(kind);
      if (tracks.length === 0) pc.addTransceiver(kind, { direction: 'recvonly' });
      tracks.forEach((t) => pc.addTrack(t, /** @type {MediaStream} */ (this.localStream)));
    }
  }

  /** @param {Peer} peer */
  _openChannel(peer) {
    const { label, ...init } = /** @type {RTCDataChannelInit & {label: string}} */ (this._channelInit);
    const channel = peer.pc.createDataChannel(label, init);
    peer.channel = channel;
    channel.onopen = () => this._emit('channel-open', { attendeeId: peer.id, channel });
    channel.onmessage = ({ data }) => this._emit('message', { attendeeId: peer.id, data });
  }

  /**
   * @param {Peer} peer
   * @param {MediaStreamTrack} track
   */
  _onTrack(peer, track) {
    if (!peer.stream.getTracks().includes(track)) peer.stream.addTrack(track);
    this._emit('stream', { attendeeId: peer.id, stream: peer.stream });
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
