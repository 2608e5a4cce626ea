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
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

pub struct Workspace {
    pub id: String,
    state: Mutex<State>,
}

pub struct State {
    pub name: String,
    pub owner: String,
    /// The PIN, the invite version and the bans: what `attend` must get past.
    pub(crate) admission: Admission,
    pub capacity: usize,
    /// Unix milliseconds.
    pub created_at: u64,
    /// In join order, the owner first. Offline members stay until their ttl.
    pub members: IndexMap<String, Member>,
    pub call: Option<Call>,
    /// False once destroyed or expired: holders of an `Arc` must treat it as gone.
    pub live: bool,
    /// Unix ms since when no member has been online; `None` while someone is.
    pub idle_since: Option<u64>,
}

pub struct Member {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub joined_at: u64,
    /// The member's current connection; `None` while offline.
    pub conn: Option<Link>,
    /// The client address of the current socket, or of the last one while offline.
    pub addr: Option<IpAddr>,
    /// Unix ms since when the member has been offline.
    pub offline_since: Option<u64>,
    pub mic: Option<bool>,
    pub cam: Option<bool>,
}

/// A member's connection: where the router delivers to it, and how its protocol
/// encodes the core's events.
#[derive(Clone)]
pub struct Link {
    pub id: ConnId,
    pub codec: Codec,
}

impl Workspace {
    pub fn new(id: String, state: State) -> Workspace {
        Workspace {
            id,
            state: Mutex::new(state),
        }
    }

    /// The state lock. A panic while it was held would have been a bug in a few lines
    /// of bookkeeping; carrying on with the state is better than wedging the room.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    pub fn info(&self, id: &str, invite: String) -> WorkspaceInfo {
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

    pub fn attendees(&self) -> Vec<AttendeeInfo> {
        self.members.values().map(Member::info).collect()
    }

    /// The member bound to connection `conn`, if that is still its current one.
    pub fn bound_member(&mut self, attendee: &str, conn: ConnId) -> Option<&mut Member> {
        self.members
            .get_mut(attendee)
            .filter(|m| m.conn.as_ref().is_some_and(|c| c.id == conn))
    }

    /// Pushes `push` to every online member but `except` that has room for it; a
    /// member whose queue is half full misses it (PROTOCOL.md 1.1, "Slow targets").
    /// Encoded once per protocol among them.
    pub fn broadcast(&self, router: &Router, push: &Push, except: &str) {
        let mut fanout = Fanout::new(push);
        for member in self.members.values().filter(|m| m.id != except) {
            if let Some(conn) = &member.conn {
                router.offer(conn.id, &fanout.frame(&conn.codec));
            }
        }
    }

    pub fn any_online(&self) -> bool {
        self.members.values().any(|m| m.conn.is_some())
    }

    /// Removes a member for good, and from the call; marks the room idle when it was
    /// the last one online.
    pub fn remove_member(&mut self, attendee: &str, now_ms: u64) -> Option<Member> {
        let member = self.members.shift_remove(attendee)?;
        self.leave_call(attendee);
        self.note_presence(now_ms);
        Some(member)
    }

    pub fn leave_call(&mut self, attendee: &str) {
        if let Some(call) = &mut self.call {
            call.participants.retain(|p| p != attendee);
            if call.participants.is_empty() {
                self.call = None;
            }
        }
    }

    /// Keeps `idle_since` true to who is online.
    pub fn note_presence(&mut self, now_ms: u64) {
        if self.any_online() {
            self.idle_since = None;
        } else if self.idle_since.is_none() {
            self.idle_since = Some(now_ms);
        }
    }
}

impl Member {
    pub fn info(&self) -> AttendeeInfo {
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
