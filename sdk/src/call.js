// A mesh video call on top of a Switchboard membership, as the app sees it: the local
// media and the data channel on every peer connection (mesh.js makes and negotiates
// them), mute, hang-up, and the call's events. See docs/sdk.md.

import { Mesh } from './mesh.js';
import { compact } from './session.js';

/**
 * @import { CallEventMap, CallOptions, CallPeer, DataChannelData, Empty, SwitchboardEventMap } from './index.js'
 * @import { Switchboard } from './switchboard.js'
 * @import { Peer } from './mesh.js'
 * @import { Signal } from './signals.js'
 */

/**
 * An event of the Switchboard that the call listens to, and what it does then.
 * @typedef {[keyof SwitchboardEventMap, (e: CustomEvent<{attendee_id?: string, from?: string}>) => void]} SbListener
 */

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
export class Call extends Mesh {
  /**
   * Made by {@link Switchboard.call}. It starts at once ({@link ready}), listens to `sb`,
   * and takes over its call signals.
   * @param {Switchboard} sb The bound Switchboard whose members to call.
   * @param {CallOptions} [options] `localStream`, `mic`, `cam`, `callId`, `dataChannel`.
   */
  constructor(sb, { localStream = null, callId = 'mesh', mic, cam, dataChannel = false } = {}) {
    super(sb);
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

  // ----- what the mesh asks of the call -------------------------------------------------

  // Our tracks, or receive-only transceivers when we have none of a kind, so that we still
  // see and hear the others without a camera or microphone; and the data channel.
  /** @param {Peer} peer */
  _addMedia(peer) {
    const { pc } = peer;
    if (this._channelInit) this._openChannel(peer);
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
}
