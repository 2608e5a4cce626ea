//! The signal-fire 0.x protocol (COMPAT.md 2): plain JSON objects routed by peer id.
//!
//! A peer gets a server-chosen id in its first frame, `{"type":"id","peerId":ID}`. A
//! frame naming a connected peer in `receiverId` (or, when that is absent or `null`, in
//! `peerId`, the 0.1 form) reaches it with `senderId` stamped by the server; every other
//! field passes on byte for byte. signal-fire has no error frame: anything else is
//! dropped and counted, and, with `notify_unknown`, an unknown receiver is reported.

use super::json::{Field, Object};
use crate::core::conn::{ConnId, Outbox, Undelivered};
use crate::core::counters::{Counters, DropReason, Protocol};
use crate::core::ids::url_safe_id;
use crate::core::switch::Namespace;
use crate::http::AppState;
use crate::transport::ws::{self, Accepted, FrameHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use serde_json::json;
use std::sync::Arc;

/// A WebSocket upgrade on the signal-fire path (or any path of its own listener).
pub(crate) async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
) -> HttpResponse {
    let notify_unknown = app.hub.config().compat.signal_fire.notify_unknown;
    ws::accept(&req, body, &app, |conn| {
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
        conn.out
            .send(json!({"type": "id", "peerId": id}).to_string().into());
        Peer {
            peers,
            counters,
            out: conn.out.clone(),
            conn: conn.id,
            id,
            notify_unknown,
        }
    }

    fn drop_frame(&self, reason: DropReason) {
        self.counters.dropped(Protocol::SignalFire, reason);
    }

    fn route(&self, text: &str) -> Result<(), DropReason> {
        let mut frame = Object::parse(text).ok_or(DropReason::Malformed)?;
        let receiver = match frame.string("receiverId") {
            Field::Absent | Field::Empty if frame.string("peerId") != Field::Absent => {
                frame.string("peerId")
            }
            field => field,
        };
        let receiver = match receiver {
            Field::Text(id) => id,
            Field::WrongType => return Err(DropReason::Malformed),
            Field::Absent | Field::Empty => return Err(DropReason::NoReceiver),
        };
        frame.set_string("senderId", &self.id);
        match self.peers.send(&receiver, frame.encode()) {
            Ok(()) => {
                self.counters.relayed(Protocol::SignalFire);
                Ok(())
            }
            Err(Undelivered::Full) => Err(DropReason::ReceiverFull),
            Err(Undelivered::Gone) => {
                if self.notify_unknown {
                    let error = json!({"type": "error", "code": "unknown_receiver", "receiverId": receiver});
                    self.out.send(error.to_string().into());
                }
                Err(DropReason::UnknownReceiver)
            }
        }
    }
}

impl FrameHandler for Peer {
    const PROTOCOL: Protocol = Protocol::SignalFire;

    async fn on_text(&mut self, text: ByteString, limited: bool) {
        let routed = if limited {
            Err(DropReason::RateLimited)
        } else {
            self.route(&text)
        };
        if let Err(reason) = routed {
            self.drop_frame(reason);
        }
    }

    fn on_binary(&mut self, _limited: bool) {
        self.drop_frame(DropReason::Binary);
    }

    fn on_too_large(&mut self, _limit: usize) {}

    fn on_end(self) {
        self.peers.unregister(&self.id, self.conn);
    }
}
