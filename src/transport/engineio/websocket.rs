//! The WebSocket transport of a session: either the upgrade of a polling session
//! (`2probe` answered `3probe` here, a noop sent to the pending poll so the client can
//! pause it, then `5`, after which the WebSocket carries the session), or a session
//! that was a WebSocket from the start. Frames are read bounded ([`FrameReader`]) and
//! handed to the session task; the session's rules (rate, heartbeat, stalls) are kept
//! there, once. The WebSocket's end is the session's end, as in engine.io.

use super::body::{EngineFrames, Staged};
use super::packet::Packet;
use super::session::{Inbound, Session};
use crate::core::conn::outbox::{
    CLOSE_INVALID_DATA, CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_TOO_LARGE,
};
use crate::core::conn::Outgoing;
use crate::http::AppState;
use crate::transport::frames::{Inbound as Frame, Violation};
use crate::transport::upgrade::{Handover, Upgraded};
use crate::transport::ws::{self, Reader};
use actix_http::ResponseBuilder;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;
use tokio::sync::mpsc;

/// `transport=websocket&sid=…`: a polling session probing a WebSocket. Refused (400)
/// once the session is upgraded or while another WebSocket probes it.
pub(super) fn upgrade(
    req: &HttpRequest,
    app: &web::Data<AppState>,
    session: Arc<Session>,
) -> HttpResponse {
    let response = match crate::transport::upgrade::handshake(req) {
        Ok(response) => response,
        Err(refused) => return refused.into(),
    };
    if !session.start_probe() {
        return HttpResponse::BadRequest().json(super::EngineError::BadRequest.body());
    }
    start(app, session, response, true)
}

/// `transport=websocket` without a sid: the session was opened on this WebSocket.
pub(super) fn attach(
    app: &web::Data<AppState>,
    session: Arc<Session>,
    response: ResponseBuilder,
) -> HttpResponse {
    start(app, session, response, false)
}

fn start(
    app: &web::Data<AppState>,
    session: Arc<Session>,
    response: ResponseBuilder,
    probing: bool,
) -> HttpResponse {
    let limit = app.hub.config().limits.max_message_bytes;
    let tracker = app.tracker.clone();
    let start = move |upgraded: Upgraded| {
        let (staged, rx) = mpsc::unbounded_channel();
        let (mut frames, mut writer) = ws::split(upgraded, EngineFrames::new(rx), limit);
        let task = async move {
            let live = {
                let carried = std::pin::pin!(carry(&session, &mut frames, &staged, probing));
                writer.beside(carried).await
            };
            if live {
                // The WebSocket carried the session: its end is the session's.
                session.transport_closed();
            } else {
                session.end_probe();
            }
            drop(staged);
            ws::end(writer, frames).await;
        };
        actix_web::rt::spawn(tracker.track_future(task));
    };
    ws::handed_over(response, Handover::new(start))
}

/// Reads the WebSocket until it or the session ends; returns whether it carried the
/// session (false: a probe that never upgraded, the session still polls).
async fn carry(
    session: &Session,
    frames: &mut Reader,
    staged: &mpsc::UnboundedSender<Staged>,
    mut probing: bool,
) -> bool {
    let out = &session.out;
    if !probing {
        take_over(session, staged).await;
    }
    let mut closed = std::pin::pin!(out.closed());
    loop {
        let frame = tokio::select! {
            frame = frames.next() => frame,
            _ = &mut closed => {
                if probing {
                    // The session ended while this WebSocket probed: its own close.
                    let _ = staged.send(Staged::Frame(Outgoing::Close(CLOSE_NORMAL, "")));
                }
                return !probing;
            }
        };
        let packet = match frame {
            None => return !probing,
            Some(Err(violation)) => {
                refuse(session, staged, violation, probing).await;
                return !probing;
            }
            Some(Ok(Frame::Text(text))) => match Packet::parse(text) {
                Ok(packet) => packet,
                Err(_) => {
                    refuse(
                        session,
                        staged,
                        Violation::Protocol("not an Engine.IO packet".into()),
                        probing,
                    )
                    .await;
                    return !probing;
                }
            },
            Some(Ok(Frame::Binary)) => Packet::Binary,
            Some(Ok(Frame::Ping(payload))) => {
                if probing {
                    let _ = staged.send(Staged::Frame(Outgoing::Pong(payload)));
                } else {
                    out.pong(payload);
                }
                continue;
            }
            Some(Ok(Frame::Close(_))) => {
                if probing {
                    let _ = staged.send(Staged::Frame(Outgoing::Close(CLOSE_NORMAL, "")));
                }
                return !probing;
            }
            Some(Ok(Frame::Pong | Frame::Fragment)) => continue,
        };
        match packet {
            Packet::Ping(data) if probing && &*data == "probe" => {
                session.probe_answered();
                let _ = staged.send(Staged::Frame(Outgoing::Text("3probe".into())));
                // The client pauses polling before it upgrades: a pending poll must end.
                out.send("6".into());
            }
            Packet::Upgrade if probing => {
                take_over(session, staged).await;
                probing = false;
            }
            packet => {
                if !session.deliver(Inbound::Packets(vec![packet])).await {
                    return !probing;
                }
            }
        }
    }
}

/// The WebSocket carries the session from now on: it takes the outbox's reading end
/// (waiting for a poll still in progress to hand it back).
async fn take_over(session: &Session, staged: &mpsc::UnboundedSender<Staged>) {
    let outbox = session.outbound.clone().lock_owned().await;
    session.set_upgraded();
    let _ = staged.send(Staged::Drain(outbox));
}

/// A frame the WebSocket cannot survive: the code RFC 6455 gives it. Over the size
/// limit, the session ends as any connection does (1009); otherwise a probe ends alone.
async fn refuse(
    session: &Session,
    staged: &mpsc::UnboundedSender<Staged>,
    violation: Violation,
    probing: bool,
) {
    let (code, reason) = match violation {
        Violation::TooLarge => {
            session.deliver(Inbound::TooLarge).await;
            (CLOSE_TOO_LARGE, "message too large")
        }
        Violation::InvalidUtf8 => (CLOSE_INVALID_DATA, "text is not UTF-8"),
        Violation::Protocol(why) => {
            tracing::debug!(sid = %session.sid, "protocol violation: {why}");
            (CLOSE_PROTOCOL, "protocol error")
        }
    };
    if probing {
        let _ = staged.send(Staged::Frame(Outgoing::Close(code, reason)));
    } else {
        session.out.close(code, reason);
    }
}
