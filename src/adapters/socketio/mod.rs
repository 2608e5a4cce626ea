//! The Socket.IO v2 endpoint (COMPAT.md 1): Socket.IO packets over the Engine.IO
//! transport, carrying the webRTCWorkspaces events (1a, [`workspaces`]) and, behind
//! `[compat.entrance] enabled`, the foglet entrance events (1b, [`entrance`]), on the
//! same socket.

pub(crate) mod codec;
pub(crate) mod entrance;
mod packet;
mod workspaces;

use crate::core::conn::outbox::CLOSE_NORMAL;
use crate::core::conn::Outbox;
use crate::core::counters::{Counters, DropReason, Protocol};
use crate::http::AppState;
use crate::transport::engineio;
use crate::transport::ws::FrameHandler;
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use entrance::Entrant;
use packet::Packet;
use std::sync::Arc;
use workspaces::Attendance;

/// Every request to `[compat.socketio] path`: handshakes, polls, posts, WebSockets.
pub(crate) async fn endpoint(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
) -> HttpResponse {
    let state = app.clone();
    engineio::serve(req, body, app, move |conn| {
        // socket.io 2 connects the default namespace at once.
        conn.out.send(packet::CONNECTED.into());
        let entrant = state.hub.config().compat.entrance.enabled.then(|| {
            Entrant::new(
                state.entrance.clone(),
                state.router.clone(),
                state.counters.clone(),
                conn.id,
            )
        });
        Socket {
            attendance: Attendance::new(
                state.hub.clone(),
                state.ice.clone(),
                state.counters.clone(),
                conn.out.clone(),
                conn.id,
                conn.ip,
            ),
            entrant,
            out: conn.out.clone(),
            counters: state.counters.clone(),
        }
    })
    .await
}

/// Hands one Socket.IO packet to an entrance socket if it is one of its events (for the
/// fuzz target `socketio_payloads`).
pub(crate) fn to_entrant(entrant: &mut Entrant, text: &str, limited: bool) {
    if let Ok(Packet::Event { name, payload }) = Packet::parse(text) {
        if entrance::EVENTS.contains(&name.as_str()) {
            entrant.on_event(&name, payload.as_deref(), limited);
        }
    }
}

/// One Socket.IO socket of the default namespace.
struct Socket {
    attendance: Attendance,
    entrant: Option<Entrant>,
    out: Outbox,
    counters: Arc<Counters>,
}

impl FrameHandler for Socket {
    const PROTOCOL: Protocol = Protocol::SocketIo;

    async fn on_text(&mut self, text: ByteString, limited: bool) {
        let packet = match Packet::parse(&text) {
            Ok(packet) => packet,
            Err(packet::Malformed) => {
                return self
                    .counters
                    .dropped(Protocol::SocketIo, DropReason::Malformed)
            }
        };
        match packet {
            Packet::Event { name, payload } => {
                let payload = payload.as_deref();
                match &mut self.entrant {
                    Some(entrant) if entrance::EVENTS.contains(&name.as_str()) => {
                        entrant.on_event(&name, payload, limited)
                    }
                    _ if workspaces::EVENTS.contains(&name.as_str()) => {
                        // In a box: the events that wait (on the store, another node)
                        // would otherwise size the future of every session, idle or not.
                        Box::pin(self.attendance.on_event(&name, payload, limited)).await
                    }
                    // The original server ignores events it does not know.
                    _ => self
                        .counters
                        .dropped(Protocol::SocketIo, DropReason::Malformed),
                }
            }
            Packet::ConnectOther(nsp) => self.out.send(packet::invalid_namespace(&nsp)),
            Packet::Disconnect => self.out.close(CLOSE_NORMAL, ""),
            Packet::Binary => self.on_binary(limited),
            Packet::Ignored => {}
        }
    }

    fn on_binary(&mut self, _limited: bool) {
        self.counters
            .dropped(Protocol::SocketIo, DropReason::Binary);
    }

    fn on_too_large(&mut self, _limit: usize) {}

    fn on_end(self) {
        self.attendance.on_end();
        if let Some(entrant) = &self.entrant {
            entrant.on_end();
        }
    }

    fn member(&self) -> Option<(&str, &str)> {
        self.attendance.member()
    }
}
