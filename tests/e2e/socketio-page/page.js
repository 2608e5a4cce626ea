'use strict';
// A minimal client of Switchboard's Socket.IO endpoint that makes the exchanges of the
// webRTCWorkspaces browser client (COMPAT.md 1a), written for the tests: socket.io-client
// 2.0.4's `io.connect(server)` with default options (polling, then the upgrade to
// WebSocket), `iceservers {}` at connect, `create` / `attend` / `leave`, and calls with
// real RTCPeerConnections and the fake camera: an offer sent with `ring` (and/or
// `negotiation`), the callee's `answer`, trickled `icecandidate`s, `negotiation` offers
// answered with `negotiation`. The tests drive it through `window.sio`.

(function () {
  const server = new URLSearchParams(location.search).get('server');

  // ----- what the page received --------------------------------------------------------

  /** Every event received, in order: {index, name, data}. Names starting with `$` are the page's own notes. */
  const received = [];
  const waiters = new Set();

  function record(name, data) {
    const entry = { index: received.length, name, data };
    received.push(entry);
    // In the page's console, which the tests print when they fail (candidates left out).
    if (name !== 'icecandidate') console.log(`sio < ${name} ${String(JSON.stringify(data)).slice(0, 160)}`);
    for (const waiter of [...waiters]) {
      if (waiter.test(entry)) {
        waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  /**
   * Resolves to the first event at position `from` or later whose name is one of `names`
   * and whose data satisfies `match`, whether it came already or comes later.
   */
  function waitFor(names, match = () => true, from = 0) {
    const list = Array.isArray(names) ? names : [names];
    const test = (e) => e.index >= from && list.includes(e.name) && match(e.data);
    const seen = received.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.add({ test, resolve }));
  }

  // ----- the socket, as webRTCWorkspaces opens it ---------------------------------------

  const socket = io.connect(server);
  /** The Engine.IO transport when the engine opened, when Socket.IO connected, and each upgrade. */
  const transports = { atOpen: null, atConnect: null, upgrades: [] };
  socket.io.on('open', () => {
    const engine = socket.io.engine;
    transports.atOpen = engine.transport.name;
    engine.on('upgrade', (transport) => {
      transports.upgrades.push(transport.name);
      record('$upgrade', transport.name);
    });
  });
  socket.on('connect', () => {
    transports.atConnect = socket.io.engine.transport.name;
    record('$connect', transports.atConnect);
  });
  socket.on('disconnect', (reason) => record('$disconnect', reason));
  // Every event, known or not, goes through onevent.
  const onevent = socket.onevent;
  socket.onevent = function (packet) {
    const [name, data] = packet.data || [];
    record(name, data);
    return onevent.call(this, packet);
  };

  // Sent at connect, before any membership (socket.io-client buffers it until connected).
  socket.emit('iceservers', {});

  let iceServers = null;
  socket.on('iceservers', (list) => {
    iceServers = list;
  });

  // ----- membership ---------------------------------------------------------------------

  /** {workspace, attendee, accessToken} once granted (kept after `leave`, for the tests). */
  let me = null;
  let nonces = 0;
  const nonce = (action) => `${action}:${++nonces}:${Math.random().toString(36).slice(2, 10)}`;
  const uuid = () => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    return Array.from(crypto.getRandomValues(new Uint8Array(7)), (b) => chars[b % chars.length]).join('');
  };

  // Emits `event` and resolves to the grant and the `iceservers` pushed after it, or to
  // the refusal (`alert`, `destroyed`, `full`).
  async function join(event, payload, grantName) {
    const from = received.length;
    socket.emit(event, payload);
    const reply = await waitFor([grantName, 'alert', 'destroyed', 'full'], undefined, from);
    if (reply.name !== grantName) return { refused: reply.name, data: reply.data };
    me = { workspace: reply.data.workspace, attendee: reply.data.attendee, accessToken: reply.data.accessToken };
    const ice = await waitFor('iceservers', undefined, reply.index + 1);
    return { granted: reply.data, grantIndex: reply.index, iceServers: ice.data, iceIndex: ice.index, sent: payload };
  }

  function create({ name, pin = '', attendeeName }) {
    const payload = {
      workspace: { name, pin, avatar: '' },
      attendee: { name: attendeeName, avatar: '' },
      nonce: nonce('create-workspace'),
    };
    return join('create', payload, 'created');
  }

  function attend({ token, pin = '', name }) {
    const payload = {
      workspace: { token, pin },
      attendee: { name, avatar: '' },
      nonce: nonce('attend-workspace'),
    };
    return join('attend', payload, 'attendance-granted');
  }

  function leave() {
    socket.emit('leave', { workspace: { id: me.workspace.id }, attendee: me.attendee, accessToken: me.accessToken });
    for (const id of [...peers.keys()]) closePeer(id);
  }

  /** Emits `event {workspace:{id}, attendee:{id}, accessToken}`; resolves to the first of `replies` after it. */
  function request(event, replies) {
    const from = received.length;
    socket.emit(event, { workspace: { id: me.workspace.id }, attendee: { id: me.attendee.id }, accessToken: me.accessToken });
    return waitFor(replies, undefined, from);
  }

  // ----- calls --------------------------------------------------------------------------

  let localStream = null;
  async function camera() {
    localStream ??= await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    return localStream;
  }

  /** Connections by attendee id: {id, pc, video, call, offer, answer}. */
  const peers = new Map();
  // Candidates from a peer that came before its description.
  const early = new Map();
  // One peer's signals are handled strictly in order (its offer before its candidates).
  const chains = new Map();

  function serial(id, fn) {
    const run = (chains.get(id) ?? Promise.resolve()).then(fn);
    chains.set(
      id,
      run.catch((err) => {
        console.error(`signal with ${id} failed`, err);
        record('$error', `${id}: ${err && err.message}`);
      }),
    );
    return run;
  }

  const plain = (d) => ({ type: d.type, sdp: d.sdp });

  async function ensurePeer(id) {
    const existing = peers.get(id);
    if (existing) return existing;
    const stream = await camera();
    // The list the server pushed last: after the grant, the member's own.
    const pc = new RTCPeerConnection({ iceServers });
    const video = document.createElement('video');
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    video.dataset.peer = id;
    document.getElementById('videos').append(video);
    const peer = { id, pc, video, call: null, offer: null, answer: null };
    peers.set(id, peer);
    stream.getTracks().forEach((track) => pc.addTrack(track, stream));
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !me) return;
      socket.emit('icecandidate', {
        attendee: { id },
        broadcaster: { id: me.attendee.id },
        workspace: { id: me.workspace.id },
        accessToken: me.accessToken,
        candidate,
      });
    };
    pc.ontrack = ({ streams, track }) => {
      if (!video.srcObject) video.srcObject = streams[0] ?? new MediaStream([track]);
    };
    return peer;
  }

  function closePeer(id) {
    const peer = peers.get(id);
    if (!peer) return;
    peers.delete(id);
    peer.pc.close();
    peer.video.remove();
  }

  async function addCandidates(peer) {
    const queued = early.get(peer.id) ?? [];
    early.delete(peer.id);
    for (const candidate of queued) await peer.pc.addIceCandidate(candidate);
  }

  /**
   * Calls `calleeId`: one offer, sent with each event of `via` back to back (`ring`, as
   * webRTCWorkspaces starts a call; `negotiation`, as it offers on an ICE restart).
   * Resolves to {call, offer}.
   */
  function call(calleeId, { via = ['ring'], callId = uuid() } = {}) {
    return serial(calleeId, async () => {
      const peer = await ensurePeer(calleeId);
      peer.call = { id: callId };
      const offer = await peer.pc.createOffer();
      await peer.pc.setLocalDescription(offer);
      peer.offer = plain(offer);
      const sentNonce = nonce('start-call');
      for (const event of via) {
        if (event === 'ring') {
          socket.emit('ring', {
            workspace: { id: me.workspace.id },
            attendee: me.attendee,
            accessToken: me.accessToken,
            call: { id: callId },
            callee: { id: calleeId },
            offer,
            nonce: sentNonce,
          });
        } else {
          socket.emit('negotiation', {
            attendee: { id: calleeId },
            broadcaster: { id: me.attendee.id },
            workspace: { id: me.workspace.id },
            accessToken: me.accessToken,
            message: { type: 'offer', data: offer },
          });
        }
      }
      return { call: callId, offer: peer.offer, nonce: sentNonce };
    });
  }

  // A call: answer it (the page accepts every call).
  socket.on('ring', (data) =>
    serial(data.caller.id, async () => {
      const peer = await ensurePeer(data.caller.id);
      peer.call = data.call;
      await peer.pc.setRemoteDescription(data.offer);
      const answer = await peer.pc.createAnswer();
      await peer.pc.setLocalDescription(answer);
      peer.answer = plain(answer);
      socket.emit('answer', {
        workspace: data.workspace,
        attendee: me.attendee,
        call: data.call,
        caller: { id: data.caller.id },
        answer,
        accessToken: me.accessToken,
        nonce: data.nonce,
      });
      await addCandidates(peer);
    }),
  );

  socket.on('answer', (data) =>
    serial(data.callee.id, async () => {
      const peer = peers.get(data.callee.id);
      if (!peer || peer.pc.signalingState !== 'have-local-offer') return;
      await peer.pc.setRemoteDescription(data.answer);
      await addCandidates(peer);
    }),
  );

  socket.on('negotiation', (data) =>
    serial(data.attendee.id, async () => {
      const { type, data: description } = data.message;
      if (type === 'offer') {
        const peer = await ensurePeer(data.attendee.id);
        await peer.pc.setRemoteDescription(description);
        const answer = await peer.pc.createAnswer();
        await peer.pc.setLocalDescription(answer);
        peer.answer = plain(answer);
        socket.emit('negotiation', {
          attendee: data.attendee,
          broadcaster: { id: me.attendee.id },
          workspace: { id: me.workspace.id },
          accessToken: me.accessToken,
          message: { type: 'answer', data: answer },
        });
        await addCandidates(peer);
      } else if (type === 'answer') {
        const peer = peers.get(data.attendee.id);
        if (!peer || peer.pc.signalingState !== 'have-local-offer') return;
        await peer.pc.setRemoteDescription(description);
        await addCandidates(peer);
      }
    }),
  );

  socket.on('icecandidate', (data) =>
    serial(data.broadcaster.id, async () => {
      const peer = peers.get(data.broadcaster.id);
      if (!peer || !peer.pc.remoteDescription) {
        const queued = early.get(data.broadcaster.id) ?? [];
        queued.push(data.candidate);
        early.set(data.broadcaster.id, queued);
        return;
      }
      await peer.pc.addIceCandidate(data.candidate);
    }),
  );

  socket.on('leave', (attendee) => closePeer(attendee.id));
  socket.on('hangup', (data) => closePeer(data.attendee.id));

  // ----- media --------------------------------------------------------------------------

  function connected(pc) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const state = pc.connectionState;
        if (state === 'connected') resolve();
        else if (state === 'failed' || state === 'closed') reject(new Error(`connection ${state}`));
        else return;
        pc.removeEventListener('connectionstatechange', check);
      };
      pc.addEventListener('connectionstatechange', check);
      check();
    });
  }

  // Resolves once the video element has presented `n` more frames.
  function frames(video, n) {
    return new Promise((resolve) => {
      let left = n;
      const step = () => (--left <= 0 ? resolve() : video.requestVideoFrameCallback(step));
      video.requestVideoFrameCallback(step);
    });
  }

  async function inbound(pc) {
    const out = { framesDecoded: 0, videoBytes: 0, audioBytes: 0 };
    (await pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      if (r.kind === 'video') {
        out.framesDecoded += r.framesDecoded || 0;
        out.videoBytes += r.bytesReceived || 0;
      } else if (r.kind === 'audio') {
        out.audioBytes += r.bytesReceived || 0;
      }
    });
    return out;
  }

  /**
   * Waits until the connection with `id` is connected and its video shows frames; resolves
   * to its inbound counters at two moments `n` presented frames apart, and the picture size.
   */
  async function mediaFrom(id, n = 5) {
    await chains.get(id); // the signal that makes the connection, if under way
    const peer = peers.get(id);
    if (!peer) throw new Error(`no connection with ${id}`);
    await connected(peer.pc);
    await frames(peer.video, n);
    const first = await inbound(peer.pc);
    await frames(peer.video, n);
    const second = await inbound(peer.pc);
    return { state: peer.pc.connectionState, first, second, width: peer.video.videoWidth, height: peer.video.videoHeight };
  }

  /** What the tests check of a connection: its ICE servers and the descriptions it made. */
  function peerInfo(id) {
    const peer = peers.get(id);
    if (!peer) return null;
    return { iceServers: peer.pc.getConfiguration().iceServers, offer: peer.offer, answer: peer.answer, call: peer.call };
  }

  window.sio = {
    socket,
    transports,
    received,
    waitFor,
    get me() {
      return me;
    },
    get iceServers() {
      return iceServers;
    },
    create,
    attend,
    leave,
    request,
    call,
    mediaFrom,
    peerInfo,
    peers: () => [...peers.keys()],
  };
})();
