//! Requests forwarded to the node that owns their workspace.
//!
//! A member whose connection is on another node than its workspace's owner has its
//! decisions (attend, leave, kick, state, ...) made by the owner: its node sends the
//! request as a [`Command`] over the bus and awaits the [`Outcome`]. The owner runs the
//! same code as for its own members, with a caller whose replies it routes back
//! ([`super::Via::Remote`]); they reach the caller's node before the outcome, on the
//! same channel, so that the caller's node has the reply queued (and its replica the
//! roster) before it learns the request is done.

use super::request::{Attend, Moderation, StateChange};
use super::{Binding, Caller, Hub, InvitePreview};
use crate::auth::{Role, SessionClaims};
use crate::cluster::control::Control;
use crate::core::conn::ConnId;
use crate::core::counters::Protocol;
use crate::core::event::RequestId;
use crate::error::{Error, Outage, Result};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

/// How long a forwarded request may take: longer than the longest PIN delay (120 s,
/// `auth/pin_limits.rs`) and a hash. The owner's death ends the wait at once.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(150);

/// A request for the owner of a workspace, with whom to answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Forwarded {
    /// Unique among the sender's requests in flight.
    pub(crate) id: u64,
    /// The sender's node.
    pub(crate) from: u64,
    pub(crate) command: Command,
}

/// What a member's node asks of the owner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Command {
    Attend {
        req: Attend,
        caller: Remote,
    },
    ReAttend {
        token: String,
        caller: Remote,
    },
    Leave {
        binding: Bound,
        caller: Remote,
    },
    Moderate {
        binding: Bound,
        event: Moderation,
        caller: Remote,
    },
    Destroy {
        binding: Bound,
        caller: Remote,
    },
    Hangup {
        binding: Bound,
        call: String,
        to: Option<String>,
        caller: Remote,
    },
    State {
        binding: Bound,
        change: StateChange,
        caller: Remote,
    },
    /// An `answer` relayed on a replica: both sides are now in the call.
    Answered {
        wid: String,
        call: String,
        who: [String; 2],
    },
    /// The member's connection closed.
    Disconnect {
        binding: Bound,
        conn: ConnId,
    },
    /// After a takeover: these members of the sender's node are online, and it
    /// believed those others, on dead nodes, were.
    Rebind {
        wid: String,
        members: Vec<Rebound>,
        believed_online: Vec<String>,
    },
    Preview {
        invite: String,
        ip: IpAddr,
    },
    VerifyMember {
        token: String,
    },
    Operator(Operator),
}

/// What the admin API asks of a workspace's owner (`operator_entry.rs`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "operator", rename_all = "snake_case")]
pub(crate) enum Operator {
    Inspect {
        wid: String,
    },
    Kick {
        wid: String,
        attendee: String,
        ban: bool,
    },
    Rotate {
        wid: String,
    },
    Destroy {
        wid: String,
    },
}

/// A caller on another node.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Remote {
    pub(super) conn: ConnId,
    pub(super) protocol: Protocol,
    pub(super) ip: IpAddr,
    pub(super) re: Option<RequestId>,
}

/// A binding, as another node holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Bound {
    pub(super) wid: String,
    pub(super) attendee: String,
    pub(super) role: Role,
    pub(super) exp: u64,
}

impl Bound {
    /// A binding that names a membership only (its expiry does not matter to the
    /// owner's `Disconnect`).
    pub(super) fn new(wid: &str, attendee: String, role: Role) -> Bound {
        Bound {
            wid: wid.to_string(),
            attendee,
            role,
            exp: 0,
        }
    }
}

/// A member online on the node that sends a [`Command::Rebind`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Rebound {
    pub(super) attendee: String,
    pub(super) conn: ConnId,
    pub(super) protocol: Protocol,
}

/// What a forwarded request came to.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Done,
    Bound(Bound),
    Preview(InvitePreview),
    Member(SessionClaims),
    Detail(super::WorkspaceDetail),
    /// A ban's (or a rotation's) new invite.
    Invite(Option<String>),
}

/// The requests this node forwarded and awaits.
pub(super) type Awaiting = crate::cluster::calls::Calls<Result<Outcome>>;

impl Caller<'_> {
    /// This caller, as the owner will see it.
    pub(super) fn remote(&self) -> Remote {
        Remote {
            conn: self.link.id,
            protocol: self.link.codec.protocol(),
            ip: self.ip,
            re: self.re.cloned(),
        }
    }
}

impl Binding {
    pub(super) fn wire(&self) -> Bound {
        Bound {
            wid: self.workspace.id.clone(),
            attendee: self.attendee.clone(),
            role: self.role,
            exp: self.exp,
        }
    }
}

impl Hub {
    /// Sends `command` to node `node` and awaits its outcome. Errors: the owner's own,
    /// or `unavailable` when Redis is down, the owner dies, or it does not answer within
    /// [`FORWARD_TIMEOUT`].
    pub(super) async fn forward(&self, node: u64, command: Command) -> Result<Outcome> {
        let bus = self
            .router
            .bus()
            .ok_or(Error::Unavailable(Outage::Cluster))?;
        if !self.cluster_up() {
            return Err(Error::Unavailable(Outage::Cluster));
        }
        let mut call = self.awaiting.open(node);
        let from = self.router.node();
        let id = call.id;
        bus.tell(
            node,
            &Control::Command(Box::new(Forwarded { id, from, command })),
        );
        let health = &self
            .cluster
            .as_ref()
            .ok_or(Error::Unavailable(Outage::Cluster))?
            .health;
        call.answer(health, FORWARD_TIMEOUT)
            .await
            .unwrap_or(Err(Error::Unavailable(Outage::Cluster)))
    }

    /// Sends `command` without waiting for its outcome.
    pub(super) fn notify(&self, node: u64, command: Command) {
        if let Some(bus) = self.router.bus() {
            let from = self.router.node();
            bus.tell(
                node,
                &Control::Command(Box::new(Forwarded {
                    id: u64::MAX,
                    from,
                    command,
                })),
            );
        }
    }

    /// Request `id` reached the owner.
    pub(crate) fn received(&self, id: u64) {
        self.awaiting.received(id);
    }

    /// The owner's answer to request `id`.
    pub(crate) fn answered(&self, id: u64, outcome: Result<Outcome>) {
        self.awaiting.answer(id, outcome);
    }

    /// Node `node` died: what it was asked will never be answered.
    pub(super) fn abandon_requests_to(&self, node: u64) {
        self.awaiting.abandon(node);
    }

    /// A binding this node holds, from the owner's answer: the replica the owner sent
    /// before it.
    pub(super) fn bind_remote(&self, outcome: Outcome) -> Result<Binding> {
        let Outcome::Bound(bound) = outcome else {
            return Err(Error::Unavailable(Outage::Cluster));
        };
        let workspace = self
            .registry()
            .get(&bound.wid)
            .cloned()
            .ok_or(Error::Unavailable(Outage::Cluster))?;
        Ok(Binding {
            workspace,
            attendee: bound.attendee,
            role: bound.role,
            exp: bound.exp,
        })
    }
}
