//! One Engine.IO session: the task that owns its protocol handler and holds it to the
//! rules every connection keeps (PROTOCOL.md 1.1, COMPAT.md's common rules): every
//! packet counted against the rate, a flood closed, a client silent for the ping
//! interval plus the ping timeout dropped, an outbox that nobody collects closed as
//! stalled, and the handler told once, last, that the session is over.

use super::packet::Packet;
use crate::auth::limits::RequestLimiter;
use crate::core::conn::outbox::{CLOSE_NORMAL, CLOSE_TOO_LARGE};
use crate::core::conn::{Outbox, OutboxReceiver, Registered};
use crate::core::counters::{ConnectionGauge, PolicyClose, Transport};
use crate::http::AppState;
use crate::transport::ws::{count, Accepted, FrameHandler, CLOSE_BOUND};
use actix_web::{web, HttpRequest};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Separates Engine.IO packets inside one outbox text: a codec that answers one event
/// with several packets joins them with it. JSON text never holds a raw U+001E, and
/// Engine.IO 4 chose the same separator for its payloads.
pub(crate) const ENGINE_SEPARATOR: char = '\u{1e}';

/// Batches of packets (one POST, one WebSocket frame) waiting for the session task.
/// Small: a transport that gets ahead of its session waits, and so does its client.
const INBOUND_BATCHES: usize = 4;

/// What the transports hand the session task.
pub(super) enum Inbound {
    /// Packets, in the order the client sent them.
    Packets(Vec<Packet>),
    /// A POST body or WebSocket message over `max_message_bytes`.
    TooLarge,
    /// The WebSocket that carried the session is gone.
    Closed,
}

/// A session as its transports see it.
pub(super) struct Session {
    pub(super) sid: String,
    pub(super) out: Outbox,
    inbound: mpsc::Sender<Inbound>,
    /// The outbox's reading end: held by one poll at a time, then, once upgraded, by the
    /// WebSocket for good.
    pub(super) outbound: Arc<tokio::sync::Mutex<OutboxReceiver>>,
    /// A WebSocket has taken the session over: polls are refused.
    upgraded: AtomicBool,
    /// A WebSocket is probing: a second one is refused.
    probing: AtomicBool,
    /// The probing WebSocket got `2probe`: the upgrade is near, polls answer at once.
    probed: AtomicBool,
    /// How long a poll waits for something to say.
    pub(super) poll_wait: Duration,
    /// This session in `switchboard_connections`, under its current transport; taken
    /// when the session ends, though the session may outlive it in a pending poll.
    gauge: Mutex<Option<ConnectionGauge>>,
}

/// engine.io 3's open packet, its fields in engine.io's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Open<'a> {
    sid: &'a str,
    upgrades: &'a [&'a str],
    /// Milliseconds.
    ping_interval: u64,
    /// Milliseconds.
    ping_timeout: u64,
}

/// What only the session task holds.
pub(super) struct Owned<H> {
    handler: H,
    registered: Registered,
    inbound: mpsc::Receiver<Inbound>,
}

impl Session {
    /// Opens a session and queues its open packet, then whatever the handler that
    /// `protocol` builds queues first. `None` at `max_sessions`.
    pub(super) fn open<H, F>(
        req: &HttpRequest,
        app: &web::Data<AppState>,
        websocket: bool,
        protocol: F,
    ) -> Option<(Arc<Session>, Owned<H>)>
    where
        H: FrameHandler,
        F: FnOnce(&Accepted) -> H,
    {
        let config = app.hub.config();
        let settings = &config.compat.socketio;
        let limits = &config.limits;
        let (out, rx) = Outbox::new(
            limits.max_outbound_bytes,
            Duration::from_secs(limits.stall_secs),
        );
        let (tx, inbound) = mpsc::channel(INBOUND_BATCHES);
        let session = Arc::new(Session {
            sid: super::elsewhere::new_sid(app.router.bus().map(|_| app.router.node())),
            out: out.clone(),
            inbound: tx,
            outbound: Arc::new(tokio::sync::Mutex::new(rx)),
            upgraded: AtomicBool::new(websocket),
            probing: AtomicBool::new(false),
            probed: AtomicBool::new(false),
            poll_wait: Duration::from_millis(settings.ping_interval_ms + settings.ping_timeout_ms),
            gauge: Mutex::new(Some(app.counters.connection(
                H::PROTOCOL,
                if websocket {
                    Transport::WebSocket
                } else {
                    Transport::Polling
                },
            ))),
        });
        if !app.engine.insert(session.clone(), settings.max_sessions) {
            return None;
        }
        // engine.io 3's open packet; a WebSocket session has nothing to upgrade to.
        let upgrades: &[&str] = if websocket { &[] } else { &["websocket"] };
        let open = Open {
            sid: &session.sid,
            upgrades,
            ping_interval: settings.ping_interval_ms,
            ping_timeout: settings.ping_timeout_ms,
        };
        let open = serde_json::to_string(&open).expect("plain fields always encode");
        out.send(format!("0{open}").into());
        let registered = app.router.register(&out);
        let accepted = Accepted {
            id: registered.id(),
            ip: crate::http::client_addr::client_addr(req, &config.server),
            out,
        };
        let handler = protocol(&accepted);
        Some((
            session,
            Owned {
                handler,
                registered,
                inbound,
            },
        ))
    }

    /// The WebSocket carrying the session ended: so does the session.
    pub(super) fn transport_closed(&self) {
        if self.inbound.try_send(Inbound::Closed).is_err() {
            self.out.close(CLOSE_NORMAL, "");
        }
    }

    /// Hands packets to the session task, waiting while it is behind; `false` once the
    /// session is over.
    pub(super) async fn deliver(&self, inbound: Inbound) -> bool {
        self.inbound.send(inbound).await.is_ok()
    }
}

/// Runs the session until it closes, on the connection tracker (shutdown waits for it).
pub(super) fn spawn<H: FrameHandler + 'static>(
    app: &web::Data<AppState>,
    session: Arc<Session>,
    owned: Owned<H>,
) {
    let app = app.clone().into_inner();
    let task = run(app.clone(), session, owned);
    actix_web::rt::spawn(app.tracker.track_future(task));
}

async fn run<H: FrameHandler>(app: Arc<AppState>, session: Arc<Session>, owned: Owned<H>) {
    let Owned {
        mut handler,
        registered,
        mut inbound,
    } = owned;
    let id = registered.id();
    let protocol = H::PROTOCOL.label();
    tracing::info!(conn = %id, sid = %session.sid, protocol, "connection opened");
    let reason = serve(&app, &session, &mut handler, &mut inbound).await;
    // Uncounted before anyone hears of the end (a member's `attendee-offline`).
    drop(
        session
            .gauge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(),
    );
    let member = crate::transport::ws::Member::of(&handler);
    handler.on_end();
    session.out.close(CLOSE_NORMAL, "");
    if !session.is_upgraded() {
        // The close packet goes out on a poll: the client's next one, within the bound a
        // WebSocket's peer gets to read its close. Until then the session still counts
        // as open to a drain, which waits for it.
        let _ = tokio::time::timeout(CLOSE_BOUND, session.out.close_collected()).await;
    }
    if session.out.was_slow() {
        app.counters.policy_closed(PolicyClose::SlowConsumer);
    }
    app.engine.remove(&session.sid);
    drop(registered);
    member.log_closed(id, protocol, reason);
}

async fn serve<H: FrameHandler>(
    app: &AppState,
    session: &Session,
    handler: &mut H,
    inbound: &mut mpsc::Receiver<Inbound>,
) -> &'static str {
    let config = app.hub.config();
    let settings = &config.compat.socketio;
    let silence = Duration::from_millis(settings.ping_interval_ms + settings.ping_timeout_ms);
    let out = &session.out;
    let mut limiter = RequestLimiter::new(&config.limits, Instant::now());
    let mut deadline = std::pin::pin!(tokio::time::sleep(silence));
    let mut watch = std::pin::pin!(out.watch_stalls());
    loop {
        if out.is_closing() {
            return "closed by server";
        }
        tokio::select! {
            batch = inbound.recv() => {
                let packets = match batch {
                    Some(Inbound::Packets(packets)) => packets,
                    Some(Inbound::TooLarge) => {
                        handler.on_too_large(config.limits.max_message_bytes);
                        out.close(CLOSE_TOO_LARGE, "message too large");
                        return "message too large";
                    }
                    Some(Inbound::Closed) => {
                        out.close(CLOSE_NORMAL, "");
                        return "client went away";
                    }
                    None => return "transport gone",
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

impl Session {
    /// Marks the session as carried by a WebSocket from now on.
    pub(super) fn set_upgraded(&self) {
        self.upgraded.store(true, Ordering::Release);
        if let Some(gauge) = self
            .gauge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            gauge.set_transport(Transport::WebSocket);
        }
        self.probed.store(false, Ordering::Release);
    }

    /// A WebSocket starts probing; `false` if the session is upgraded already or
    /// another WebSocket probes it.
    pub(super) fn start_probe(&self) -> bool {
        !self.is_upgraded() && !self.probing.swap(true, Ordering::AcqRel)
    }

    /// The probing WebSocket got `2probe` (and answered it).
    pub(super) fn probe_answered(&self) {
        self.probed.store(true, Ordering::Release);
    }

    /// The probing WebSocket ended without an upgrade: polling goes on as before.
    pub(super) fn end_probe(&self) {
        self.probed.store(false, Ordering::Release);
        self.probing.store(false, Ordering::Release);
    }

    pub(super) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }

    /// Whether a probing WebSocket got its `2probe` and has not upgraded yet.
    pub(super) fn is_probing(&self) -> bool {
        self.probed.load(Ordering::Acquire)
    }
}
