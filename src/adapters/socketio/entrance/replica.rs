//! Entrance rooms across the cluster: every node knows every room's members (which
//! socket, whether connected, its last peer id), told of each change on the shared
//! channel, so that a newcomer on any node is offered to a connected member on any
//! other. An offer that crosses nodes travels with its `tid`, which the chosen member's
//! node remembers too: the answers come back from there by that `tid`.

use super::{Entrant, Member, Remembered, Rooms};
use crate::cluster::control::Control;
use crate::core::conn::{ConnId, Router};
use crate::core::counters::DropReason;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A change to the entrance rooms, as the bus carries it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub(crate) enum RoomChange {
    /// `conn` is in `room`, connected or not; or left it (`None`).
    Member {
        room: String,
        conn: ConnId,
        connected: Option<bool>,
    },
    /// The peer id `conn` gave in its last event.
    PeerId { conn: ConnId, id: Option<String> },
    /// `conn` closed: it leaves `rooms`.
    Gone { conn: ConnId, rooms: Vec<String> },
    /// A newcomer's offer (`text`, its `new_spray`) for `dest`, a socket of the node
    /// it is sent to, which remembers `tid` for the answers.
    Offer {
        tid: String,
        source: ConnId,
        dest: ConnId,
        text: String,
    },
    /// What the sockets of node `node` are, for a node that asked.
    Node {
        node: u64,
        members: Vec<(String, ConnId, bool)>,
        ids: Vec<(ConnId, Option<String>)>,
    },
}

impl Entrant {
    /// Tells every other node of a change this socket made.
    pub(super) fn tell(&self, change: RoomChange) {
        if let Some(bus) = self.router.bus() {
            bus.tell_all(&Control::Room(change));
        }
    }

    pub(super) fn tell_member(&self, room: &str, connected: Option<bool>) {
        self.tell(RoomChange::Member {
            room: room.to_string(),
            conn: self.conn,
            connected,
        });
    }

    /// Sends a newcomer's first offer of `tid` to `dest`: with the `tid`, when `dest`
    /// is on another node.
    pub(super) fn send_offer(
        &self,
        dest: ConnId,
        tid: String,
        text: ByteString,
    ) -> Result<(), DropReason> {
        match self.router.bus() {
            Some(bus) if dest.node != self.router.node() => {
                let source = self.conn;
                let text = text.to_string();
                let offer = RoomChange::Offer {
                    tid,
                    source,
                    dest,
                    text,
                };
                bus.tell(dest.node, &Control::Room(offer));
                Ok(())
            }
            _ => self.send(dest, text),
        }
    }
}

impl Rooms {
    /// `conn` leaves `rooms`, and its peer id is forgotten.
    pub(super) fn leave(&self, conn: ConnId, rooms: &[String]) {
        let mut state = self.lock();
        state.peer_ids.remove(&conn);
        for room in rooms {
            if let Some(members) = state.rooms.get_mut(room) {
                members.remove(&conn);
                if members.is_empty() {
                    state.rooms.remove(room);
                }
            }
        }
    }

    /// Applies another node's change; `router` delivers an offer to its socket here.
    pub(crate) fn apply(&self, change: RoomChange, router: &Router) {
        let mut state = self.lock();
        match change {
            RoomChange::Member {
                room,
                conn,
                connected,
            } => {
                let members = state.rooms.entry(room.clone()).or_default();
                match connected {
                    Some(connected) => {
                        members.insert(conn, Member { connected });
                    }
                    None => {
                        members.remove(&conn);
                    }
                }
                if members.is_empty() {
                    state.rooms.remove(&room);
                }
            }
            RoomChange::PeerId { conn, id } => {
                state.peer_ids.insert(conn, id);
            }
            RoomChange::Gone { conn, rooms } => {
                drop(state);
                self.leave(conn, &rooms);
            }
            RoomChange::Offer {
                tid,
                source,
                dest,
                text,
            } => {
                let at = Instant::now();
                state.remember(tid, Remembered { source, dest, at }, self.max_tids);
                drop(state);
                let _ = router.relay(dest, ByteString::from(text));
            }
            RoomChange::Node { node, members, ids } => {
                drop(state);
                self.forget_node(node);
                let mut state = self.lock();
                for (room, conn, connected) in
                    members.into_iter().filter(|(_, c, _)| c.node == node)
                {
                    state
                        .rooms
                        .entry(room)
                        .or_default()
                        .insert(conn, Member { connected });
                }
                state
                    .peer_ids
                    .extend(ids.into_iter().filter(|(c, _)| c.node == node));
            }
        }
    }

    /// Forgets every socket of `node`.
    pub(crate) fn forget_node(&self, node: u64) {
        let mut state = self.lock();
        state.peer_ids.retain(|conn, _| conn.node != node);
        for members in state.rooms.values_mut() {
            members.retain(|conn, _| conn.node != node);
        }
        state.rooms.retain(|_, members| !members.is_empty());
    }

    /// The sockets of this node (`node`), for another node that asked.
    pub(crate) fn own(&self, node: u64) -> RoomChange {
        let state = self.lock();
        let members = state
            .rooms
            .iter()
            .flat_map(|(room, members)| members.iter().map(move |(conn, m)| (room, conn, m)))
            .filter(|(_, conn, _)| conn.node == node)
            .map(|(room, conn, m)| (room.clone(), *conn, m.connected))
            .collect();
        let ids = state
            .peer_ids
            .iter()
            .filter(|(conn, _)| conn.node == node)
            .map(|(conn, id)| (*conn, id.clone()))
            .collect();
        RoomChange::Node { node, members, ids }
    }

    /// Whether `change` is this node's own, back from the shared channel.
    pub(crate) fn is_from(change: &RoomChange, node: u64) -> bool {
        match change {
            RoomChange::Member { conn, .. }
            | RoomChange::PeerId { conn, .. }
            | RoomChange::Gone { conn, .. } => conn.node == node,
            RoomChange::Node { node: from, .. } => *from == node,
            RoomChange::Offer { .. } => false,
        }
    }
}
