//! One workspace: its members, their sockets, and the call in progress.
//!
//! All of a workspace's state sits behind one mutex that is never held across an
//! `.await`. Every change (join, leave, relay bookkeeping) happens under it, which is
//! what makes capacity checks atomic and keeps pushes to one member in order.

use super::admission::Admission;
use crate::auth::Role;
use crate::core::conn::{ConnId, Router};
use crate::core::event::{AttendeeInfo, Call, Codec, Fanout, Push, WorkspaceInfo};
use indexmap::IndexMap;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// One workspace: its id, and its state behind the one lock every change takes.
///
/// In a cluster one node owns each live workspace and its copy is the truth; a node
/// with members of a workspace it does not own holds a replica, kept current by the
/// owner (`roster.rs`), from which it relays its members' signals. A takeover turns a
/// replica into the owned copy in place, so that members' bindings stay valid.
pub(crate) struct Workspace {
    pub(crate) id: String,
    /// The number of the node that owns it: this node's own (always, on a node on its
    /// own), or another's when this copy is a replica.
    holder: AtomicU64,
    state: Mutex<State>,
}

/// Everything about a workspace that changes, guarded by [`Workspace::lock`].
pub(super) struct State {
    pub(super) name: String,
    pub(super) owner: String,
    /// The PIN, the invite version and the bans: what `attend` must get past.
    pub(super) admission: Admission,
    pub(super) capacity: usize,
    /// Unix milliseconds.
    pub(super) created_at: u64,
    /// In join order, the owner first. Offline members stay until their ttl.
    pub(super) members: IndexMap<String, Member>,
    pub(super) call: Option<Call>,
    /// False once destroyed or expired: holders of an `Arc` must treat it as gone.
    pub(super) live: bool,
    /// Unix ms since when no member has been online; `None` while someone is.
    pub(super) idle_since: Option<u64>,
    /// Cluster, on the owner: the other nodes holding a replica, and the roster as
    /// they last got it (see `roster.rs`).
    pub(super) replicas: Replicas,
}

/// Where the owner's replicas are, and what they hold.
#[derive(Default)]
pub(super) struct Replicas {
    pub(super) nodes: BTreeSet<u64>,
    pub(super) sent: Option<bytes::Bytes>,
}

/// One member, online or not.
pub(super) struct Member {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) joined_at: u64,
    /// The member's current connection; `None` while offline.
    pub(super) conn: Option<Link>,
    /// The client address of the current socket, or of the last one while offline.
    pub(super) addr: Option<IpAddr>,
    /// Unix ms since when the member has been offline.
    pub(super) offline_since: Option<u64>,
    pub(super) mic: Option<bool>,
    pub(super) cam: Option<bool>,
}

/// A member's connection: where the router delivers to it, and how its protocol
/// encodes the core's events.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) id: ConnId,
    pub(crate) codec: Codec,
}

impl Workspace {
    pub(super) fn new(id: String, holder: u64, state: State) -> Workspace {
        Workspace {
            id,
            holder: AtomicU64::new(holder),
            state: Mutex::new(state),
        }
    }

    /// The node that owns it.
    pub(super) fn holder(&self) -> u64 {
        self.holder.load(Ordering::Acquire)
    }

    /// Makes `node` its owner (a takeover, or a replica learning of one).
    pub(super) fn set_holder(&self, node: u64) {
        self.holder.store(node, Ordering::Release);
    }

    /// The state lock. A panic while it was held would have been a bug in a few lines
    /// of bookkeeping; carrying on with the state is better than wedging the room.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    pub(super) fn info(&self, id: &str, invite: String) -> WorkspaceInfo {
        WorkspaceInfo {
            id: id.to_string(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            protected: self.admission.pin_hash.is_some(),
            capacity: self.capacity,
            created_at: self.created_at,
            invite,
        }
    }

    pub(super) fn attendees(&self) -> Vec<AttendeeInfo> {
        self.members.values().map(Member::info).collect()
    }

    /// The member bound to connection `conn`, if that is still its current one.
    pub(super) fn bound_member(&mut self, attendee: &str, conn: ConnId) -> Option<&mut Member> {
        self.members
            .get_mut(attendee)
            .filter(|m| m.conn.as_ref().is_some_and(|c| c.id == conn))
    }

    /// Pushes `push` to every online member but `except` that has room for it; a
    /// member whose queue is half full misses it (PROTOCOL.md 1.1, "Slow targets").
    /// Encoded once per protocol among them.
    pub(super) fn broadcast(&self, router: &Router, push: &Push, except: &str) {
        let mut fanout = Fanout::new(push);
        for member in self.members.values().filter(|m| m.id != except) {
            if let Some((conn, frame)) = member
                .conn
                .as_ref()
                .and_then(|conn| Some((conn, fanout.frame(&conn.codec)?)))
            {
                router.offer(conn.id, &frame);
            }
        }
    }

    pub(super) fn any_online(&self) -> bool {
        self.members.values().any(|m| m.conn.is_some())
    }

    /// Removes a member for good, and from the call; marks the room idle when it was
    /// the last one online.
    pub(super) fn remove_member(&mut self, attendee: &str, now_ms: u64) -> Option<Member> {
        let member = self.members.shift_remove(attendee)?;
        self.leave_call(attendee);
        self.note_presence(now_ms);
        Some(member)
    }

    pub(super) fn leave_call(&mut self, attendee: &str) {
        if let Some(call) = &mut self.call {
            call.participants.retain(|p| p != attendee);
            if call.participants.is_empty() {
                self.call = None;
            }
        }
    }

    /// Keeps `idle_since` true to who is online.
    pub(super) fn note_presence(&mut self, now_ms: u64) {
        if self.any_online() {
            self.idle_since = None;
        } else if self.idle_since.is_none() {
            self.idle_since = Some(now_ms);
        }
    }
}

impl Member {
    pub(super) fn info(&self) -> AttendeeInfo {
        AttendeeInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            online: self.conn.is_some(),
            mic: self.mic,
            cam: self.cam,
        }
    }
}
