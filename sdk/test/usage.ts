// The SDK's public API as a TypeScript app uses it, type-checked (never run) against the
// generated declarations by `npm run check`. Every method with its reply's fields, every
// event with its `detail`, the call with a data channel; and `@ts-expect-error` lines
// that must stay errors: misuse has to fail to compile.

import { Call, Switchboard, SwitchboardError, decodeToken, sessions } from 'switchboard-sdk';
import type {
  Attended,
  Attendee,
  CallEventMap,
  CallOptions,
  CallPeer,
  ConnectionStatus,
  Created,
  DataChannelOptions,
  Empty,
  ErrorCode,
  InviteInfo,
  Reply,
  Role,
  StoredSession,
  SwitchboardEventMap,
  TokenClaims,
  Workspace,
} from 'switchboard-sdk';

/** Compiles only when `A` and `B` are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

function show(...values: unknown[]): void {
  console.log(...values);
}

function workspaceFields(ws: Workspace): void {
  const id: string = ws.id;
  const name: string = ws.name;
  const owner: string = ws.owner;
  const isProtected: boolean = ws.protected;
  const capacity: number = ws.capacity;
  const createdAt: number = ws.created_at;
  const invite: string = ws.invite;
  show(id, name, owner, isProtected, capacity, createdAt, invite);
}

function attendeeFields(a: Attendee): void {
  const role: Role = a.role;
  const mic: boolean | null = a.mic;
  const cam: boolean | null = a.cam;
  const online: boolean = a.online;
  show(a.id, a.name, role, mic, cam, online);
}

async function membership(sb: Switchboard): Promise<void> {
  const status: ConnectionStatus = sb.status;
  const url: string = sb.url;
  const timeout: number = sb.timeout;
  await sb.connect();
  show(status, url, timeout);

  const created: Created = await sb.create({ name: 'Standup', pin: '4711', attendeeName: 'Ada' });
  workspaceFields(created.workspace);
  attendeeFields(created.attendee);
  const token: string = created.token;
  await sb.create();

  const info = await sb.inviteInfo(created.workspace.invite);
  assertType<Equal<typeof info, InviteInfo>>();
  const needsPin: boolean = info.pin_required;
  show(info.workspace_id, info.name, needsPin);
  // @ts-expect-error: the field is `pin_required`
  show(info.pinRequired);

  const attended = await sb.attend({ invite: created.workspace.invite, pin: '4711', name: 'Bob' });
  assertType<Equal<typeof attended, Attended>>();
  attended.attendees.forEach(attendeeFields);
  const callId: string | undefined = attended.call?.id;
  const participants: string[] | undefined = attended.call?.participants;
  show(token, callId, participants, attended.token);

  const back = await sb.reAttend();
  const again = await sb.reAttend(back.token);
  workspaceFields(again.workspace);

  const left: Empty = await sb.leave();
  const kicked = await sb.kick('_abcdefghij');
  const banned = await sb.kick('_abcdefghij', { ban: true });
  const rotated = await sb.rotateInvite();
  const pinSet = await sb.setPin('8152');
  const pinRemoved = await sb.setPin(null);
  const destroyed = await sb.destroy();
  show(left, kicked.attendee_id, banned.attendee_id, rotated.invite, pinSet.protected, pinRemoved.protected, destroyed.workspace_id);

  const list: Attendee[] = await sb.attendees();
  const stateSent: Empty = await sb.state({ mic: false });
  await sb.state({ cam: true, mic: true });
  const servers: RTCIceServer[] = await sb.iceServers();
  const refreshed = await sb.refresh();
  show(list, stateSent, servers[0]?.urls, servers[0]?.credential, refreshed.token);
}

function state(sb: Switchboard): void {
  const ws: Workspace | null = sb.workspace;
  if (ws) workspaceFields(ws);
  const self: Attendee | null = sb.self;
  if (self) attendeeFields(self);
  const attendeeId: string | null = sb.attendeeId;
  const members: Map<string, Attendee> = sb.members;
  const isOwner: boolean = sb.isOwner;
  const token: string | null = sb.token;
  show(attendeeId, members.get('_abcdefghij')?.name, isOwner, token);
}

async function signals(sb: Switchboard, pc: RTCPeerConnection): Promise<void> {
  const to = '_abcdefghij';
  const sent: Empty[] = await Promise.all([
    sb.ring(to, 'call-1', pc.localDescription),
    sb.answer(to, 'call-1', { type: 'answer', sdp: 'v=0' }),
    sb.busy(to, 'call-1'),
    sb.hangup('call-1'),
    sb.hangup('call-1', to),
    sb.iceCandidate(to, { candidate: 'candidate:1 1 udp 1 192.0.2.1 4711 typ host', sdpMid: '0' }),
    sb.negotiation(to, pc.localDescription),
  ]);
  show(sent);
}

async function requests(sb: Switchboard): Promise<void> {
  // Known events resolve to their reply; any other to an object of unknown fields.
  const attended = await sb.request('attend', { invite: 'x' });
  assertType<Equal<typeof attended, Attended>>();
  const { attendees } = await sb.request('attendees');
  const { ice_servers, ttl } = await sb.request('iceservers', {}, { timeout: 2000 });
  const { token } = await sb.request('refresh');
  const other = await sb.request('future-event', { anything: [1, 2] });
  assertType<Equal<typeof other, Record<string, unknown>>>();
  assertType<Equal<Reply<'set-pin'>, { protected: boolean }>>();
  show(attendees.length, ice_servers, ttl, token, other['field']);
}

function events(sb: Switchboard): void {
  sb.addEventListener('attendee-joined', (e) => attendeeFields(e.detail.attendee));
  sb.addEventListener('attendee-left', (e) => show(e.detail.attendee_id, e.detail.reason === 'kicked'));
  sb.addEventListener('attendee-online', (e) => show(e.detail.attendee_id));
  sb.addEventListener('attendee-offline', (e) => show(e.detail.attendee_id));
  sb.addEventListener('state', ({ detail }) => show(detail.from, detail.mic, detail.cam));
  sb.addEventListener('kicked', (e) => show(e.detail.attendee_id));
  sb.addEventListener('invite-rotated', (e) => show(e.detail.invite));
  sb.addEventListener('destroyed', (e) => show(e.detail.workspace_id));
  sb.addEventListener('ring', (e) => show(e.detail.from, e.detail.call, e.detail.sdp.sdp));
  sb.addEventListener('answer', (e) => show(e.detail.from, e.detail.call, e.detail.sdp.type));
  sb.addEventListener('busy', (e) => show(e.detail.from, e.detail.call));
  sb.addEventListener('hangup', (e) => show(e.detail.from, e.detail.call));
  sb.addEventListener('icecandidate', (e) => show(e.detail.from, e.detail.candidate.candidate));
  sb.addEventListener('negotiation', (e) => show(e.detail.from, e.detail.description.type));
  sb.addEventListener('alert', (e) => show(e.detail.code, e.detail.message));
  sb.addEventListener('members', (e) => e.detail.attendees.forEach(attendeeFields));
  sb.addEventListener('workspace', (e) => workspaceFields(e.detail.workspace));
  sb.addEventListener('connected', (e) => show(e.detail));
  sb.addEventListener('disconnected', (e) => show(e.detail.code, e.detail.reason, e.detail.reconnecting));
  sb.addEventListener('reconnecting', (e) => show(e.detail.attempt, e.detail.delay));
  sb.addEventListener('reattended', (e) => show(e.detail.automatic, e.detail.token, e.detail.attendees, e.detail.call));
  sb.addEventListener('session-ended', (e) => show(e.detail.code === 'invalid_token', e.detail.message));

  // `this` is the Switchboard; listener objects and options work as on any EventTarget.
  sb.addEventListener('members', function (e) {
    show(this.members.size, e.detail.attendees.length);
  });
  const onLeft = (e: SwitchboardEventMap['attendee-left']) => show(e.detail.reason);
  sb.addEventListener('attendee-left', onLeft, { once: true });
  sb.removeEventListener('attendee-left', onLeft);
  sb.addEventListener('kicked', { handleEvent: (e) => show(e.detail.attendee_id) }, { signal: new AbortController().signal });

  // @ts-expect-error: no such event
  sb.addEventListener('attendee-joind', () => {});
  // @ts-expect-error: `attendee-left` carries `attendee_id`, not `attendeeId`
  sb.addEventListener('attendee-left', (e) => show(e.detail.attendeeId));
  // @ts-expect-error: a Call's event, not a Switchboard's
  sb.addEventListener('stream', () => {});
  // @ts-expect-error: the listener of `members` does not get a `state` event
  sb.addEventListener('members', (e: SwitchboardEventMap['state']) => show(e));
}

async function callWithData(sb: Switchboard, localStream: MediaStream): Promise<void> {
  const call: Call = sb.call({ localStream, mic: true, cam: false, callId: 'standup', dataChannel: true });
  await call.ready;
  const chat = sb.call({ dataChannel: { label: 'chat', ordered: false, maxRetransmits: 0, id: 3 } });
  const options: CallOptions = { dataChannel: { protocol: 'json' } satisfies DataChannelOptions };
  const receiveOnly = sb.call(options);
  const direct = new Call(sb);
  await direct.ready;
  sb.call();

  call.addEventListener('stream', (e) => show(e.detail.attendeeId, e.detail.stream.getTracks()));
  call.addEventListener('peer-state', (e) => show(e.detail.attendeeId, e.detail.state === 'failed'));
  call.addEventListener('closed', (e) => show(e.detail === null));
  call.addEventListener('channel-open', (e) => e.detail.channel.send(`hello ${e.detail.attendeeId}`));
  call.addEventListener('message', (e) => show(e.detail.attendeeId, typeof e.detail.data === 'string' ? e.detail.data : e.detail.data));
  const onClosed = (e: CallEventMap['closed']) => show(e.type);
  call.addEventListener('closed', onClosed);
  call.removeEventListener('closed', onClosed);

  const everyone: string[] = call.send('hi');
  const one: string[] = call.send(new Uint8Array([1, 2, 3]), '_abcdefghij');
  call.send(new ArrayBuffer(8));
  call.send(new Blob(['x']));
  for (const [id, peer] of call.peers) peerFields(id, peer);

  const mic: boolean = call.mic;
  const cam: boolean = call.cam;
  const micSent: Empty = await call.setMic(!mic);
  await call.setCam(!cam);
  const same: Switchboard = call.sb;
  const stream: MediaStream | null = call.localStream;
  const id: string = call.callId;
  const closed: boolean = call.closed;
  show(everyone, one, micSent, same, stream, id, closed, chat, receiveOnly);
  await call.hangup();
  chat.close();

  // @ts-expect-error: `dataChannel` is `true` or channel options, not a label
  sb.call({ dataChannel: 'chat' });
  // @ts-expect-error: the channel is always negotiated
  sb.call({ dataChannel: { negotiated: false } });
  // @ts-expect-error: `mic` is a boolean
  sb.call({ mic: 'on' });
  // @ts-expect-error: no such event
  call.addEventListener('strem', () => {});
  // @ts-expect-error: `stream` carries `attendeeId`, not `attendee_id`
  call.addEventListener('stream', (e) => show(e.detail.attendee_id));
  // @ts-expect-error: numbers are not channel data
  call.send(42);
}

function peerFields(id: string, peer: CallPeer): void {
  const pc: RTCPeerConnection = peer.pc;
  const stream: MediaStream = peer.stream;
  const polite: boolean = peer.polite;
  const channel: RTCDataChannel | null = peer.channel;
  show(id === peer.id, pc.connectionState, stream.id, polite, channel?.readyState);
}

async function errors(sb: Switchboard): Promise<void> {
  try {
    await sb.attend({ invite: 'x', pin: '1234' });
  } catch (err) {
    if (!(err instanceof SwitchboardError)) throw err;
    const code: ErrorCode = err.code;
    if (err.code === 'wrong_pin' || err.code === 'timeout' || err.code === 'disconnected') show(err.message);
    show(code, err.name, err.stack);
  }
  const own = new SwitchboardError('timeout', 'No answer.');
  const future = new SwitchboardError('a_newer_code');
  show(own.code, future.message, own instanceof Error);
  // @ts-expect-error: codes are strings
  show(own.code === 404);
}

function storedSessions(): void {
  const claims: TokenClaims | null = decodeToken('a.b.c');
  if (claims) show(claims.typ, claims.wid, claims.iat, claims.exp, claims.ver, claims.sub, claims.role);
  const token: string | null = sessions.get('_abcdefghij');
  sessions.set('_abcdefghij', 'token');
  sessions.forget('_abcdefghij');
  const last: StoredSession | null = sessions.last();
  show(token, last?.workspaceId, last?.token);
}

function misuse(sb: Switchboard, created: Created): void {
  // @ts-expect-error: `invite` is required
  void sb.attend({ pin: '1234' });
  // @ts-expect-error: so are the options
  void sb.attend();
  // @ts-expect-error: misspelt reply field
  show(created.workspace.invte);
  // @ts-expect-error: the reply of `create` has no `attendees`
  show(created.attendees);
  // @ts-expect-error: a PIN is a string
  void sb.setPin(8152);
  // @ts-expect-error: `kick` takes an attendee id
  void sb.kick({ id: '_abcdefghij' });
  // @ts-expect-error: no such status
  const status: ConnectionStatus = 'online';
  // @ts-expect-error: internal members are not part of the API
  show(sb._ws, sb._outbox);
  // @ts-expect-error: decodeToken may return null
  show(decodeToken('x').wid);
  show(status);
}

export { callWithData, errors, events, membership, misuse, requests, signals, state, storedSessions };
new Switchboard('wss://switchboard.example/ws', { timeout: 5000 }).close();
