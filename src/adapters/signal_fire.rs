//! The signal-fire 0.x protocol (COMPAT.md 2): plain JSON objects routed by peer id.
//!
//! A peer gets a server-chosen id in its first frame, `{"type":"id","peerId":ID}`. A
//! frame naming a connected peer in `receiverId` (or, when that is absent or `null`, in
//! `peerId`, the 0.1 form) reaches it with `senderId` stamped by the server; every other
//! field passes on byte for byte. signal-fire has no error frame: anything else is
//! dropped and counted, and, with `notify_unknown`, an unknown receiver is reported.

use super::json::{frame, Field, Object};
use super::{id_frame, route_or_drop, undelivered};
use crate::core::conn::{ConnId, Outbox, Undelivered};
use crate::core::counters::{Counters, DropReason, Protocol};
use crate::core::ids::url_safe_id;
use crate::core::switch::Namespace;
use crate::http::AppState;
use crate::transport::ws::{self, Accepted, FrameHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use std::sync::Arc;

/// A WebSocket upgrade on the signal-fire path (or any path of its own listener).
pub(crate) async fn upgrade(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let notify_unknown = app.hub.config().compat.signal_fire.notify_unknown;
    ws::accept(&req, &app, |conn| {
        Peer::open(
            app.switch.signal_fire.clone(),
            app.counters.clone(),
            conn,
            notify_unknown,
        )
    })
}

pub(super) struct Peer {
    peers: Arc<Namespace>,
    counters: Arc<Counters>,
    out: Outbox,
    conn: ConnId,
    id: String,
    notify_unknown: bool,
}

impl Peer {
    pub(super) fn open(
        peers: Arc<Namespace>,
        counters: Arc<Counters>,
        conn: &Accepted,
        notify_unknown: bool,
    ) -> Peer {
        let id = loop {
            let id = url_safe_id();
            if peers.register(&id, conn.id).is_ok() {
                break id;
            }
        };
        conn.out.send(id_frame(&id));
        Peer {
            peers,
            counters,
            out: conn.out.clone(),
            conn: conn.id,
            id,
            notify_unknown,
        }
    }

    fn route(&self, text: &str) -> Result<(), DropReason> {
        let mut relayed = Object::parse(text).ok_or(DropReason::Malformed)?;
        let receiver = match relayed.string("receiverId") {
            Field::Absent | Field::Null => relayed.string("peerId"),
            field => field,
        };
        let receiver = match receiver {
            Field::Text(id) if !id.is_empty() => id,
            Field::WrongType => return Err(DropReason::Malformed),
            Field::Absent | Field::Null | Field::Text(_) => return Err(DropReason::NoReceiver),
        };
        relayed.set_string("senderId", &self.id);
        let sent = self.peers.send(&receiver, relayed.encode());
        if sent == Err(Undelivered::Gone) && self.notify_unknown {
            self.out.send(frame([
                ("type", "error".into()),
                ("code", "unknown_receiver".into()),
                ("receiverId", receiver.into()),
            ]));
        }
        sent.map_err(undelivered)
    }
}

impl FrameHandler for Peer {
    const PROTOCOL: Protocol = Protocol::SignalFire;

    async fn on_text(&mut self, text: ByteString, limited: bool) {
        route_or_drop(&self.counters, Self::PROTOCOL, limited, text.len(), || {
            self.route(&text)
        });
    }

    fn on_binary(&mut self, _limited: bool) {
        self.counters.dropped(Self::PROTOCOL, DropReason::Binary);
    }

    fn on_too_large(&mut self, _limit: usize) {}

    fn on_end(self) {
        self.peers.unregister(&self.id, self.conn);
    }
}
