//! Peero peer discovery (COMPAT.md 4): the server keeps the list of registered peers,
//! passes offers to everyone and answers and trickled candidates to one.
//!
//! A peer gets `{"type":"id","peerId":UUID}` on connect and joins the list with
//! `{"type":"register"}`. Frames that are not objects with a known `type` are answered
//! `{"type":"error","code":"bad_request"}`; a target that is not registered,
//! `{"type":"error","code":"unknown_peer","peerId":ID}`. A registered peer that leaves,
//! or whose queue is too full to take a frame (it is closed 1008), is announced to the
//! others as `{"type":"remove","peerId":ID}`.

use super::id_frame;
use super::json::{frame, Field, Object};
use crate::core::conn::outbox::CLOSE_POLICY;
use crate::core::conn::{ConnId, Outbox, Undelivered};
use crate::core::counters::{Counters, DropReason, Protocol};
use crate::core::ids::uuid_v4;
use crate::core::switch::Namespace;
use crate::http::AppState;
use crate::transport::ws::{self, Accepted, FrameHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// A WebSocket upgrade on the Peero path (or any path of its own listener).
pub(crate) async fn upgrade(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    ws::accept(&req, &app, |conn| {
        Peer::open(app.switch.peero.clone(), app.counters.clone(), conn)
    })
}

pub(super) struct Peer {
    peers: Arc<Namespace>,
    counters: Arc<Counters>,
    out: Outbox,
    conn: ConnId,
    id: String,
    registered: bool,
}

/// A frame relayed from `peerId`, the sender.
#[derive(Serialize)]
struct Relayed<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "peerId")]
    peer_id: &'a str,
    signal: &'a RawValue,
}

/// Why a frame was refused, as the sender is told.
enum Refusal {
    BadRequest,
    UnknownPeer(String),
    /// Over the rate: dropped and counted, as relays are in protocols without errors.
    Dropped(DropReason),
}

const SLOW: &str = "outbound queue full: the client is not reading";

impl Peer {
    pub(super) fn open(peers: Arc<Namespace>, counters: Arc<Counters>, conn: &Accepted) -> Peer {
        let id = uuid_v4();
        conn.out.send(id_frame(&id));
        Peer {
            peers,
            counters,
            out: conn.out.clone(),
            conn: conn.id,
            id,
            registered: false,
        }
    }

    fn handle(&mut self, text: &str) -> Result<(), Refusal> {
        let frame = Object::parse(text).ok_or(Refusal::BadRequest)?;
        let Field::Text(kind) = frame.string("type") else {
            return Err(Refusal::BadRequest);
        };
        match kind.as_str() {
            "register" => {
                self.register();
                Ok(())
            }
            "offer" => {
                let signal = frame.raw("signal").ok_or(Refusal::BadRequest)?;
                self.offer(signal);
                Ok(())
            }
            "answer" | "signal" => {
                let signal = frame.raw("signal").ok_or(Refusal::BadRequest)?;
                let Field::Text(target) = frame.string("peerId") else {
                    return Err(Refusal::BadRequest);
                };
                self.relay(&kind, &target, signal)
            }
            _ => Err(Refusal::BadRequest),
        }
    }

    /// Joins the list (again, harmlessly), gets the others' ids, and is announced.
    fn register(&mut self) {
        if !self.registered {
            // Ids are random v4 UUIDs: a collision is not going to happen, and would
            // only leave this peer unlisted.
            self.registered = self.peers.register(&self.id, self.conn).is_ok();
        }
        let peers = self.peers.list(&self.id);
        self.out
            .send(frame([("type", "peers".into()), ("peers", peers.into())]));
        let announce = frame([
            ("type", "announce".into()),
            ("peerId", self.id.as_str().into()),
        ]);
        self.broadcast(&announce);
    }

    fn offer(&self, signal: &RawValue) {
        let frame = encode(&Relayed {
            kind: "offer",
            peer_id: &self.id,
            signal,
        });
        self.broadcast(&frame);
    }

    fn relay(&self, kind: &str, target: &str, signal: &RawValue) -> Result<(), Refusal> {
        let frame = encode(&Relayed {
            kind,
            peer_id: &self.id,
            signal,
        });
        match self.peers.send(target, frame) {
            Ok(()) => {
                self.counters.relayed(Protocol::Peero, signal.get().len());
                Ok(())
            }
            Err(Undelivered::Gone) => Err(Refusal::UnknownPeer(target.to_string())),
            Err(Undelivered::Full) => {
                if let Some(conn) = self.peers.lookup(target) {
                    self.peers.close(conn, CLOSE_POLICY, SLOW);
                }
                Err(Refusal::Dropped(DropReason::ReceiverFull))
            }
        }
    }

    /// Sends `frame` to every other registered peer; one too slow to take it is closed,
    /// and its end announces its removal.
    fn broadcast(&self, frame: &ByteString) {
        for slow in self.peers.broadcast(&self.id, frame) {
            self.counters
                .dropped(Protocol::Peero, DropReason::ReceiverFull);
            self.peers.close(slow, CLOSE_POLICY, SLOW);
        }
    }

    fn refuse(&self, refusal: Refusal) {
        let error = match refusal {
            Refusal::BadRequest => {
                frame([("type", "error".into()), ("code", "bad_request".into())])
            }
            Refusal::UnknownPeer(id) => frame([
                ("type", "error".into()),
                ("code", "unknown_peer".into()),
                ("peerId", id.into()),
            ]),
            Refusal::Dropped(reason) => {
                return self.counters.dropped(Protocol::Peero, reason);
            }
        };
        self.out.send(error);
    }
}

fn encode(frame: &Relayed<'_>) -> ByteString {
    serde_json::to_string(frame)
        .expect("strings and raw values always encode")
        .into()
}

impl FrameHandler for Peer {
    const PROTOCOL: Protocol = Protocol::Peero;

    async fn on_text(&mut self, text: ByteString, limited: bool) {
        let handled = if limited {
            Err(Refusal::Dropped(DropReason::RateLimited))
        } else {
            self.handle(&text)
        };
        if let Err(refusal) = handled {
            self.refuse(refusal);
        }
    }

    fn on_binary(&mut self, limited: bool) {
        if limited {
            return self
                .counters
                .dropped(Protocol::Peero, DropReason::RateLimited);
        }
        self.refuse(Refusal::BadRequest);
    }

    fn on_too_large(&mut self, _limit: usize) {}

    fn on_end(self) {
        if self.registered && self.peers.unregister(&self.id, self.conn) {
            let remove = frame([
                ("type", "remove".into()),
                ("peerId", self.id.as_str().into()),
            ]);
            self.broadcast(&remove);
        }
    }
}
