//! What an adapter asks of a workspace, whatever protocol the request came in: the
//! inputs of the operations that take more than a binding. Each adapter decodes its own
//! frames into these.

use crate::core::event::{PayloadForm, SignalKind};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `create`: a new workspace, owned by the caller.
#[derive(Debug, Serialize, Deserialize)]
pub struct Create {
    /// The workspace's name; absent or empty gives `workspace.untitled`.
    pub name: Option<String>,
    /// A PIN every `attend` must give; absent or empty for none.
    pub pin: Option<String>,
    /// The owner's name; absent or empty gives `workspace.anonymous_attendee`.
    pub attendee_name: Option<String>,
}

/// `attend`: joining with an invite.
#[derive(Debug, Serialize, Deserialize)]
pub struct Attend {
    /// The invite token.
    pub invite: String,
    /// The PIN, when the workspace has one.
    pub pin: Option<String>,
    /// The newcomer's name; absent or empty gives `workspace.anonymous_attendee`.
    pub name: Option<String>,
}

/// `state`: what a member announces of its microphone and camera; `None` keeps the
/// last value.
#[derive(Debug, Serialize, Deserialize)]
pub struct StateChange {
    /// The microphone is on.
    pub mic: Option<bool>,
    /// The camera is on.
    pub cam: Option<bool>,
}

/// The owner's say over who is in and who may come in.
#[derive(Debug, Serialize, Deserialize)]
pub enum Moderation {
    /// Removes a member; with `ban`, its address may not attend for a while.
    Kick {
        /// Whom.
        attendee_id: String,
        /// Whether to ban its address (and rotate the invite).
        ban: bool,
    },
    /// Makes every invite handed out so far worthless.
    RotateInvite,
    /// Sets the PIN; `None` removes it.
    SetPin {
        /// The new PIN.
        pin: Option<String>,
    },
}

/// A point-to-point signal for one member.
#[derive(Debug)]
pub struct Signal {
    /// Which signal.
    pub kind: SignalKind,
    /// The target's attendee id.
    pub to: String,
    /// The call, for the kinds that name one ([`SignalKind::has_call`]).
    pub call: Option<String>,
    /// The payload ([`SignalKind::payload_field`]), passed through byte for byte.
    pub payload: Option<Box<RawValue>>,
    /// How the sender's protocol wraps the payload.
    pub form: PayloadForm,
    /// A webRTCWorkspaces sender's `nonce`, passed to the target.
    pub nonce: Option<String>,
}
