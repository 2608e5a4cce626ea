//! The rules every session is held to, whichever transport brings its packets
//! (PROTOCOL.md 1.1, COMPAT.md's common rules): every packet counted against the rate,
//! a flood closed, a client silent for the ping interval plus the ping timeout dropped,
//! an outbox that nobody collects closed as stalled. One loop keeps them, over the
//! arrivals of a transport: a polling session's channel, or a WebSocket read in place.

use super::packet::Packet;
use crate::auth::limits::RequestLimiter;
use crate::config::Config;
use crate::core::conn::outbox::{CLOSE_NORMAL, CLOSE_TOO_LARGE};
use crate::core::conn::Outbox;
use crate::http::AppState;
use crate::transport::ws::{count, FrameHandler};
use std::time::{Duration, Instant};

/// What a transport brings a session next.
pub(super) enum Arrival<P> {
    /// Packets, in the order the client sent them.
    Packets(P),
    /// Nothing for the session (a WebSocket's control frame).
    Nothing,
    /// A POST body or WebSocket message over `max_message_bytes`.
    TooLarge,
    /// The client is gone, or closed its WebSocket.
    Closed,
    /// The transport ended the session (and closed the outbox), for this reason.
    Ended(&'static str),
}

/// Where a session's packets come from.
pub(super) trait Arrivals {
    type Packets: IntoIterator<Item = Packet>;

    /// The next arrival; cancel-safe, as it races the session's timers.
    async fn next(&mut self) -> Arrival<Self::Packets>;
}

/// How long a client may stay silent: the ping interval plus the ping timeout. A poll
/// waits as long for something to answer.
pub(super) fn silence(config: &Config) -> Duration {
    let settings = &config.compat.socketio;
    Duration::from_millis(settings.ping_interval_ms + settings.ping_timeout_ms)
}

/// Runs a session until it closes; returns why.
pub(super) async fn serve<H: FrameHandler>(
    app: &AppState,
    arrivals: &mut impl Arrivals,
    handler: &mut H,
    out: &Outbox,
) -> &'static str {
    let config = app.hub.config();
    let silence = silence(config);
    let mut limiter = RequestLimiter::new(&config.limits, Instant::now());
    let mut deadline = std::pin::pin!(tokio::time::sleep(silence));
    // Lives across iterations: built per arrival, its waits would register with their
    // notifier or the timer wheel and deregister again, on every packet.
    let mut watch = std::pin::pin!(out.watch_stalls());
    loop {
        // Whoever closed the session (kick, replacement, overflow, flood, shutdown), stop
        // before handling one more packet.
        if out.is_closing() {
            return "closed by server";
        }
        tokio::select! {
            arrival = arrivals.next() => {
                let packets = match arrival {
                    Arrival::Packets(packets) => packets,
                    Arrival::Nothing => continue,
                    Arrival::TooLarge => {
                        handler.on_too_large(config.limits.max_message_bytes);
                        out.close(CLOSE_TOO_LARGE, "message too large");
                        return "message too large";
                    }
                    Arrival::Closed => {
                        out.close(CLOSE_NORMAL, "");
                        return "client went away";
                    }
                    Arrival::Ended(reason) => return reason,
                };
                let now = Instant::now();
                deadline.as_mut().reset((now + silence).into());
                for packet in packets {
                    let limited = match count(&mut limiter, out, now, &app.counters) {
                        Ok(limited) => limited,
                        Err(flood) => return flood,
                    };
                    if let Err(reason) = on_packet(packet, limited, handler, out).await {
                        return reason;
                    }
                    if out.is_closing() {
                        return "closed by server";
                    }
                }
            }
            _ = &mut deadline => {
                out.close(CLOSE_NORMAL, "no ping within pingInterval + pingTimeout");
                return "ping timeout";
            }
            // Resolves once the outbox is closed: the loop returns at its top.
            _ = &mut watch => {}
        }
    }
}

/// One packet from the client; `Err` says why the session ends. A ping over the rate
/// gets no pong.
async fn on_packet<H: FrameHandler>(
    packet: Packet,
    limited: bool,
    handler: &mut H,
    out: &Outbox,
) -> Result<(), &'static str> {
    match packet {
        Packet::Message(text) => handler.on_text(text, limited).await,
        Packet::Binary => handler.on_binary(limited),
        // `2probe` belongs to the WebSocket that sent it, which answers it itself.
        Packet::Ping(data) if !limited && &*data != "probe" => {
            out.send(format!("3{data}").into());
        }
        Packet::Close => {
            out.close(CLOSE_NORMAL, "");
            return Err("closed by client");
        }
        Packet::Ping(_) | Packet::Pong | Packet::Upgrade | Packet::Noop => {}
    }
    Ok(())
}
