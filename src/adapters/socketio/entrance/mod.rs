//! The n2n-overlay/foglet entrance events (COMPAT.md 1b), as foglet-signaling-server
//! 1.0.3 serves them: peers meet in entrance rooms (not workspaces), a newcomer's
//! offers go to one random *connected* member of the room, and that member's answers
//! come back by the offer's `tid`. The events have no error frame: anything malformed
//! or undeliverable is dropped and counted.
//!
//! Unlike the original, the `tid` memory is bounded (`limits.entrance_tids`, oldest
//! forgotten first) as well as timed (5 minutes), a malformed event cannot crash the
//! server, and a socket may be in at most [`MAX_ROOMS_PER_SOCKET`] rooms. In a cluster
//! every node knows every room (`replica.rs`).

mod replica;

pub(crate) use replica::RoomChange;

use super::packet::{bare_event, event};
use crate::adapters::json::{self, object};
use crate::core::conn::{ConnId, Router};
use crate::core::counters::{Counters, DropReason, Protocol};
use rand::seq::IteratorRandom;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The events of COMPAT.md 1b.
pub(super) const EVENTS: [&str; 4] = ["joinRoom", "new", "accept", "connected"];

/// How long a `tid` is remembered (foglet-signaling-server's cache `maxAge`).
const TID_TTL: Duration = Duration::from_secs(5 * 60);
/// Rooms one socket may be in; foglet peers use one.
pub(super) const MAX_ROOMS_PER_SOCKET: usize = 8;
/// Bytes of a room name or a `tid`, at most.
const MAX_KEY_BYTES: usize = 256;

/// Every entrance room of this node, and the offers in flight.
pub(crate) struct Rooms {
    state: Mutex<State>,
    max_tids: usize,
}

#[derive(Default)]
struct State {
    /// Room name to its members: connection, and whether it is *connected* (inside
    /// the overlay, so newcomers' offers may go to it).
    rooms: HashMap<String, HashMap<ConnId, Member>>,
    /// An offer's `tid` (its raw JSON) to who sent it and who was chosen to answer.
    tids: HashMap<String, Remembered>,
    /// `tid`s oldest first, with when each was remembered.
    order: VecDeque<(String, Instant)>,
    /// The `id` each socket gave in its last event (absent: none), as the original
    /// keeps `socket.peerId`: an offer is never sent to a socket of the sender's id.
    peer_ids: HashMap<ConnId, Option<String>>,
}

#[derive(Clone, Copy)]
struct Member {
    connected: bool,
}

struct Remembered {
    source: ConnId,
    dest: ConnId,
    at: Instant,
}

/// The fields of the entrance events; each event reads the ones it needs.
#[derive(Deserialize)]
struct Payload<'a> {
    id: Option<String>,
    room: Option<String>,
    #[serde(borrow)]
    offer: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Offer<'a> {
    #[serde(borrow)]
    tid: &'a RawValue,
}

impl Rooms {
    pub(crate) fn new(max_tids: usize) -> Rooms {
        Rooms {
            state: Mutex::default(),
            max_tids,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One socket's side of the entrance.
pub(crate) struct Entrant {
    rooms: Arc<Rooms>,
    router: Arc<Router>,
    counters: Arc<Counters>,
    conn: ConnId,
    joined: Vec<String>,
}

impl Entrant {
    pub(crate) fn new(
        rooms: Arc<Rooms>,
        router: Arc<Router>,
        counters: Arc<Counters>,
        conn: ConnId,
    ) -> Entrant {
        Entrant {
            rooms,
            router,
            counters,
            conn,
            joined: Vec::new(),
        }
    }

    /// Handles one entrance event; drops it (counted) when over the rate or malformed.
    pub(crate) fn on_event(&mut self, name: &str, payload: Option<&RawValue>, limited: bool) {
        let outcome = if limited {
            Err(DropReason::RateLimited)
        } else {
            let fields = payload
                .filter(|p| json::is_object(p.get()))
                .and_then(|p| serde_json::from_str::<Payload<'_>>(p.get()).ok());
            match fields {
                Some(fields) => self.dispatch(name, fields, payload),
                None => Err(DropReason::Malformed),
            }
        };
        match outcome {
            Ok(()) => self
                .counters
                .relayed(Protocol::SocketIo, payload.map_or(0, |p| p.get().len())),
            Err(reason) => self.counters.dropped(Protocol::SocketIo, reason),
        }
    }

    fn dispatch(
        &mut self,
        name: &str,
        fields: Payload<'_>,
        payload: Option<&RawValue>,
    ) -> Result<(), DropReason> {
        let room = fields.room.filter(|r| r.len() <= MAX_KEY_BYTES);
        let peer_id = fields.id.filter(|id| id.len() <= MAX_KEY_BYTES);
        let before = self
            .rooms
            .lock()
            .peer_ids
            .insert(self.conn, peer_id.clone());
        if before.as_ref() != Some(&peer_id) {
            self.tell(RoomChange::PeerId {
                conn: self.conn,
                id: peer_id.clone(),
            });
        }
        match name {
            "joinRoom" => {
                let room = room.ok_or(DropReason::Malformed)?;
                let connected = self.join(&room)?;
                let joined = object([("room", room.into()), ("connected", connected.into())]);
                self.reply(event("joinedRoom", joined))
            }
            "connected" => {
                let room = room.ok_or(DropReason::Malformed)?;
                self.enter(&room)?;
                self.reply(event("connected", payload))
            }
            "new" => {
                let room = room.ok_or(DropReason::Malformed)?;
                let offer = fields.offer.ok_or(DropReason::Malformed)?;
                let tid = tid_of(offer)?;
                self.offer(&room, peer_id, tid, offer)
            }
            "accept" => {
                let offer = fields.offer.ok_or(DropReason::Malformed)?;
                let tid = tid_of(offer)?;
                let source = {
                    let mut state = self.rooms.lock();
                    state.expire(Instant::now());
                    state.tids.get(&tid).map(|r| r.source)
                };
                let source = source.ok_or(DropReason::UnknownReceiver)?;
                self.send(source, event("accept_spray", offer))
            }
            _ => Err(DropReason::Malformed),
        }
    }

    /// Puts this socket in `room` (once): connected when nobody there is yet. Returns
    /// whether it is connected.
    fn join(&mut self, room: &str) -> Result<bool, DropReason> {
        let mut state = self.rooms.lock();
        let members = state.rooms.entry(room.to_string()).or_default();
        if let Some(member) = members.get(&self.conn) {
            return Ok(member.connected);
        }
        if self.joined.len() >= MAX_ROOMS_PER_SOCKET {
            if members.is_empty() {
                state.rooms.remove(room);
            }
            return Err(DropReason::Malformed);
        }
        let connected = !members.values().any(|m| m.connected);
        members.insert(self.conn, Member { connected });
        drop(state);
        self.joined.push(room.to_string());
        self.tell_member(room, Some(connected));
        Ok(connected)
    }

    /// Puts this socket in `room` as a connected member (inside the overlay).
    fn enter(&mut self, room: &str) -> Result<(), DropReason> {
        self.join(room)?;
        let mut state = self.rooms.lock();
        let member = state
            .rooms
            .get_mut(room)
            .and_then(|m| m.get_mut(&self.conn));
        if let Some(member) = member.filter(|m| !m.connected) {
            member.connected = true;
            drop(state);
            self.tell_member(room, Some(true));
        }
        Ok(())
    }

    /// `new`: the offer goes to the member remembered for its `tid`, or to a random
    /// connected member of the room other than the sender; with nobody to take it,
    /// the sender becomes connected and is told `connected`.
    fn offer(
        &mut self,
        room: &str,
        peer_id: Option<String>,
        tid: String,
        offer: &RawValue,
    ) -> Result<(), DropReason> {
        let now = Instant::now();
        let mut state = self.rooms.lock();
        state.expire(now);
        let members = state.rooms.get(room);
        let is_connected = |conn: &ConnId| {
            members
                .and_then(|m| m.get(conn))
                .is_some_and(|m| m.connected)
        };
        if let Some(known) = state.tids.get(&tid) {
            if is_connected(&self.conn) {
                return Ok(());
            }
            let dest = known.dest;
            drop(state);
            return self.send(dest, event("new_spray", offer));
        }
        let chosen = members.and_then(|m| {
            m.iter()
                .filter(|(conn, member)| **conn != self.conn && member.connected)
                .map(|(conn, _)| *conn)
                .choose(&mut rand::thread_rng())
        });
        let Some(dest) = chosen else {
            drop(state);
            self.enter(room)?;
            return self.reply(bare_event("connected"));
        };
        // The original compares peer ids as they are, absent ones included.
        if state.peer_ids.get(&dest).cloned().flatten() == peer_id {
            return Err(DropReason::NoReceiver);
        }
        state.remember(
            tid.clone(),
            Remembered {
                source: self.conn,
                dest,
                at: now,
            },
            self.rooms.max_tids,
        );
        drop(state);
        self.send_offer(dest, tid, event("new_spray", offer))
    }

    fn reply(&self, frame: bytestring::ByteString) -> Result<(), DropReason> {
        self.send(self.conn, frame)
    }

    fn send(&self, to: ConnId, frame: bytestring::ByteString) -> Result<(), DropReason> {
        self.router
            .relay(to, frame)
            .map_err(crate::adapters::undelivered)
    }

    /// The socket closed: it leaves its rooms.
    pub(crate) fn on_end(&self) {
        let rooms = self.joined.clone();
        self.rooms.leave(self.conn, &rooms);
        self.tell(RoomChange::Gone {
            conn: self.conn,
            rooms,
        });
    }
}

/// An offer's `tid`, as its raw JSON (a string and a number are different keys, as
/// in the original's `Map`).
fn tid_of(offer: &RawValue) -> Result<String, DropReason> {
    if !json::is_object(offer.get()) {
        return Err(DropReason::Malformed);
    }
    let offer: Offer<'_> = serde_json::from_str(offer.get()).map_err(|_| DropReason::Malformed)?;
    let tid = offer.tid.get();
    if tid == "null" || tid.len() > MAX_KEY_BYTES {
        return Err(DropReason::Malformed);
    }
    Ok(tid.to_string())
}

impl State {
    /// Forgets the `tid`s older than [`TID_TTL`].
    fn expire(&mut self, now: Instant) {
        while let Some((_, at)) = self.order.front() {
            if now.duration_since(*at) < TID_TTL {
                break;
            }
            let (tid, at) = self.order.pop_front().expect("front exists");
            self.forget(&tid, at);
        }
    }

    /// Remembers `tid`, forgetting the oldest beyond `max`.
    fn remember(&mut self, tid: String, remembered: Remembered, max: usize) {
        while self.tids.len() >= max {
            let Some((old, at)) = self.order.pop_front() else {
                break;
            };
            self.forget(&old, at);
        }
        self.order.push_back((tid.clone(), remembered.at));
        self.tids.insert(tid, remembered);
    }

    /// Forgets `tid` if it is still the entry remembered at `at`.
    fn forget(&mut self, tid: &str, at: Instant) {
        if self.tids.get(tid).is_some_and(|r| r.at == at) {
            self.tids.remove(tid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(at: Instant) -> Remembered {
        let conn = ConnId { node: 0, local: 1 };
        Remembered {
            source: conn,
            dest: conn,
            at,
        }
    }

    #[test]
    fn the_tid_memory_is_bounded_oldest_first() {
        let mut state = State::default();
        let now = Instant::now();
        for n in 0..5 {
            state.remember(format!("{n}"), remembered(now), 3);
        }
        let mut kept: Vec<_> = state.tids.keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["2", "3", "4"]);
    }

    #[test]
    fn tids_are_forgotten_after_five_minutes() {
        let mut state = State::default();
        let start = Instant::now();
        state.remember("\"a\"".into(), remembered(start), 10);
        state.expire(start + TID_TTL - Duration::from_secs(1));
        assert!(state.tids.contains_key("\"a\""));
        state.expire(start + TID_TTL);
        assert!(state.tids.is_empty() && state.order.is_empty());
    }
}
