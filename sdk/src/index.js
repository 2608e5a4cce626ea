// Switchboard browser SDK: a client of the native protocol (docs/protocol.md) and a mesh
// video call on top of it. A dependency-free ES module; docs/sdk.md is the guide.

export { Switchboard } from './switchboard.js';
export { Call } from './call.js';
export { SwitchboardError, decodeToken, sessions } from './session.js';

// ----- the public API's types ------------------------------------------------------------
// JSDoc only, so that the SDK stays plain browser JavaScript: `npm run types` turns them
// into TypeScript declarations (types/index.d.ts), and the other modules use them through
// `@import` comments. They live here, in the entry point, because only what the entry
// point declares can be imported from the package. Field names are the protocol's
// (snake_case) wherever the SDK hands the server's `data` on as it is.

// ----- the protocol's objects ----------------------------------------------------------------

/**
 * A member's role in a workspace: its creator is the `owner`, everyone else an `attendee`.
 * @typedef {'owner' | 'attendee'} Role
 */

/**
 * A workspace as its members see it (docs/protocol.md, "Objects").
 * @typedef {object} Workspace
 * @property {string} id The workspace id: `_` and 10 letters or digits, made by the server.
 * @property {string} name Its display name (1 to 64 characters).
 * @property {string} owner The owner's attendee id.
 * @property {boolean} protected Whether `attend` needs a PIN.
 * @property {number} capacity How many members, the owner included, it holds at most.
 * @property {number} created_at When it was created, in Unix milliseconds.
 * @property {string} invite An invite token of the current version: the link to share.
 */

/**
 * A member of a workspace as the others see it (docs/protocol.md, "Objects").
 * @typedef {object} Attendee
 * @property {string} id The attendee id: `_` and 10 letters or digits, made by the server.
 * @property {string} name The display name (1 to 64 characters).
 * @property {Role} role Owner or attendee.
 * @property {boolean} online Whether the member has a live connection to the server.
 * @property {boolean | null} mic The microphone state the member last published, `null` before the first.
 * @property {boolean | null} cam The camera state the member last published, `null` before the first.
 */

/**
 * The call in progress in a workspace, as the server keeps it.
 * @typedef {object} CallInfo
 * @property {string} id The client-chosen call id (1 to 64 characters).
 * @property {string[]} participants Attendee ids, in the order they joined the call.
 */

/**
 * The claims of a JWT as {@link decodeToken} reads them, unverified. Invite tokens carry
 * `typ`, `wid`, `ver`, `iat` (and `exp` when invites expire); session tokens `typ`,
 * `wid`, `sub`, `role`, `iat` and `exp`. Times are Unix seconds.
 * @typedef {object} TokenClaims
 * @property {'invite' | 'session'} typ The kind of token.
 * @property {string} wid The workspace id.
 * @property {number} iat When it was issued, in Unix seconds.
 * @property {number} [exp] When it expires, in Unix seconds.
 * @property {number} [ver] Invites: the invite version (rotations increase it; none is version 0).
 * @property {string} [sub] Session tokens: the attendee id.
 * @property {Role} [role] Session tokens: the member's role.
 */

/**
 * A session token stored in `sessionStorage`, as {@link sessions | sessions.last} returns it.
 * @typedef {object} StoredSession
 * @property {string} workspaceId The workspace it belongs to.
 * @property {string} token The session token.
 */

/**
 * An error code of a failed request: one of the protocol's (docs/protocol.md, "Envelope"),
 * or `timeout` (no reply within the request's timeout) or `disconnected` (the connection
 * could not be opened, or was lost or closed before the reply). Open to codes that newer
 * servers may add.
 * @typedef {'bad_request' | 'unknown_event' | 'not_attending' | 'already_attending' | 'invalid_token' | 'expired_token' | 'forbidden' | 'workspace_not_found' | 'unknown_attendee' | 'peer_offline' | 'wrong_pin' | 'workspace_full' | 'rate_limited' | 'too_large' | 'unavailable' | 'internal' | 'timeout' | 'disconnected' | (string & {})} ErrorCode
 */

/**
 * An object without fields: the `data` of replies and events that carry nothing.
 * @typedef {Record<never, never>} Empty
 */

// ----- replies ----------------------------------------------------------------------------

/**
 * The reply to `create` ({@link Switchboard.create}).
 * @typedef {object} Created
 * @property {Workspace} workspace The new workspace.
 * @property {Attendee} attendee Its owner: the caller.
 * @property {string} token The owner's session token.
 */

/**
 * The reply to `attend` ({@link Switchboard.attend}) and to `re-attend`
 * ({@link Switchboard.reAttend}).
 * @typedef {object} Attended
 * @property {Workspace} workspace The workspace.
 * @property {Attendee} attendee The caller as a member.
 * @property {string} token A fresh session token.
 * @property {Attendee[]} attendees Every member, in join order, the owner first and the caller included.
 * @property {CallInfo | null} call The call in progress, or `null`.
 */

/**
 * Where an invite leads, as `GET /invite-info` tells it ({@link Switchboard.inviteInfo}):
 * what a join page shows before its form is filled.
 * @typedef {object} InviteInfo
 * @property {string} workspace_id The workspace's id.
 * @property {string} name The workspace's display name.
 * @property {boolean} pin_required Whether `attend` will ask for a PIN.
 */

/**
 * The reply to `refresh` ({@link Switchboard.refresh}).
 * @typedef {object} Refreshed
 * @property {string} token The new session token, for the same membership.
 */

/**
 * The reply to `kick` ({@link Switchboard.kick}).
 * @typedef {object} Kicked
 * @property {string} attendee_id The member removed.
 */

/**
 * The reply to `rotate-invite` ({@link Switchboard.rotateInvite}), and the data of the
 * `invite-rotated` push.
 * @typedef {object} InviteRotated
 * @property {string} invite The new invite token; the old one no longer works.
 */

/**
 * The reply to `set-pin` ({@link Switchboard.setPin}).
 * @typedef {object} PinSet
 * @property {boolean} protected Whether the workspace now needs a PIN.
 */

/**
 * The reply to `destroy` ({@link Switchboard.destroy}), and the data of the `destroyed` push.
 * @typedef {object} Destroyed
 * @property {string} workspace_id The workspace that was ended.
 */

/**
 * The reply to `attendees` (see {@link Switchboard.attendees}, which resolves to the list).
 * @typedef {object} AttendeeList
 * @property {Attendee[]} attendees Every member, in join order, the owner first and the caller included.
 */

/**
 * The reply to `iceservers` (see {@link Switchboard.iceServers}, which resolves to the list).
 * @typedef {object} IceServerList
 * @property {RTCIceServer[]} ice_servers STUN and TURN servers for this member's peer connections.
 * @property {number} ttl Seconds until the earliest TURN credential in the list expires.
 */

/**
 * The reply's `data` for each protocol event the SDK knows: what
 * {@link Switchboard.request} resolves to. Signals (`ring`, `answer`, `busy`, `hangup`,
 * `icecandidate`, `negotiation`, `state`) are answered `sent {}` once relayed.
 * @typedef {{
 *   'create': Created,
 *   'attend': Attended,
 *   're-attend': Attended,
 *   'refresh': Refreshed,
 *   'attendees': AttendeeList,
 *   'leave': Empty,
 *   'kick': Kicked,
 *   'rotate-invite': InviteRotated,
 *   'set-pin': PinSet,
 *   'destroy': Destroyed,
 *   'iceservers': IceServerList,
 *   'ring': Empty,
 *   'answer': Empty,
 *   'busy': Empty,
 *   'hangup': Empty,
 *   'icecandidate': Empty,
 *   'negotiation': Empty,
 *   'state': Empty,
 * }} Replies
 */

/**
 * What a request for event `E` resolves to: its entry in {@link Replies}, or for an event
 * the SDK does not know, the reply's `data` as an object of unknown fields.
 * @template {string} E
 * @typedef {E extends keyof Replies ? Replies[E] : Record<string, unknown>} Reply
 */

// ----- options -------------------------------------------------------------------------------

/**
 * Options of {@link Switchboard}'s constructor.
 * @typedef {object} SwitchboardOptions
 * @property {number} [timeout] How long a request waits for its reply (and, while the SDK reconnects, for the connection), in milliseconds. Default 10000.
 */

/**
 * Options of {@link Switchboard.request}.
 * @typedef {object} RequestOptions
 * @property {number} [timeout] How long to wait, in milliseconds; default: the Switchboard's `timeout`.
 */

/**
 * What {@link Switchboard.create} sends.
 * @typedef {object} CreateOptions
 * @property {string} [name] The workspace's name (default `Untitled Workspace`).
 * @property {string} [pin] A PIN newcomers will need (4 to 64 characters); empty or absent: none.
 * @property {string} [attendeeName] The owner's display name (default `Anonymous`).
 */

/**
 * What {@link Switchboard.attend} sends.
 * @typedef {object} AttendOptions
 * @property {string} invite The invite token (from the link the owner shared).
 * @property {string} [pin] The PIN, when the workspace has one; empty or absent: none.
 * @property {string} [name] The display name (default `Anonymous`).
 */

/**
 * Options of {@link Switchboard.kick}.
 * @typedef {object} KickOptions
 * @property {boolean} [ban] Also rotate the invite and refuse the member's address at this workspace for `workspace.ban_secs` (default false).
 */

/**
 * What {@link Switchboard.state} publishes; a field left out keeps its value.
 * @typedef {object} MediaState
 * @property {boolean} [mic] Whether the microphone is on.
 * @property {boolean} [cam] Whether the camera is on.
 */

/**
 * The data channel of {@link CallOptions.dataChannel}: an `RTCDataChannelInit` (e.g.
 * `{ordered: false, maxRetransmits: 0}`) and a `label` (default `switchboard`). The
 * channel is always negotiated (both sides open it on the same `id`, default 0), so
 * `negotiated` cannot be set.
 * @typedef {Omit<RTCDataChannelInit, 'negotiated'> & { label?: string | undefined }} DataChannelOptions
 */

/**
 * Options of {@link Switchboard.call}.
 * @typedef {object} CallOptions
 * @property {MediaStream | null} [localStream] The stream to send (default none); without audio or video tracks the call only receives that kind.
 * @property {string} [callId] The `call` string of the `hangup` it sends (default `mesh`).
 * @property {boolean} [mic] Whether the local audio tracks start enabled (default true).
 * @property {boolean} [cam] Whether the local video tracks start enabled (default true).
 * @property {boolean | DataChannelOptions} [dataChannel] Open a data channel to every peer: `true` for the defaults, or its options (default false). See {@link Call.send} and the events `channel-open` and `message`.
 */

// ----- the call ----------------------------------------------------------------------------------

/**
 * One member's connection in a {@link Call}: an entry of {@link Call.peers}.
 * @typedef {object} CallPeer
 * @property {string} id The member's attendee id.
 * @property {RTCPeerConnection} pc The peer connection to them.
 * @property {MediaStream} stream Their media, as tracks arrive (the `stream` event hands out the same object).
 * @property {boolean} polite Whether our side gives way when both offer at once (perfect negotiation): true when our attendee id is the larger.
 * @property {RTCDataChannel | null} channel The data channel to them, with the `dataChannel` option (open once `channel-open` was emitted); else `null`.
 */

/**
 * What {@link Call.send} sends: anything `RTCDataChannel.send` takes.
 * @typedef {string | Blob | ArrayBuffer | ArrayBufferView} DataChannelData
 */

// ----- events ------------------------------------------------------------------------------------

/**
 * `attendee-joined`: a member joined with the invite.
 * @typedef {object} AttendeeJoinedDetail
 * @property {Attendee} attendee The new member (already in {@link Switchboard.members}).
 */

/**
 * `attendee-left`: a member is gone.
 * @typedef {object} AttendeeLeftDetail
 * @property {string} attendee_id Who.
 * @property {'left' | 'kicked' | 'timeout'} reason They left, the owner removed them, or they were offline longer than `workspace.offline_ttl_secs`.
 */

/**
 * `attendee-online`, `attendee-offline`, `kicked`: one member's presence changed.
 * @typedef {object} AttendeeIdDetail
 * @property {string} attendee_id Who (for `kicked`: the own attendee id).
 */

/**
 * `state`: a member published their microphone and camera state.
 * @typedef {object} StateDetail
 * @property {string} from Whose state (the own attendee id after {@link Switchboard.state}).
 * @property {boolean | null} mic Microphone on, off, or never published.
 * @property {boolean | null} cam Camera on, off, or never published.
 */

/**
 * `ring` and `answer`: a call offer or answer in the webRTCWorkspaces style (docs/compat.md).
 * @typedef {object} RingDetail
 * @property {string} from The sender's attendee id.
 * @property {string} call The call id the sender chose.
 * @property {RTCSessionDescriptionInit} sdp The session description, as the sender sent it.
 */

/**
 * `busy` and `hangup`.
 * @typedef {object} CallSignalDetail
 * @property {string} from The sender's attendee id.
 * @property {string} call The call id.
 */

/**
 * `icecandidate`: an ICE candidate from a peer.
 * @typedef {object} IceCandidateDetail
 * @property {string} from The sender's attendee id.
 * @property {RTCIceCandidateInit} candidate The candidate, as the sender sent it.
 */

/**
 * `negotiation`: an offer or answer of perfect negotiation.
 * @typedef {object} NegotiationDetail
 * @property {string} from The sender's attendee id.
 * @property {RTCSessionDescriptionInit} description The session description, as the sender sent it.
 */

/**
 * `alert` (an error the server sent without a request to reject) and `session-ended`
 * (an automatic re-attend was refused: the membership is gone).
 * @typedef {object} ErrorDetail
 * @property {ErrorCode} code The error code.
 * @property {string} message The server's human text.
 */

/**
 * `members`: {@link Switchboard.members} changed.
 * @typedef {object} MembersDetail
 * @property {Attendee[]} attendees Every member, in join order, the own attendee included.
 */

/**
 * `workspace`: `invite` or `protected` of {@link Switchboard.workspace} changed.
 * @typedef {object} WorkspaceDetail
 * @property {Workspace} workspace The workspace, as it is now.
 */

/**
 * `disconnected`: an open connection closed.
 * @typedef {object} DisconnectedDetail
 * @property {number} code The WebSocket close code (docs/protocol.md, "Close codes").
 * @property {string} reason The close reason.
 * @property {boolean} reconnecting Whether the SDK will come back by itself.
 */

/**
 * `reconnecting`: a reconnect attempt is scheduled.
 * @typedef {object} ReconnectingDetail
 * @property {number} attempt Attempts since the connection last worked, this one included.
 * @property {number} delay Milliseconds until the attempt.
 */

/**
 * `reattended`: the membership is back, after a reconnect or {@link Switchboard.reAttend}.
 * @typedef {Attended & { automatic: boolean }} ReattendedDetail
 */

/**
 * The events of a {@link Switchboard}: each a `CustomEvent` whose `detail` is given here.
 * For server pushes, `detail` is the protocol's `data` as it is.
 * @typedef {object} SwitchboardEventMap
 * @property {CustomEvent<AttendeeJoinedDetail>} attendee-joined Pushed: a member joined.
 * @property {CustomEvent<AttendeeLeftDetail>} attendee-left Pushed: a member left, was kicked or timed out; also emitted after the own {@link Switchboard.kick}.
 * @property {CustomEvent<AttendeeIdDetail>} attendee-online Pushed: a member is back online.
 * @property {CustomEvent<AttendeeIdDetail>} attendee-offline Pushed: a member's connection is gone (they stay a member).
 * @property {CustomEvent<StateDetail>} state Pushed: a member's mic/cam state; also emitted after the own {@link Switchboard.state}.
 * @property {CustomEvent<AttendeeIdDetail>} kicked The owner removed you (a push or close 4003); the stored session is forgotten.
 * @property {CustomEvent<InviteRotated>} invite-rotated Pushed: the invite changed; `workspace.invite` is already the new one.
 * @property {CustomEvent<Destroyed>} destroyed Pushed: the owner ended the workspace; the socket stays open, unbound.
 * @property {CustomEvent<RingDetail>} ring Pushed: a call offer from a webRTCWorkspaces client.
 * @property {CustomEvent<RingDetail>} answer Pushed: an answer to a `ring`.
 * @property {CustomEvent<CallSignalDetail>} busy Pushed: the member rung is busy.
 * @property {CustomEvent<CallSignalDetail>} hangup Pushed: a member hung up.
 * @property {CustomEvent<IceCandidateDetail>} icecandidate Pushed: an ICE candidate.
 * @property {CustomEvent<NegotiationDetail>} negotiation Pushed: an offer or answer.
 * @property {CustomEvent<ErrorDetail>} alert Pushed: an error without a request to reject (rare).
 * @property {CustomEvent<MembersDetail>} members {@link Switchboard.members} changed (joined, left, online, offline, state, kick, {@link Switchboard.attendees}).
 * @property {CustomEvent<WorkspaceDetail>} workspace `workspace.invite` or `workspace.protected` changed.
 * @property {CustomEvent<Empty>} connected A socket opened (before any re-attend).
 * @property {CustomEvent<DisconnectedDetail>} disconnected An open connection closed.
 * @property {CustomEvent<ReconnectingDetail>} reconnecting A reconnect attempt is scheduled.
 * @property {CustomEvent<ReattendedDetail>} reattended The membership is back: after a reconnect (`automatic: true`) or {@link Switchboard.reAttend} (`false`).
 * @property {CustomEvent<ErrorDetail>} session-ended An automatic re-attend was refused: the membership is gone.
 */

/**
 * `stream`: a remote track arrived.
 * @typedef {object} StreamDetail
 * @property {string} attendeeId Whose.
 * @property {MediaStream} stream That member's stream (the same object for every track of one connection).
 */

/**
 * `peer-state`: the `connectionState` of a member's connection changed.
 * @typedef {object} PeerStateDetail
 * @property {string} attendeeId Whose.
 * @property {RTCPeerConnectionState} state The new state; `closed` also when the call dropped the connection.
 */

/**
 * `channel-open`: the data channel to a member opened.
 * @typedef {object} ChannelOpenDetail
 * @property {string} attendeeId Whose.
 * @property {RTCDataChannel} channel The channel (also {@link CallPeer.channel}).
 */

/**
 * `message`: a message arrived on a member's data channel.
 * @typedef {object} MessageDetail
 * @property {string} attendeeId From whom.
 * @property {string | ArrayBuffer | Blob} data As `RTCDataChannel` delivers it: a string, or binary data as the channel's `binaryType` says.
 */

/**
 * The events of a {@link Call}: each a `CustomEvent` whose `detail` is given here.
 * @typedef {object} CallEventMap
 * @property {CustomEvent<StreamDetail>} stream A remote track arrived.
 * @property {CustomEvent<PeerStateDetail>} peer-state A member's connection changed state.
 * @property {CustomEvent<null>} closed The call closed (`detail` is `null`).
 * @property {CustomEvent<ChannelOpenDetail>} channel-open With `dataChannel`: the channel to a member opened.
 * @property {CustomEvent<MessageDetail>} message With `dataChannel`: a message arrived.
 */

/**
 * What a {@link Switchboard} is doing with its connection.
 * @typedef {'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'} ConnectionStatus
 */
