//! Replicas: how a node relays for members of a workspace another node owns.
//!
//! The owner sends a [`Roster`] (everything about the workspace but its PIN hash and
//! bans) to every node with an online member, whenever it changes, before the replies
//! and pushes that follow the change: a node never hears of a member before its replica
//! knows where to reach it. On that node the replica answers what needs no decision
//! (relays, `attendees`, `refresh`) and the owner everything else (`forward.rs`).
//!
//! A node whose last member of the workspace went offline gets one last roster (so
//! that their bindings see it) and is forgotten.

use super::admission::Admission;
use super::forward::Command;
use super::workspace::{Link, Member, Replicas, State, Workspace};
use super::Hub;
use crate::auth::Role;
use crate::cluster::control::Control;
use crate::core::conn::ConnId;
use crate::core::counters::Protocol;
use crate::core::event::{codec_for, Call, Push};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A workspace as its replicas hold it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Roster {
    wid: String,
    /// The owner's node number.
    holder: u64,
    live: bool,
    name: String,
    owner: String,
    protected: bool,
    capacity: usize,
    created_at: u64,
    invite_version: u64,
    members: Vec<RosterMember>,
    call: Option<Call>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RosterMember {
    id: String,
    name: String,
    role: Role,
    joined_at: u64,
    /// Where to reach it, while online.
    conn: Option<(ConnId, Protocol)>,
    mic: Option<bool>,
    cam: Option<bool>,
}

impl Roster {
    fn of(wid: &str, holder: u64, state: &State) -> Roster {
        Roster {
            wid: wid.to_string(),
            holder,
            live: state.live,
            name: state.name.clone(),
            owner: state.owner.clone(),
            protected: state.admission.pin_hash.is_some(),
            capacity: state.capacity,
            created_at: state.created_at,
            invite_version: state.admission.invite_version,
            members: state.members.values().map(RosterMember::of).collect(),
            call: state.call.clone(),
        }
    }

    /// The replica's state. A member whose protocol has no codec here (a newer node's)
    /// counts as offline.
    fn into_state(self) -> State {
        let members: IndexMap<String, Member> = self
            .members
            .into_iter()
            .map(|m| (m.id.clone(), m.into_member()))
            .collect();
        State {
            name: self.name,
            owner: self.owner,
            admission: Admission::replica(self.protected, self.invite_version),
            capacity: self.capacity,
            created_at: self.created_at,
            members,
            call: self.call,
            live: self.live,
            idle_since: None,
            replicas: Replicas::default(),
        }
    }

    fn online_on(&self, node: u64) -> bool {
        self.members
            .iter()
            .any(|m| m.conn.is_some_and(|(c, _)| c.node == node))
    }
}

impl RosterMember {
    fn of(member: &Member) -> RosterMember {
        RosterMember {
            id: member.id.clone(),
            name: member.name.clone(),
            role: member.role,
            joined_at: member.joined_at,
            conn: member
                .conn
                .as_ref()
                .map(|link| (link.id, link.codec.protocol())),
            mic: member.mic,
            cam: member.cam,
        }
    }

    fn into_member(self) -> Member {
        let conn = self
            .conn
            .and_then(|(id, protocol)| codec_for(protocol).map(|codec| Link { id, codec }));
        Member {
            id: self.id,
            name: self.name,
            role: self.role,
            joined_at: self.joined_at,
            offline_since: None,
            conn,
            addr: None,
            mic: self.mic,
            cam: self.cam,
        }
    }
}

impl Hub {
    /// On the owner: sends the workspace's roster to every other node with an online
    /// member, and to those that had one until now, when it differs from what they
    /// hold. Call it after a change and before the replies and pushes that follow.
    pub(super) fn replicate(&self, wid: &str, state: &mut State) {
        let Some(bus) = self.router.bus() else {
            return;
        };
        let me = self.router.node();
        let holding: BTreeSet<u64> = state
            .members
            .values()
            .filter_map(|m| m.conn.as_ref())
            .map(|link| link.id.node)
            .filter(|node| *node != me)
            .collect();
        // Every member here, as most rooms are: no roster to encode.
        if holding.is_empty() && state.replicas.nodes.is_empty() {
            state.replicas = Replicas::default();
            return;
        }
        let message =
            crate::cluster::wire::control(&Control::Roster(Box::new(Roster::of(wid, me, state))));
        let changed = state.replicas.sent.as_ref() != Some(&message);
        for node in holding.union(&state.replicas.nodes) {
            if changed || !state.replicas.nodes.contains(node) {
                bus.tell_encoded(*node, message.clone());
            }
        }
        state.replicas = Replicas {
            nodes: holding,
            sent: Some(message),
        };
    }

    /// Pushes `push` to every online member but `except` that has room for it, after
    /// bringing the replicas up to date: a change and what announces it, in that order.
    pub(super) fn announce(&self, wid: &str, state: &mut State, push: &Push, except: &str) {
        self.replicate(wid, state);
        state.broadcast(&self.router, push, except);
    }

    /// On the owner, after Redis came back: every replica gets its roster again, since
    /// what was sent while Redis was away reached nobody.
    pub(crate) fn resend_rosters(&self) {
        for workspace in self.owned() {
            let state = &mut *workspace.lock();
            state.replicas.sent = None;
            self.replicate(&workspace.id, state);
        }
    }

    /// This node was declared dead: the workspaces it owned have other owners now (or
    /// will, when next needed), and its copies must not decide anything any more.
    pub(crate) fn let_go(&self) {
        let me = self.router.node();
        self.registry_mut().retain(|_, ws| ws.holder() != me);
    }

    /// On a node with members of a workspace another node owns: takes in its roster.
    /// The replica is changed in place (bindings hold it); a node whose last member
    /// there went offline lets go of it.
    pub(crate) fn apply_roster(&self, roster: Roster) {
        let me = self.router.node();
        let mut registry = self.registry_mut();
        let held = registry.get(&roster.wid).cloned();
        if held.as_ref().is_some_and(|ws| ws.holder() == me) {
            // This node took the workspace over: an earlier owner's last word.
            return;
        }
        let keep = roster.live && roster.online_on(me);
        let wid = roster.wid.clone();
        let holder = roster.holder;
        match held {
            Some(ws) => {
                let moved = ws.holder() != holder;
                ws.set_holder(holder);
                *ws.lock() = roster.into_state();
                if !keep {
                    registry.remove(&wid);
                }
                drop(registry);
                if moved {
                    self.report_closed(&ws);
                }
            }
            None if keep => {
                let ws = Workspace::new(wid.clone(), holder, roster.into_state());
                registry.insert(wid, Arc::new(ws));
            }
            None => {}
        }
    }

    /// A new owner may believe online a member of this node whose socket closed while
    /// the old owner was dying (its `Disconnect` went to the dead node): tells it.
    fn report_closed(&self, replica: &Workspace) {
        let me = self.router.node();
        let closed: Vec<(String, Role, ConnId)> = replica
            .lock()
            .members
            .values()
            .filter_map(|m| Some((m.id.clone(), m.role, m.conn.as_ref()?.id)))
            .filter(|(_, _, conn)| conn.node == me && self.router.local(*conn).is_none())
            .collect();
        for (attendee, role, conn) in closed {
            let binding = super::forward::Bound::new(&replica.id, attendee, role);
            self.notify(replica.holder(), Command::Disconnect { binding, conn });
        }
    }
}
