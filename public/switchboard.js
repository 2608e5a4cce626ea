// Switchboard browser SDK: a client of the native protocol (docs/protocol.md) and a mesh
// video call on top of it. A dependency-free ES module; see docs/sdk.md.

const DEFAULT_TIMEOUT_MS = 10_000;
const MIN_RECONNECT_MS = 500;
const MAX_RECONNECT_MS = 30_000;
// Refresh the session token when this share of its lifetime has passed.
const REFRESH_AT = 0.8;
const REFRESH_RETRY_MS = 30_000;
// Signals that arrive before a call is running are kept (bounded) for it.
const MAX_QUEUED_SIGNALS = 500;
// A peer connection stuck in `disconnected` this long gets an ICE restart.
const DISCONNECTED_GRACE_MS = 4_000;

// Close codes after which reconnecting would be wrong: replaced by a newer socket, kicked.
const FINAL_CLOSE_CODES = new Set([4001, 4003]);
// Errors saying that a session token will never work again.
const SESSION_GONE = new Set(['invalid_token', 'expired_token', 'workspace_not_found']);

const STORAGE_PREFIX = 'switchboard:session:';
const LAST_KEY = 'switchboard:last';

/** A failed request: `code` is the protocol's error code, or `timeout` / `disconnected`. */
export class SwitchboardError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}

/** The claims of a JWT, unverified (the server verifies; we only read `wid` and `exp`). */
export function decodeToken(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Session tokens in sessionStorage: one per workspace (per tab), plus the last one used.

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: sessions then only survive reconnects, not reloads
  }
}

export const sessions = {
  /** The stored session token for a workspace id, or null. */
  get(workspaceId) {
    return storage()?.getItem(STORAGE_PREFIX + workspaceId) ?? null;
  },
  set(workspaceId, token) {
    storage()?.setItem(STORAGE_PREFIX + workspaceId, token);
    storage()?.setItem(LAST_KEY, workspaceId);
  },
  forget(workspaceId) {
    const s = storage();
    if (!s) return;
    s.removeItem(STORAGE_PREFIX + workspaceId);
    if (s.getItem(LAST_KEY) === workspaceId) s.removeItem(LAST_KEY);
  },
  /** The most recently stored session: `{workspaceId, token}` or null. */
  last() {
    const workspaceId = storage()?.getItem(LAST_KEY);
    const token = workspaceId && this.get(workspaceId);
    return token ? { workspaceId, token } : null;
  },
};

function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

// Drops undefined fields, so that optional fields are left out rather than sent as null.
function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

// ---------------------------------------------------------------------------------------

/**
 * One connection to a Switchboard server and, once bound, one membership of a workspace.
 * Events are CustomEvents whose `detail` is the protocol's `data` (see docs/sdk.md).
 */
export class Switchboard extends EventTarget {
  constructor(url = defaultUrl(), { timeout = DEFAULT_TIMEOUT_MS } = {}) {
    super();
    this.url = url;
    this.timeout = timeout;
    /** `idle` | `connecting` | `open` | `reconnecting` | `closed` */
    this.status = 'idle';
    this.workspace = null;
    this.attendeeId = null;
    /** Members by id, in join order, the own attendee included. */
    this.members = new Map();
    this.token = null;

    this._ws = null;
    this._connecting = null;
    this._nextId = 1;
    this._pending = new Map();
    this._waiters = [];
    this._attempt = 0;
    this._retryTimer = null;
    this._refreshTimer = null;
    this._rebinding = false;
    this._wasOpen = false;
    this._closedByUser = false;
    this._signalHandler = null;
    this._queuedSignals = [];

    if (typeof window !== 'undefined') {
      // Coming back online is a better moment to retry than the backoff timer's.
      window.addEventListener('online', () => this._retryNow());
    }
  }

  /** The own attendee object (kept up to date by `state` pushes), or null. */
  get self() {
    return this.members.get(this.attendeeId) ?? null;
  }

  get isOwner() {
    return this.self?.role === 'owner';
  }

  // ----- connection -------------------------------------------------------------------

  /** Opens the WebSocket; resolves once it is open. Requests call it when needed. */
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

  /** Closes the connection for good (no reconnect). The stored session stays for a reload. */
  close() {
    this._closedByUser = true;
    clearTimeout(this._retryTimer);
    clearTimeout(this._refreshTimer);
    this.status = 'closed';
    this._failWaiters(new SwitchboardError('disconnected', 'The connection was closed.'));
    this._ws?.close(1000);
  }

  _setOpen() {
    this.status = 'open';
    this._wasOpen = true;
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.resolve());
  }

  _failWaiters(err) {
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.reject(err));
  }

  _onClose(e) {
    for (const [id, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new SwitchboardError('disconnected', 'The connection to the server was lost.'));
      this._pending.delete(id);
    }
    if (e.code === 4003) this._onKicked(this.attendeeId);
    const reconnecting = !this._closedByUser && !!this.token && !FINAL_CLOSE_CODES.has(e.code);
    if (this._wasOpen) {
      this._wasOpen = false;
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

  // Exponential backoff with jitter, so that a restarted server is not hit by everyone at once.
  _scheduleReconnect() {
    this.status = 'reconnecting';
    this._rebinding = true;
    const base = Math.min(MAX_RECONNECT_MS, MIN_RECONNECT_MS * 2 ** this._attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this._attempt += 1;
    this._emit('reconnecting', { attempt: this._attempt, delay });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._reconnect(), delay);
  }

  _retryNow() {
    if (this.status !== 'reconnecting' || !this._retryTimer || this._connecting) return;
    clearTimeout(this._retryTimer);
    this._reconnect();
  }

  async _reconnect() {
    this._retryTimer = null;
    try {
      await this.connect();
    } catch {
      return; // the close handler has scheduled the next attempt
    }
    await this._rebind(true);
  }

  // Re-attends with the stored token on a fresh socket. Transient failures close the
  // socket, which schedules another attempt; a refused token ends the session.
  async _rebind(automatic) {
    this._rebinding = true;
    try {
      const data = await this._request('re-attend', { token: this.token }, this.timeout);
      this._attempt = 0;
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

  // ----- requests ---------------------------------------------------------------------

  /**
   * Sends any protocol event and resolves to the reply's `data`; an `alert` rejects with a
   * SwitchboardError. Waits for the connection (or a reconnection) first.
   */
  async request(event, data = {}, { timeout = this.timeout } = {}) {
    await this._whenOpen(timeout);
    return this._request(event, data, timeout);
  }

  _whenOpen(timeout) {
    if (this.status === 'open' && this._ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.status === 'idle' || this.status === 'closed') return this.connect();
    return new Promise((resolve, reject) => {
      const waiter = {};
      const timer = setTimeout(() => {
        this._waiters = this._waiters.filter((w) => w !== waiter);
        reject(new SwitchboardError('timeout', 'Not connected to the server.'));
      }, timeout);
      waiter.resolve = () => (clearTimeout(timer), resolve());
      waiter.reject = (err) => (clearTimeout(timer), reject(err));
      this._waiters.push(waiter);
    });
  }

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

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
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

  /** Owner: removes a member. Emits `attendee-left` (reason `kicked`) locally too. */
  async kick(attendeeId) {
    const data = await this.request('kick', { attendee_id: attendeeId });
    if (this.members.delete(attendeeId)) {
      this._dropSignals(attendeeId);
      this._emit('attendee-left', { attendee_id: attendeeId, reason: 'kicked' });
      this._emit('members', { attendees: [...this.members.values()] });
    }
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
    const data = await this.request('state', compact({ mic, cam }));
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

  /** Exchanges the session token for a fresh one (done automatically before `exp`). */
  async refresh() {
    const data = await this.request('refresh');
    this._setToken(data.token);
    return data;
  }

  // ----- signals: thin wrappers; each resolves once the server relayed it (`sent`) ------

  ring(to, call, sdp) {
    return this.request('ring', { to, call, sdp });
  }

  answer(to, call, sdp) {
    return this.request('answer', { to, call, sdp });
  }

  busy(to, call) {
    return this.request('busy', { to, call });
  }

  hangup(call, to) {
    return this.request('hangup', compact({ call, to }));
  }

  iceCandidate(to, candidate) {
    return this.request('icecandidate', { to, candidate });
  }

  negotiation(to, description) {
    return this.request('negotiation', { to, description });
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

  _bind(data) {
    this.workspace = data.workspace;
    this.attendeeId = data.attendee.id;
    const list = data.attendees ?? [data.attendee];
    this.members = new Map(list.map((a) => [a.id, { ...a }]));
    this._setToken(data.token);
  }

  _setToken(token) {
    this.token = token;
    const claims = decodeToken(token);
    if (claims?.wid) sessions.set(claims.wid, token);
    this._scheduleRefresh(claims);
  }

  // The lifetime (exp - iat) is measured on the server's clock, so a skewed local clock
  // does not matter: every token we hold was issued moments before we got it.
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

  _endSession() {
    const claims = this.token && decodeToken(this.token);
    const wid = claims?.wid ?? this.workspace?.id;
    if (wid) sessions.forget(wid);
    clearTimeout(this._refreshTimer);
    this.token = null;
    this.workspace = null;
    this.attendeeId = null;
    this.members = new Map();
    this._queuedSignals = [];
  }

  _onKicked(attendeeId) {
    if (!this.token || attendeeId !== this.attendeeId) return;
    this._endSession();
    this._emit('kicked', { attendee_id: attendeeId });
  }

  _onPush(event, data) {
    const member = this.members.get(data.attendee_id ?? data.from);
    switch (event) {
      case 'kicked':
        this._onKicked(data.attendee_id); // emits `kicked` once, whether push or close 4003
        return;
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
      case 'negotiation':
      case 'icecandidate':
        this._routeSignal(event, data);
        break;
      default:
        break;
    }
    this._emit(event, data);
    if (event.startsWith('attendee-') || event === 'state') {
      this._emit('members', { attendees: [...this.members.values()] });
    }
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

  _dropSignals(from) {
    this._queuedSignals = this._queuedSignals.filter((s) => s.data.from !== from);
  }

  _setSignalHandler(handler) {
    this._signalHandler = handler;
    const queued = this._queuedSignals;
    this._queuedSignals = [];
    return queued;
  }
}

// ---------------------------------------------------------------------------------------
// Mesh call

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
    this._iceServers = [];
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
    try {
      this._iceServers = await this.sb.iceServers();
    } catch {
      this._iceServers = []; // host candidates still connect peers on the same network
    }
    if (this.closed) return;
    this._started = true;
    const inbox = this._inbox;
    this._inbox = [];
    inbox.forEach(({ event, data }) => this._onSignal(event, data));
    this._connectAll();
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
    for (const id of [...this.peers.keys()]) this._closePeer(id);
    if (this.sb._signalHandler) this.sb._setSignalHandler(null);
    for (const [type, fn] of this._listeners) this.sb.removeEventListener(type, fn);
    this.dispatchEvent(new CustomEvent('closed'));
  }

  // ----- wiring -----------------------------------------------------------------------

  _listen() {
    const drop = (e) => this._closePeer(e.detail.attendee_id ?? e.detail.from);
    const end = () => this.close();
    const listeners = [
      ['attendee-left', drop],
      ['attendee-offline', drop],
      // A member that comes back online offers to us with a new connection.
      ['attendee-online', drop],
      ['hangup', drop],
      ['reattended', () => this._reconnectAll()],
      ['kicked', end],
      ['destroyed', end],
      ['session-ended', end],
    ];
    for (const [type, fn] of listeners) this.sb.addEventListener(type, fn);
    return listeners;
  }

  // After our own reconnect the others have dropped (or will replace) their connections
  // to us: start over with everyone online.
  _reconnectAll() {
    if (!this._started || this.closed) return;
    for (const id of [...this.peers.keys()]) this._closePeer(id);
    this._connectAll();
    this._publishState();
  }

  _connectAll() {
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
    const pc = new RTCPeerConnection({ iceServers: this._iceServers });
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
      pc.restartIce();
    } else if (state === 'disconnected') {
      // Often recovers by itself (a brief network change); restart if it does not.
      peer.restartTimer = setTimeout(() => {
        if (pc.connectionState === 'disconnected') pc.restartIce();
      }, DISCONNECTED_GRACE_MS);
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
    const handle = event === 'negotiation' ? () => this._onDescription(from, data.description) : () => this._onCandidate(from, data.candidate);
    const prev = this._chains.get(from) ?? Promise.resolve();
    const next = prev.then(handle).catch((err) => {
      if (!this.closed) console.warn('switchboard: signal from', from, 'failed', err);
    });
    this._chains.set(from, next);
  }

  async _onDescription(from, description) {
    if (this.closed || !description?.type || from === this.sb.attendeeId) return;
    const isOffer = description.type === 'offer';
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
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    if (!isOffer && pc.signalingState !== 'have-local-offer') return; // a stale answer
    await pc.setRemoteDescription(description);
    peer.remoteSession = session;
    await this._flushCandidates(peer);
    if (isOffer) {
      await pc.setLocalDescription();
      await this.sb.negotiation(from, pc.localDescription).catch(() => {});
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
