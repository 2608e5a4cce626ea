//! What the core says to connections, in no wire format: replies to a caller, pushes to
//! members, and the reasons it ends a connection.
//!
//! Each connection carries a [`Codec`] that turns these events into its protocol's
//! frames, so members of one workspace may speak different protocols. A push to several
//! members is encoded once per codec ([`Fanout`]), not once per member. Relayed payloads
//! (`sdp`, `candidate`, `description`) travel as the sender's raw JSON bytes and are never
//! parsed again.

#![warn(missing_docs)]

use crate::auth::Role;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;

/// A request id, echoed back with the reply: an integer or a short string. Opaque to
/// the core; each protocol decides where it carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A signed integer.
    Int(i64),
    /// An integer above `i64::MAX`.
    Uint(u64),
    /// A string.
    Str(String),
}

/// A workspace as its members see it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceInfo {
    /// The workspace id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The owner's attendee id.
    pub owner: String,
    /// Whether `attend` needs a PIN.
    pub protected: bool,
    /// How many members, the owner included, it holds at most.
    pub capacity: usize,
    /// Unix milliseconds.
    pub created_at: u64,
    /// An invite of the current version.
    pub invite: String,
}

/// A member as the others see it.
#[derive(Debug, Clone, Serialize)]
pub struct AttendeeInfo {
    /// The attendee id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// Owner or attendee.
    pub role: Role,
    /// Whether the member has a live connection.
    pub online: bool,
    /// Last microphone state the member announced, if any.
    pub mic: Option<bool>,
    /// Last camera state the member announced, if any.
    pub cam: Option<bool>,
}

/// The call in progress in a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    /// The client-chosen call id.
    pub id: String,
    /// Attendee ids, in the order they joined the call.
    pub participants: Vec<String>,
}

/// What a member gets on joining (`attend`) or rejoining (`re-attend`).
#[derive(Debug, Clone)]
pub struct Joined {
    /// The workspace.
    pub workspace: WorkspaceInfo,
    /// The member itself.
    pub attendee: AttendeeInfo,
    /// A fresh session token.
    pub token: String,
    /// Every member, in join order, the owner first.
    pub attendees: Vec<AttendeeInfo>,
    /// The call in progress, if any.
    pub call: Option<Call>,
}

/// The success reply to one request, sent to its caller only.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A workspace was created; the caller owns it.
    Created {
        /// The new workspace.
        workspace: WorkspaceInfo,
        /// The owner.
        attendee: AttendeeInfo,
        /// The owner's session token.
        token: String,
    },
    /// The caller joined with an invite.
    Attended(Joined),
    /// The caller rejoined with a session token.
    ReAttended(Joined),
    /// A new session token for the same membership.
    Refreshed {
        /// The token.
        token: String,
    },
    /// Every member, in join order.
    Attendees {
        /// The members.
        attendees: Vec<AttendeeInfo>,
    },
    /// The caller left the workspace.
    Left,
    /// The owner removed a member.
    Kicked {
        /// Who was removed.
        attendee_id: String,
        /// Its display name.
        name: String,
    },
    /// The owner ended the workspace.
    Destroyed {
        /// Which workspace.
        workspace_id: String,
    },
    /// The owner replaced the invite.
    InviteRotated {
        /// The new invite.
        invite: String,
    },
    /// The owner set or removed the PIN.
    PinSet {
        /// Whether a PIN is now needed.
        protected: bool,
    },
    /// A signal was queued for its target(s).
    Sent,
}

/// The point-to-point signals, relayed untouched to one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// An offer starting a call (payload `sdp`).
    Ring,
    /// The answer to a ring (payload `sdp`).
    Answer,
    /// The target is in another call (no payload).
    Busy,
    /// One ICE candidate (payload `candidate`).
    IceCandidate,
    /// A renegotiation (payload `description`).
    Negotiation,
}

impl SignalKind {
    /// The name of the event, in every protocol that relays signals by name.
    pub fn event(self) -> &'static str {
        match self {
            SignalKind::Ring => "ring",
            SignalKind::Answer => "answer",
            SignalKind::Busy => "busy",
            SignalKind::IceCandidate => "icecandidate",
            SignalKind::Negotiation => "negotiation",
        }
    }

    /// The opaque field each kind carries, if any.
    pub fn payload_field(self) -> Option<&'static str> {
        match self {
            SignalKind::Ring | SignalKind::Answer => Some("sdp"),
            SignalKind::IceCandidate => Some("candidate"),
            SignalKind::Negotiation => Some("description"),
            SignalKind::Busy => None,
        }
    }

    /// Whether the kind names a call.
    pub fn has_call(self) -> bool {
        matches!(
            self,
            SignalKind::Ring | SignalKind::Answer | SignalKind::Busy
        )
    }
}

/// A signal on its way to its target.
#[derive(Debug, Clone)]
pub struct Relay {
    /// Which signal.
    pub kind: SignalKind,
    /// The sender's attendee id, as the server knows it.
    pub from: String,
    /// The target's attendee id.
    pub to: String,
    /// The call it belongs to (ring, answer, busy).
    pub call: Option<String>,
    /// The payload ([`SignalKind::payload_field`]), byte for byte as the sender wrote it.
    pub payload: Option<Box<RawValue>>,
    /// How the sender's protocol wrapped the payload.
    pub form: PayloadForm,
    /// A webRTCWorkspaces sender's `nonce`, which its callee echoes (COMPAT.md 1a).
    pub nonce: Option<String>,
    /// For the kinds that name a call: the workspace and the sender, which protocols
    /// that name them by object need (COMPAT.md 1a's `caller`, `callee`, `workspace`).
    pub scene: Option<Box<Scene>>,
}

/// Where a call signal happens, for the protocols whose pushes carry it.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The workspace.
    pub workspace: WorkspaceInfo,
    /// The sender's display name.
    pub sender_name: String,
}

/// The shape of a relayed payload, by the protocol that sent it. Only `negotiation`
/// differs between protocols: the native `description` is the session description
/// itself, webRTCWorkspaces' `message` wraps it as `{type, data}` (COMPAT.md 1a).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadForm {
    /// The payload as the native protocol carries it.
    Bare,
    /// A webRTCWorkspaces `message {type, data}`, `data` the description.
    Message,
}

/// Why a member left a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// It asked to.
    Left,
    /// The owner removed it.
    Kicked,
    /// It stayed offline past `workspace.offline_ttl_secs`.
    Timeout,
}

impl LeaveReason {
    /// The reason's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Kicked => "kicked",
            LeaveReason::Timeout => "timeout",
        }
    }
}

/// An event sent to members other than the caller (or to the caller, unasked).
#[derive(Debug, Clone)]
pub enum Push {
    /// A newcomer attended.
    AttendeeJoined {
        /// The newcomer.
        attendee: AttendeeInfo,
    },
    /// A member is gone for good.
    AttendeeLeft {
        /// Who.
        attendee_id: String,
        /// Its display name.
        name: String,
        /// Why.
        reason: LeaveReason,
    },
    /// A member's connection closed; it is still a member.
    AttendeeOffline {
        /// Who.
        attendee_id: String,
    },
    /// A member re-attended.
    AttendeeOnline {
        /// Who.
        attendee_id: String,
        /// Its display name.
        name: String,
        /// It was online already, on a connection the new one replaced: nothing
        /// changed for protocols that show presence.
        replaced: bool,
    },
    /// To the member the owner removed, before its connection is closed.
    Kicked {
        /// The member itself.
        attendee_id: String,
        /// Its display name.
        name: String,
    },
    /// The owner ended the workspace.
    Destroyed {
        /// Which workspace.
        workspace_id: String,
    },
    /// The owner replaced the invite.
    InviteRotated {
        /// The new invite.
        invite: String,
    },
    /// A point-to-point signal.
    Signal(Relay),
    /// A member hung up a call.
    Hangup {
        /// Who hung up.
        from: String,
        /// Its display name.
        from_name: String,
        /// Which call.
        call: String,
    },
    /// A member's microphone or camera changed.
    State {
        /// Whose.
        from: String,
        /// Its microphone, if ever announced.
        mic: Option<bool>,
        /// Its camera, if ever announced.
        cam: Option<bool>,
        /// What this announcement said: protocols with one event per device
        /// (webRTCWorkspaces' `mic-toggle`, `cam-toggle`) send only these.
        announced: (Option<bool>, Option<bool>),
    },
}

/// Why the core ends a connection. Each protocol maps it to its own close (code and
/// reason) in its [`Encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The owner kicked the member.
    Kicked,
    /// The member's membership moved to a newer connection.
    Replaced,
}

/// A protocol's encoder: events in, the frames of that protocol out.
pub trait Encode: Send + Sync {
    /// The frame of the reply to the request `re`; `None` when the protocol answers
    /// nothing to it (webRTCWorkspaces has no reply to a relayed signal).
    fn reply(&self, re: Option<&RequestId>, reply: &Reply) -> Option<ByteString>;
    /// The frame of a push; `None` when the protocol has no event for it.
    fn push(&self, push: &Push) -> Option<ByteString>;
    /// The WebSocket close code and reason for `reason`; `None` when the protocol
    /// keeps the connection open (it is no longer the member's either way).
    fn close(&self, reason: CloseReason) -> Option<(u16, &'static str)>;
    /// The protocol this codec speaks (the admin API shows it per member).
    fn protocol(&self) -> crate::core::counters::Protocol;
}

/// A connection's encoder. Connections of one protocol share one `Arc`, so that a push
/// to many of them is encoded once ([`Fanout`]).
pub type Codec = Arc<dyn Encode>;

/// The codec of each protocol whose connections can be members, so that a node can
/// encode for a member on another node from the protocol the bus names. Filled by
/// [`register_codec`] when the server starts.
static CODECS: std::sync::RwLock<Vec<Codec>> = std::sync::RwLock::new(Vec::new());

/// Makes `codec` the one [`codec_for`] gives for its protocol.
pub fn register_codec(codec: Codec) {
    let mut codecs = CODECS.write().unwrap_or_else(|p| p.into_inner());
    codecs.retain(|c| c.protocol() != codec.protocol());
    codecs.push(codec);
}

/// The codec of `protocol`'s members, if it has one.
pub fn codec_for(protocol: crate::core::counters::Protocol) -> Option<Codec> {
    let codecs = CODECS.read().unwrap_or_else(|p| p.into_inner());
    codecs.iter().find(|c| c.protocol() == protocol).cloned()
}

/// One push to several connections, encoded at most once per codec.
pub struct Fanout<'a> {
    push: &'a Push,
    /// Few codecs exist (one per protocol): a list beats a map.
    encoded: Vec<(Codec, Option<ByteString>)>,
}

impl<'a> Fanout<'a> {
    /// Nothing is encoded until a connection asks.
    pub fn new(push: &'a Push) -> Fanout<'a> {
        Fanout {
            push,
            encoded: Vec::new(),
        }
    }

    /// The push as `codec` encodes it, if that protocol has an event for it; encoded
    /// on the first ask of each codec.
    pub fn frame(&mut self, codec: &Codec) -> Option<ByteString> {
        let known = self
            .encoded
            .iter()
            .find(|(c, _)| std::ptr::addr_eq(Arc::as_ptr(c), Arc::as_ptr(codec)));
        if let Some((_, text)) = known {
            return text.clone();
        }
        let text = codec.push(self.push);
        self.encoded.push((codec.clone(), text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Encode for Counting {
        fn reply(&self, _: Option<&RequestId>, _: &Reply) -> Option<ByteString> {
            None
        }
        fn push(&self, _: &Push) -> Option<ByteString> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some("x".into())
        }
        fn close(&self, _: CloseReason) -> Option<(u16, &'static str)> {
            None
        }
        fn protocol(&self) -> crate::core::counters::Protocol {
            crate::core::counters::Protocol::Native
        }
    }

    #[test]
    fn a_fanout_encodes_once_per_codec() {
        let (a, b) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
        let (ca, cb): (Codec, Codec) = (a.clone(), b.clone());
        let push = Push::AttendeeOffline {
            attendee_id: "_a".into(),
        };
        let mut fanout = Fanout::new(&push);
        for codec in [&ca, &cb, &ca, &ca, &cb] {
            assert_eq!(fanout.frame(codec).as_deref(), Some("x"));
        }
        assert_eq!(a.0.load(Ordering::Relaxed), 1);
        assert_eq!(b.0.load(Ordering::Relaxed), 1);
    }
}
