//! `GET /ws`: one WebSocket connection, as two tasks.
//!
//! The reader runs the session: inbound frames, the heartbeat, server shutdown, and
//! the close signal of its outbox, in one `select!`. The writer drains the outbox into
//! the socket; it is the only one that can block on a slow client, and it gives up on
//! one within `FLUSH_LIMIT` once the connection is closing.

use super::frames::{Assembled, Assembler};
use super::AppState;
use crate::error::Error;
use crate::hub::outbox::{CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_TOO_LARGE};
use crate::hub::{Outbox, OutboxReceiver, Outgoing};
use crate::session::Session;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, ProtocolError};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a closing connection may take to flush what is queued, close frame included.
const FLUSH_LIMIT: Duration = Duration::from_secs(3);

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    if app.stop.is_cancelled() {
        return Ok(HttpResponse::ServiceUnavailable().body("shutting down"));
    }
    let ip = super::client_addr::client_addr(&req, &app.hub.config().server);
    let (response, socket, stream) = actix_ws::handle(&req, body)?;
    let limit = app.hub.config().limits.max_message_bytes;
    // The codec rejects an oversized frame from its header, before reading the payload.
    let stream = stream.max_frame_size(limit);
    let app = app.into_inner();
    actix_web::rt::spawn(
        app.tracker
            .track_future(connection(app.clone(), socket, stream, ip)),
    );
    Ok(response)
}

async fn connection(
    app: std::sync::Arc<AppState>,
    socket: actix_ws::Session,
    mut stream: MessageStream,
    ip: IpAddr,
) {
    let config = app.hub.config();
    let (out, rx) = Outbox::new(config.limits.max_outbound_bytes);
    let conn = out.id();
    tracing::info!(conn, %ip, "connection opened");
    let writer = actix_web::rt::spawn(write_loop(socket, rx, out.clone()));
    let mut session = Session::new(app.hub.clone(), app.ice.clone(), out.clone(), ip);
    let limit = config.limits.max_message_bytes;
    let mut assembler = Assembler::new(limit);
    let mut heartbeat =
        tokio::time::interval(Duration::from_secs(config.server.ping_interval_secs));
    let timeout = Duration::from_secs(config.server.ping_timeout_secs);
    let mut last_heard = Instant::now();

    let reason = loop {
        // Whoever closed the socket (kick, replacement, overflow, flood), stop reading
        // before handling one more frame.
        if out.is_closing() {
            break "closed by server";
        }
        tokio::select! {
            frame = stream.recv() => {
                let frame = match frame {
                    None => break "client went away",
                    Some(Err(ProtocolError::Overflow)) => break too_large(&session, &out, limit),
                    Some(Err(_)) => {
                        out.close(CloseCode::Protocol.into(), "protocol error");
                        break "protocol error";
                    }
                    Some(Ok(frame)) => frame,
                };
                last_heard = Instant::now();
                if let Err(reason) = on_frame(frame, &mut session, &mut assembler, &out, limit).await {
                    break reason;
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > timeout {
                    out.close(CLOSE_NORMAL, "no answer to pings");
                    break "ping timeout";
                }
                out.ping();
            }
            _ = app.stop.cancelled() => {
                out.close(CLOSE_GOING_AWAY, "server shutting down");
                break "server shutting down";
            }
            _ = out.closed() => {}
        }
    };
    session.end();
    out.close(CLOSE_NORMAL, "");
    let _ = writer.await;
    tracing::info!(conn, reason, "connection closed");
}

/// Handles one inbound frame; `Err` says why the connection must stop.
async fn on_frame(
    frame: Message,
    session: &mut Session,
    assembler: &mut Assembler,
    out: &Outbox,
    limit: usize,
) -> Result<(), &'static str> {
    match frame {
        Message::Text(text) => session.on_text(&text).await,
        Message::Binary(_) => session.on_binary(),
        Message::Continuation(item) => match assembler.push(item) {
            Assembled::Pending => {}
            Assembled::Text(text) => session.on_text(&text).await,
            Assembled::Binary => session.on_binary(),
            Assembled::Invalid => session.alert(None, &Error::bad_request("text is not UTF-8")),
            Assembled::TooLarge => return Err(too_large(session, out, limit)),
        },
        Message::Ping(bytes) => out.pong(bytes),
        Message::Pong(_) | Message::Nop => {}
        Message::Close(_) => {
            out.close(CLOSE_NORMAL, "");
            return Err("closed by client");
        }
    }
    Ok(())
}

/// An oversized frame or message: `too_large`, then close 1009.
fn too_large(session: &Session, out: &Outbox, limit: usize) -> &'static str {
    session.alert(
        None,
        &Error::TooLarge(format!("frames are at most {limit} bytes")),
    );
    out.close(CLOSE_TOO_LARGE, "frame too large");
    "frame too large"
}

async fn write_loop(mut socket: actix_ws::Session, mut rx: OutboxReceiver, out: Outbox) {
    while let Some(item) = rx.recv().await {
        let sent = match item {
            Outgoing::Text(_) if rx.overflowed() => continue,
            Outgoing::Text(text) => write(&out, socket.text(text)).await,
            Outgoing::Ping => write(&out, socket.ping(b"")).await,
            Outgoing::Pong(bytes) => write(&out, socket.pong(&bytes)).await,
            Outgoing::Close(code, reason) => {
                let reason = CloseReason {
                    code: CloseCode::from(code),
                    description: (!reason.is_empty()).then(|| reason.to_string()),
                };
                let _ = tokio::time::timeout(FLUSH_LIMIT, socket.close(Some(reason))).await;
                return;
            }
        };
        if !sent {
            // The socket is gone; make the reader notice if it has not yet.
            out.close(CLOSE_NORMAL, "");
            return;
        }
    }
}

/// One write, bounded in time once the connection is closing: a client that stopped
/// reading must not keep this task (and its memory) alive.
async fn write<F>(out: &Outbox, send: F) -> bool
where
    F: std::future::Future<Output = Result<(), actix_ws::Closed>>,
{
    tokio::pin!(send);
    tokio::select! {
        biased;
        result = &mut send => result.is_ok(),
        _ = out.closed() => matches!(tokio::time::timeout(FLUSH_LIMIT, &mut send).await, Ok(Ok(()))),
    }
}
