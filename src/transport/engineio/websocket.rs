//! A session's WebSocket: its frames read as Engine.IO packets, for a session that was a
//! WebSocket from the start ([`super::direct`]) and for the upgrade of a polling
//! session, served here: `2probe` answered `3probe`, a noop sent to the pending poll so
//! the client can pause it, then `5`, after which the WebSocket carries the session.
//! Frames are read bounded ([`crate::transport::frames::FrameReader`]) and handed to the
//! polling session's task, which keeps the session's rules (rate, heartbeat, stalls).
//! The WebSocket's end is the session's end, as in engine.io.

use super::body::{ProbeFrames, Staged};
use super::packet::Packet;
use super::session::{Inbound, Session};
use super::Entry;
use crate::core::conn::outbox::{
    CLOSE_INVALID_DATA, CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_TOO_LARGE,
};
use crate::core::conn::Outgoing;
use crate::http::AppState;
use crate::transport::frames::{Inbound as Frame, Violation};
use crate::transport::runtime;
use crate::transport::upgrade::{Handover, Upgraded};
use crate::transport::ws::{self, Reader};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a WebSocket frame is to an Engine.IO session.
pub(super) enum Read {
    Packet(Packet),
    /// A WebSocket ping, answered with its payload.
    Ping(Bytes),
    /// Nothing to act on: a pong, or a fragment of a message still incomplete.
    Nothing,
    /// The client sent its close frame.
    Closed,
    /// The client is gone.
    Gone,
    /// A frame the WebSocket cannot survive.
    Refused(Violation),
}

/// Reads one frame (what [`Reader::next`] returned) as Engine.IO sees it.
pub(super) fn read(frame: Option<Result<Frame, Violation>>) -> Read {
    match frame {
        None => Read::Gone,
        Some(Err(violation)) => Read::Refused(violation),
        Some(Ok(Frame::Text(text))) => match Packet::parse(text) {
            Ok(packet) => Read::Packet(packet),
            Err(_) => Read::Refused(Violation::Protocol("not an Engine.IO packet".into())),
        },
        Some(Ok(Frame::Binary)) => Read::Packet(Packet::Binary),
        Some(Ok(Frame::Ping(payload))) => Read::Ping(payload),
        Some(Ok(Frame::Close(_))) => Read::Closed,
        Some(Ok(Frame::Pong | Frame::Fragment)) => Read::Nothing,
    }
}

/// How the WebSocket of session `sid` closes on a frame it cannot survive: the code
/// RFC 6455 gives it, the close's reason, and the reason the session's end is logged
/// with (a WebSocket connection's).
pub(super) fn refusal(violation: Violation, sid: &str) -> (u16, &'static str, &'static str) {
    match violation {
        Violation::TooLarge => (CLOSE_TOO_LARGE, "message too large", "message too large"),
        Violation::InvalidUtf8 => (CLOSE_INVALID_DATA, "text is not UTF-8", "invalid UTF-8"),
        Violation::Protocol(why) => {
            tracing::debug!(sid = %sid, "protocol violation: {why}");
            (CLOSE_PROTOCOL, "protocol error", "protocol error")
        }
    }
}

/// `transport=websocket&sid=…`: a polling session probing a WebSocket. Refused (400)
/// once the session is upgraded (or was a WebSocket from the start) or while another
/// WebSocket probes it.
pub(super) fn upgrade(req: &HttpRequest, app: &web::Data<AppState>, entry: Entry) -> HttpResponse {
    let response = match crate::transport::upgrade::handshake(req) {
        Ok(response) => response,
        Err(refused) => return refused.into(),
    };
    let session = match entry {
        Entry::Polling(session) if session.start_probe() => session,
        _ => return HttpResponse::BadRequest().json(super::EngineError::BadRequest.body()),
    };
    let limit = app.hub.config().limits.max_message_bytes;
    let tracker = app.tracker.clone();
    let start = move |upgraded: Upgraded| {
        runtime::spawn_upgraded(&tracker, upgraded, move |upgraded| {
            probe(session, upgraded, limit)
        });
    };
    ws::handed_over(response, Handover::new(start))
}

/// The probe's task: the WebSocket `upgraded`, which carries `session` once probed.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
fn probe(
    session: Arc<Session>,
    upgraded: Upgraded,
    limit: usize,
) -> impl Future<Output = ()> + Send {
    let (staged, rx) = mpsc::unbounded_channel();
    let (mut frames, mut writer) = ws::split(upgraded, ProbeFrames::new(rx), limit);
    async move {
        let carried = {
            let carrying = std::pin::pin!(carry(&session, &mut frames, &staged));
            writer.beside(carrying).await
        };
        if carried {
            // The WebSocket carried the session: its end is the session's.
            session.transport_closed();
        } else {
            session.end_probe();
        }
        drop(staged);
        ws::end(writer, frames).await;
    }
}

/// Reads the WebSocket until it or the session ends; returns whether it carried the
/// session (false: a probe that never upgraded, the session still polls).
async fn carry(
    session: &Session,
    frames: &mut Reader,
    staged: &mpsc::UnboundedSender<Staged>,
) -> bool {
    let out = &session.out;
    let mut probing = true;
    let stage = |item| {
        let _ = staged.send(Staged::Frame(item));
    };
    let mut closed = std::pin::pin!(out.closed());
    loop {
        let frame = tokio::select! {
            frame = frames.next() => frame,
            _ = &mut closed => {
                if probing {
                    // The session ended while this WebSocket probed: its own close.
                    stage(Outgoing::Close(CLOSE_NORMAL, ""));
                }
                return !probing;
            }
        };
        let packet = match read(frame) {
            Read::Packet(packet) => packet,
            Read::Ping(payload) if probing => {
                stage(Outgoing::Pong(payload));
                continue;
            }
            Read::Ping(payload) => {
                out.pong(payload);
                continue;
            }
            Read::Nothing => continue,
            Read::Closed if probing => {
                stage(Outgoing::Close(CLOSE_NORMAL, ""));
                return false;
            }
            Read::Closed | Read::Gone => return !probing,
            Read::Refused(violation) => {
                refuse(session, staged, violation, probing).await;
                return !probing;
            }
        };
        match packet {
            Packet::Ping(data) if probing && &*data == "probe" => {
                session.probe_answered();
                stage(Outgoing::Text("3probe".into()));
                // The client pauses polling before it upgrades: a pending poll must end.
                out.send("6".into());
            }
            Packet::Upgrade if probing => {
                // The outbox's reading end, once a poll still in progress hands it back.
                if let Some(outbox) = session.upgrade().await {
                    let _ = staged.send(Staged::Drain(outbox));
                }
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

/// A frame the WebSocket cannot survive. Over the size limit, the session ends as any
/// connection does (1009); otherwise a probe ends alone.
async fn refuse(
    session: &Session,
    staged: &mpsc::UnboundedSender<Staged>,
    violation: Violation,
    probing: bool,
) {
    if violation == Violation::TooLarge {
        session.deliver(Inbound::TooLarge).await;
    }
    let (code, reason, _) = refusal(violation, &session.sid);
    if probing {
        let _ = staged.send(Staged::Frame(Outgoing::Close(code, reason)));
    } else {
        session.out.close(code, reason);
    }
}
