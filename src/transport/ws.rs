//! `GET /ws`: one WebSocket connection, and every rule a connection is held to.
//!
//! The connection task reads frames ([`FrameReader`]: sizes bounded from each header),
//! counts every frame of every opcode against the connection's rate, runs the session,
//! pings, watches the outbox for stalls, and stops reading as soon as anyone closes the
//! connection. Outbound frames leave through the response body ([`OutboundBody`]), as
//! fast as the peer reads. Every close, by either side, ends the TCP connection within
//! [`CLOSE_BOUND`]: a peer that does not read its close frame is cut off.

use super::body::OutboundBody;
use super::frames::{FrameReader, Inbound, Violation};
use super::socket::SocketHandle;
use crate::auth::limits::{RequestLimiter, Verdict};
use crate::error::Error;
use crate::http::AppState;
use crate::hub::outbox::{
    CLOSE_INVALID_DATA, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_PROTOCOL, CLOSE_TOO_LARGE,
};
use crate::hub::Outbox;
use crate::session::Session;
use actix_web::body::{BodyStream, MessageBody};
use actix_web::{web, HttpRequest, HttpResponse};
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long a closed connection may take to end its TCP connection (PROTOCOL.md 1.1).
pub const CLOSE_BOUND: Duration = Duration::from_secs(2);

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    if app.stop.is_cancelled() {
        return Ok(HttpResponse::ServiceUnavailable().body("shutting down"));
    }
    let mut response = match actix_http::ws::handshake(req.head()) {
        Ok(response) => response,
        // Not a WebSocket upgrade: the status RFC 6455 §4.2.1 calls for.
        Err(refused) => return Ok(actix_http::Response::from(refused).into()),
    };
    let config = app.hub.config();
    let limits = &config.limits;
    let (out, rx) = Outbox::new(
        limits.max_outbound_bytes,
        Duration::from_secs(limits.stall_secs),
    );
    let conn = Conn {
        ip: crate::http::client_addr::client_addr(&req, &config.server),
        frames: FrameReader::new(body.into_inner(), limits.max_message_bytes),
        socket: req.conn_data::<Arc<SocketHandle>>().map(Arc::downgrade),
        out,
    };
    let app = app.into_inner();
    actix_web::rt::spawn(app.tracker.track_future(connection(app.clone(), conn)));
    let body = BodyStream::new(OutboundBody::new(rx)).boxed();
    Ok(response.message_body(body)?.into())
}

struct Conn {
    ip: IpAddr,
    frames: FrameReader<actix_web::dev::Payload>,
    socket: Option<Weak<SocketHandle>>,
    out: Outbox,
}

async fn connection(app: Arc<AppState>, conn: Conn) {
    let Conn {
        ip,
        mut frames,
        socket,
        out,
    } = conn;
    let id = out.id();
    let registered = app.live.add(&out);
    tracing::info!(conn = id, %ip, "connection opened");
    let mut session = Session::new(app.hub.clone(), app.ice.clone(), out.clone(), ip);
    let reason = serve(&app, &mut frames, &mut session, &out).await;
    session.end();
    out.close(CLOSE_NORMAL, "");
    drop(registered);
    // `frames` stays alive, unread, until the end: actix-http then stops reading the
    // socket once its small buffer is full, instead of reading and discarding.
    end_tcp(socket).await;
    drop(frames);
    tracing::info!(conn = id, reason, "connection closed");
}

/// Runs the connection until it closes; returns why.
async fn serve(
    app: &AppState,
    frames: &mut FrameReader<actix_web::dev::Payload>,
    session: &mut Session,
    out: &Outbox,
) -> &'static str {
    let config = app.hub.config();
    let mut limiter = RequestLimiter::new(&config.limits, Instant::now());
    let mut heartbeat =
        tokio::time::interval(Duration::from_secs(config.server.ping_interval_secs));
    let timeout = Duration::from_secs(config.server.ping_timeout_secs);
    let mut last_heard = Instant::now();
    let mut stall_at: Option<Instant> = None;
    loop {
        // Whoever closed the socket (kick, replacement, overflow, flood, shutdown), stop
        // reading before handling one more frame.
        if out.is_closing() {
            return "closed by server";
        }
        let stalled = async {
            match stall_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = frames.next() => {
                let inbound = match frame {
                    None => return "client went away",
                    Some(Err(violation)) => return refuse(session, out, violation),
                    Some(Ok(inbound)) => inbound,
                };
                last_heard = Instant::now();
                let verdict = limiter.check(last_heard);
                if verdict == Verdict::Close {
                    tracing::warn!(conn = out.id(), "closing a flooding connection");
                    out.close(CLOSE_POLICY, "frame rate far over the limit");
                    return "flood";
                }
                if let Err(reason) = on_frame(inbound, verdict == Verdict::Limited, session, out).await {
                    return reason;
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > timeout {
                    out.close(CLOSE_NORMAL, "no answer to pings");
                    return "ping timeout";
                }
                out.ping();
            }
            _ = stalled => stall_at = out.stall_check(),
            _ = out.busy() => stall_at = out.stall_check(),
            _ = out.closed() => {}
        }
    }
}

/// Handles one inbound frame; `Err` says why the connection must stop. A frame over
/// the rate (`limited`) is answered `rate_limited` if it is a request, and otherwise
/// ignored (a ping over the rate gets no pong).
async fn on_frame(
    frame: Inbound,
    limited: bool,
    session: &mut Session,
    out: &Outbox,
) -> Result<(), &'static str> {
    match frame {
        Inbound::Text(text) => session.on_text(&text, limited).await,
        Inbound::Binary => session.on_binary(limited),
        Inbound::Ping(payload) if !limited => out.pong(payload),
        Inbound::Ping(_) | Inbound::Pong | Inbound::Fragment => {}
        Inbound::Close => {
            out.close(CLOSE_NORMAL, "");
            return Err("closed by client");
        }
    }
    Ok(())
}

/// A frame the connection cannot survive: the alert the protocol gives it, if any,
/// then the close code RFC 6455 gives it.
fn refuse(session: &Session, out: &Outbox, violation: Violation) -> &'static str {
    match violation {
        Violation::TooLarge => {
            let limit = session.max_message_bytes();
            session.alert(
                None,
                &Error::TooLarge(format!("messages are at most {limit} bytes")),
            );
            out.close(CLOSE_TOO_LARGE, "message too large");
            "message too large"
        }
        Violation::InvalidUtf8 => {
            out.close(CLOSE_INVALID_DATA, "text is not UTF-8");
            "invalid UTF-8"
        }
        Violation::Protocol(why) => {
            tracing::debug!(conn = out.id(), "protocol violation: {why}");
            out.close(CLOSE_PROTOCOL, "protocol error");
            "protocol error"
        }
    }
}

/// Waits for actix-http to finish the connection once its close frame is queued: at
/// once after a close handshake, or after the queued frames have been written. A peer
/// that does not read them within [`CLOSE_BOUND`] has its connection aborted.
async fn end_tcp(socket: Option<Weak<SocketHandle>>) {
    let Some(gone) = socket.as_ref().and_then(Weak::upgrade).map(|s| s.gone()) else {
        return;
    };
    if tokio::time::timeout(CLOSE_BOUND, gone.cancelled())
        .await
        .is_err()
    {
        if let Some(socket) = socket.and_then(|s| s.upgrade()) {
            tracing::info!("aborting a connection whose peer does not read");
            socket.abort();
        }
    }
}
