//! The one WebSocket transport: every WebSocket protocol runs on this loop, and every
//! rule a connection is held to lives here, once (PROTOCOL.md 1.1, COMPAT.md's common
//! rules).
//!
//! The connection task owns the socket once the handshake is written
//! ([`super::upgrade`]). It reads frames ([`FrameReader`]: sizes bounded from each
//! header), counts every frame of every opcode against the connection's rate, hands
//! whole messages to the protocol's [`FrameHandler`], pings, watches the outbox for
//! stalls, and stops reading as soon as anyone closes the connection. Beside that, it
//! writes the outbox ([`Writer`]) as fast as the peer reads. Every close, by either side,
//! ends the TCP connection within [`CLOSE_BOUND`]: a peer that does not read its close
//! frame is cut off.

use super::frames::{FrameReader, Inbound, Violation};
use super::upgrade::{Handover, Upgraded};
use super::writer::Writer;
use crate::auth::limits::{RequestLimiter, Verdict};
use crate::core::conn::outbox::{
    CLOSE_GOING_AWAY, CLOSE_INVALID_DATA, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_PROTOCOL,
    CLOSE_TOO_LARGE,
};
use crate::core::conn::{ConnId, Outbox, OutboxReceiver};
use crate::core::counters::{Counters, PolicyClose, Protocol, Transport};
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::writer::CLOSE_BOUND;

/// What a WebSocket protocol does with the messages the transport lets through. The
/// transport has already counted each one against the rate and the size limit; the
/// handler sees one message at a time, so a client's messages are handled in order.
pub(crate) trait FrameHandler: Send {
    /// The protocol this handler speaks, for logs and counters.
    const PROTOCOL: Protocol;

    /// One whole text message, valid UTF-8. `limited`: it is over the connection's
    /// rate; a protocol with an error frame says so, the others drop it. Send, as the
    /// connection's task is (it runs on [`super::runtime`]'s threads).
    fn on_text(&mut self, text: ByteString, limited: bool) -> impl Future<Output = ()> + Send;

    /// One whole binary message (its bytes are not kept).
    fn on_binary(&mut self, limited: bool);

    /// A message over `max_message_bytes` arrived; the transport closes 1009 next.
    fn on_too_large(&mut self, limit: usize);

    /// The connection is over, whoever ended it. Called once, last.
    fn on_end(self);

    /// The membership the connection is bound to, if any, as (workspace id, attendee
    /// id): the log line of its end names them, so that an operator sees who dropped.
    fn member(&self) -> Option<(&str, &str)> {
        None
    }
}

/// A new connection, as its protocol's handler is built from it.
pub(crate) struct Accepted {
    pub out: Outbox,
    pub id: ConnId,
    pub ip: IpAddr,
}

impl Accepted {
    /// Registers `out` with the router, and names the connection: its id, and the
    /// client's address as `client_addr` reads it (behind trusted proxies).
    pub(crate) fn register(
        req: &HttpRequest,
        app: &AppState,
        out: Outbox,
    ) -> (Accepted, crate::core::conn::Registered) {
        let registered = app.router.register(&out);
        let ip = crate::http::client_addr::client_addr(req, &app.hub.config().server);
        let accepted = Accepted {
            id: registered.id(),
            ip,
            out,
        };
        (accepted, registered)
    }
}

/// The checks every endpoint makes before anything else: shutdown or a full node (503)
/// and `allowed_origins` (403; a request without `Origin` is not from a page and
/// passes). Returns the refusal, if any.
pub(crate) fn refusal(req: &HttpRequest, app: &AppState) -> Option<HttpResponse> {
    unavailable(app).or_else(|| origin_refusal(req, app))
}

/// 503 once the node takes no new connections (drain, shutdown), or while it holds
/// [`crate::config::ServerConfig::connection_cap`].
pub(crate) fn unavailable(app: &AppState) -> Option<HttpResponse> {
    if app.is_stopping() {
        return Some(HttpResponse::ServiceUnavailable().body("shutting down"));
    }
    let open = app.router.open_count();
    if open >= app.hub.config().server.connection_cap() {
        log_refused(open);
        return Some(HttpResponse::ServiceUnavailable().body("too many connections"));
    }
    None
}

/// Logs refusals at the connection cap at most once a second, with how many there were
/// since the last line: a stranger retrying in a loop costs the node no connection, and
/// must not cost it a log line each time either.
fn log_refused(open: usize) {
    static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    /// Seconds since `EPOCH` of the last line, plus one (0: none yet).
    static LOGGED: AtomicU64 = AtomicU64::new(0);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    let second = EPOCH.elapsed().as_secs() + 1;
    let last = LOGGED.load(Ordering::Relaxed);
    if second > last
        && LOGGED
            .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        REFUSED.fetch_sub(refused, Ordering::Relaxed);
        tracing::warn!(
            open,
            refused,
            "refusing connections: the node holds its maximum"
        );
    }
}

/// 403 for a page of an origin `allowed_origins` does not list.
pub(crate) fn origin_refusal(req: &HttpRequest, app: &AppState) -> Option<HttpResponse> {
    let origin = req.headers().get("origin").map(|v| v.as_bytes());
    if !app.hub.config().server.origin_allowed(origin) {
        return Some(HttpResponse::Forbidden().body("origin not allowed"));
    }
    None
}

/// Upgrades `req` to a WebSocket served by the handler `protocol` builds, after the
/// checks every endpoint shares: shutdown (503), a WebSocket handshake (RFC 6455
/// §4.2.1 statuses), and `allowed_origins` (403).
pub(crate) fn accept<H, F>(
    req: &HttpRequest,
    app: &web::Data<AppState>,
    protocol: F,
) -> HttpResponse
where
    H: FrameHandler + 'static,
    F: FnOnce(&Accepted) -> H,
{
    if let Some(refused) = refusal(req, app) {
        return refused;
    }
    let config = app.hub.config();
    let response = match super::upgrade::handshake(req) {
        Ok(response) => response,
        Err(refused) => return refused.into(),
    };
    let limits = &config.limits;
    let (out, rx) = Outbox::new(
        limits.max_outbound_bytes,
        Duration::from_secs(limits.stall_secs),
    );
    let (accepted, registered) = Accepted::register(req, app, out);
    let handler = protocol(&accepted);
    let app = app.clone().into_inner();
    let tracker = app.tracker.clone();
    let limit = limits.max_message_bytes;
    let start = move |upgraded: Upgraded| {
        super::runtime::spawn_upgraded(&tracker, upgraded, move |upgraded| {
            let socket = split(upgraded, rx, limit);
            connection(app, accepted, handler, registered, socket)
        });
    };
    handed_over(response, Handover::new(start))
}

/// The 101 answer `response` (from the handshake), carrying `handover`.
pub(crate) fn handed_over(
    mut response: actix_http::ResponseBuilder,
    handover: Handover,
) -> HttpResponse {
    let mut response = response.finish().map_into_boxed_body();
    response.extensions_mut().insert(handover);
    HttpResponse::from(response)
}

/// Serves the connection to its end. An async block, not an async fn: an async fn keeps
/// its arguments twice in its future (as passed, and moved into its body), and this
/// future is held by every connection, idle or not.
#[allow(clippy::manual_async_fn)]
fn connection<H: FrameHandler>(
    app: Arc<AppState>,
    conn: Accepted,
    mut handler: H,
    registered: crate::core::conn::Registered,
    (mut frames, mut writer): (Reader, SocketWriter<OutboxReceiver>),
) -> impl std::future::Future<Output = ()> {
    async move {
        let protocol = H::PROTOCOL.label();
        let gauge = app.counters.connection(H::PROTOCOL, Transport::WebSocket);
        tracing::info!(conn = %conn.id, ip = %conn.ip, protocol, "connection opened");
        let reason = {
            let serving = std::pin::pin!(serve(&app, &mut frames, &mut handler, &conn.out));
            writer.beside(serving).await
        };
        // Uncounted before anyone hears of the end (a member's `attendee-offline`).
        drop(gauge);
        let member = Member::of(&handler);
        handler.on_end();
        conn.out.close(CLOSE_NORMAL, "");
        if conn.out.was_slow() {
            app.counters.policy_closed(PolicyClose::SlowConsumer);
        }
        drop(registered);
        end(writer, frames).await;
        member.log_closed(conn.id, protocol, reason);
    }
}

/// Ends a connection whose reading side is over, within [`CLOSE_BOUND`]: writes what is
/// left, the close frame included, and the FIN; then reads, dropping it, whatever the
/// peer still sends until it closes its side (RFC 6455 §7.1.1: the server closes the TCP
/// connection first; closing it with bytes unread would reset it instead).
pub(crate) async fn end<F: super::writer::Frames>(mut writer: SocketWriter<F>, mut frames: Reader) {
    let deadline = tokio::time::Instant::now() + CLOSE_BOUND;
    if writer.finish(deadline).await {
        let _ = tokio::time::timeout_at(deadline, frames.discard()).await;
    }
}

/// The reading side of an upgraded connection.
pub(crate) type Reader = FrameReader<tokio::io::ReadHalf<Box<dyn super::upgrade::Stream>>>;
/// Its writing side, writing the frames of `F`.
pub(crate) type SocketWriter<F> = Writer<F, tokio::io::WriteHalf<Box<dyn super::upgrade::Stream>>>;

/// Splits an upgraded connection into its frame reader (messages over `limit` bytes
/// refused) and the writer of `frames`.
pub(crate) fn split<F: super::writer::Frames>(
    upgraded: Upgraded,
    frames: F,
    limit: usize,
) -> (Reader, SocketWriter<F>) {
    let fd = upgraded.stream.fd();
    let (read, write) = tokio::io::split(upgraded.stream);
    (
        FrameReader::new(read, upgraded.read, limit),
        Writer::new(frames, write, fd),
    )
}

/// Who a connection was when it ended: the membership it was bound to, if any.
pub(crate) struct Member(Option<(String, String)>);

impl Member {
    pub(crate) fn of(handler: &impl FrameHandler) -> Member {
        Member(
            handler
                .member()
                .map(|(w, a)| (w.to_string(), a.to_string())),
        )
    }

    /// The one line every connection's end is logged with, at INFO whatever the reason:
    /// a peer that went away (a closed tab, a reload, a reset) is a plain close, and so
    /// is a refused frame, whose close code says the rest.
    pub(crate) fn log_closed(&self, conn: ConnId, protocol: &str, reason: &str) {
        let (workspace, attendee) = match &self.0 {
            Some((w, a)) => (Some(w.as_str()), Some(a.as_str())),
            None => (None, None),
        };
        let workspace = workspace.map(tracing::field::display);
        let attendee = attendee.map(tracing::field::display);
        tracing::info!(conn = %conn, protocol, reason, workspace, attendee, "connection closed");
    }
}

/// Runs the connection until it closes; returns why.
async fn serve<H: FrameHandler>(
    app: &AppState,
    frames: &mut Reader,
    handler: &mut H,
    out: &Outbox,
) -> &'static str {
    let config = app.hub.config();
    let mut limiter = RequestLimiter::new(&config.limits, Instant::now());
    let mut heartbeat =
        tokio::time::interval(Duration::from_secs(config.server.ping_interval_secs));
    let timeout = Duration::from_secs(config.server.ping_timeout_secs);
    let mut last_heard = Instant::now();
    // Lives across iterations: built per frame, its waits would register with their
    // notifier or the timer wheel and deregister again, on every frame.
    let mut watch = std::pin::pin!(out.watch_stalls());
    loop {
        // Whoever closed the socket (kick, replacement, overflow, flood, shutdown), stop
        // reading before handling one more frame.
        if out.is_closing() {
            return "closed by server";
        }
        tokio::select! {
            frame = frames.next() => {
                let inbound = match frame {
                    None => return "client went away",
                    Some(Err(violation)) => return refuse(handler, out, violation, config.limits.max_message_bytes),
                    Some(Ok(inbound)) => inbound,
                };
                last_heard = Instant::now();
                let limited = match count(&mut limiter, out, last_heard, &app.counters) {
                    Ok(limited) => limited,
                    Err(flood) => return flood,
                };
                if let Err(reason) = on_frame(inbound, limited, handler, out).await {
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
            // Resolves once the outbox is closed (stalled, or by anyone): the loop
            // returns at its top, and never polls it again.
            _ = &mut watch => {}
        }
    }
}

/// Counts one frame (or Engine.IO packet) against the connection's rate: `Ok(true)` when
/// it is over the rate, `Err` once the connection is flooding, closed with 1008.
pub(crate) fn count(
    limiter: &mut RequestLimiter,
    out: &Outbox,
    now: Instant,
    counters: &Counters,
) -> Result<bool, &'static str> {
    match limiter.check(now) {
        Verdict::Allow => Ok(false),
        Verdict::Limited => Ok(true),
        Verdict::Close => {
            tracing::warn!(conn = out.id(), "closing a flooding connection");
            counters.policy_closed(PolicyClose::Flood);
            out.close(CLOSE_POLICY, "frame rate far over the limit");
            Err("flood")
        }
    }
}

/// Handles one inbound frame; `Err` says why the connection must stop. A ping over the
/// rate gets no pong.
async fn on_frame<H: FrameHandler>(
    frame: Inbound,
    limited: bool,
    handler: &mut H,
    out: &Outbox,
) -> Result<(), &'static str> {
    match frame {
        Inbound::Text(text) => handler.on_text(text, limited).await,
        Inbound::Binary => handler.on_binary(limited),
        Inbound::Ping(payload) if !limited => out.pong(payload),
        Inbound::Ping(_) | Inbound::Pong | Inbound::Fragment => {}
        Inbound::Close(code) => {
            out.close(CLOSE_NORMAL, "");
            return Err(match code {
                Some(CLOSE_GOING_AWAY) => "client going away",
                _ => "closed by client",
            });
        }
    }
    Ok(())
}

/// A frame the connection cannot survive: the handler's last word, if its protocol has
/// one, then the close code RFC 6455 gives it.
fn refuse<H: FrameHandler>(
    handler: &mut H,
    out: &Outbox,
    violation: Violation,
    limit: usize,
) -> &'static str {
    match violation {
        Violation::TooLarge => {
            handler.on_too_large(limit);
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
