//! A session that was a WebSocket from the start (`transport=websocket` without a
//! `sid`): one task, as a native WebSocket connection is. It reads frames, parses them
//! into packets and hands them to the protocol's handler itself, under the session's
//! rules ([`super::rules`]), while the socket's writer beside it writes the outbox, one
//! message per packet. No channel, no lock: such a session has one transport for
//! life, so nothing needs to reach it but its outbox (listed under its `sid`, it only
//! refuses the requests that name it). Its end is the WebSocket's.

use super::body::Packets;
use super::lifecycle::{self, Carried, Opened};
use super::packet::Packet;
use super::rules::{self, Arrival, Arrivals};
use super::websocket::{read, refusal, Read};
use super::Entry;
use crate::core::conn::{Outbox, OutboxReceiver};
use crate::core::counters::Transport;
use crate::http::AppState;
use crate::transport::frames::Violation;
use crate::transport::runtime;
use crate::transport::upgrade::{Handover, Upgraded};
use crate::transport::ws::{self, Accepted, FrameHandler, Reader};
use actix_http::ResponseBuilder;
use actix_web::{web, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

/// Opens a session on the WebSocket whose handshake `response` answers: its open packet
/// and whatever the handler that `protocol` builds queues first are its first frames.
/// 503 at `max_sessions`.
pub(super) fn open<H, F>(
    req: &HttpRequest,
    app: &web::Data<AppState>,
    response: ResponseBuilder,
    protocol: F,
) -> HttpResponse
where
    H: FrameHandler + 'static,
    F: FnOnce(&Accepted) -> H,
{
    let app = app.clone().into_inner();
    let (sid, out, rx) = lifecycle::outbox(&app);
    let Some(opened) = lifecycle::open(req, &app, (sid, out), Entry::WebSocket, protocol) else {
        return HttpResponse::ServiceUnavailable().body("too many sessions");
    };
    let tracker = app.tracker.clone();
    let start = move |upgraded: Upgraded| {
        runtime::spawn_upgraded(&tracker, upgraded, move |upgraded| {
            connection(app, opened, rx, upgraded)
        });
    };
    ws::handed_over(response, Handover::new(start))
}

/// The session's task. Its future is what an idle session costs, so it is kept small:
/// an async block, whose captures stay where they are (an async fn would move its
/// arguments into a second copy, kept alongside the first), and the serving future
/// pinned in a scope of its own, whose room the end's futures reuse.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
fn connection<H: FrameHandler>(
    app: Arc<AppState>,
    mut opened: Opened<H>,
    rx: OutboxReceiver,
    upgraded: Upgraded,
) -> impl Future<Output = ()> {
    async move {
        let limit = app.hub.config().limits.max_message_bytes;
        let (mut frames, mut writer) = ws::split(upgraded, Packets(rx), limit);
        let gauge = app.counters.connection(H::PROTOCOL, Transport::WebSocket);
        opened.log_opened();
        let reason = {
            let (handler, out, sid) = opened.serving();
            let mut arrivals = Frames {
                frames: &mut frames,
                out,
                sid,
            };
            let serving = pin!(rules::serve(&app, &mut arrivals, handler, out));
            writer.beside(serving).await
        };
        opened.end(&app, Carried::WebSocket(gauge), reason).await;
        ws::end(writer, frames).await;
    }
}

/// The session's packets, read from its WebSocket as the session asks for them.
struct Frames<'a> {
    frames: &'a mut Reader,
    out: &'a Outbox,
    sid: &'a str,
}

impl Arrivals for Frames<'_> {
    type Packets = Option<Packet>;

    async fn next(&mut self) -> Arrival<Option<Packet>> {
        match read(self.frames.next().await) {
            Read::Packet(packet) => Arrival::Packets(Some(packet)),
            Read::Ping(payload) => {
                self.out.pong(payload);
                Arrival::Nothing
            }
            Read::Nothing => Arrival::Nothing,
            Read::Closed | Read::Gone => Arrival::Closed,
            Read::Refused(Violation::TooLarge) => Arrival::TooLarge,
            Read::Refused(violation) => {
                let (code, reason, logged) = refusal(violation, self.sid);
                self.out.close(code, reason);
                Arrival::Ended(logged)
            }
        }
    }
}
