//! A session that began polling: the state its requests, and the WebSocket it may
//! upgrade to, share with its task. Its transports are many (one request after another,
//! then perhaps a WebSocket), so a task of its own owns the protocol handler: the
//! transports hand it packets through a small channel and drain its outbox, which one
//! poll at a time holds, then the WebSocket for good.

use super::lifecycle::{self, Carried, Opened};
use super::packet::Packet;
use super::rules::{self, Arrival, Arrivals};
use super::Entry;
use crate::core::conn::outbox::CLOSE_NORMAL;
use crate::core::conn::{Outbox, OutboxReceiver};
use crate::core::counters::{ConnectionGauge, Transport};
use crate::http::AppState;
use crate::transport::ws::{Accepted, FrameHandler};
use actix_web::{web, HttpRequest};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, MappedMutexGuard, MutexGuard};

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

/// A polling session as its transports see it.
pub(super) struct Session {
    pub(super) sid: Arc<str>,
    pub(super) out: Outbox,
    inbound: mpsc::Sender<Inbound>,
    /// The outbox's reading end: held by one poll at a time, then taken by the WebSocket
    /// the session upgrades to.
    outbound: tokio::sync::Mutex<Option<OutboxReceiver>>,
    /// A WebSocket has taken the session over: polls are refused.
    upgraded: AtomicBool,
    /// A WebSocket is probing: a second one is refused.
    probing: AtomicBool,
    /// The probing WebSocket got `2probe`: the upgrade is near, polls answer at once.
    probed: AtomicBool,
    /// This session in `switchboard_connections`, under its current transport; taken
    /// when the session ends, though the session may outlive it in a pending poll.
    gauge: Mutex<Option<ConnectionGauge>>,
}

/// Opens a polling session, queues its open packet and whatever the handler that
/// `protocol` builds queues first, and starts its task. `None` at `max_sessions`.
pub(super) fn open<H, F>(
    req: &HttpRequest,
    app: &web::Data<AppState>,
    protocol: F,
) -> Option<Arc<Session>>
where
    H: FrameHandler + 'static,
    F: FnOnce(&Accepted) -> H,
{
    let app = app.clone().into_inner();
    let (sid, out, rx) = lifecycle::outbox(&app);
    let (tx, inbound) = mpsc::channel(INBOUND_BATCHES);
    let session = Arc::new(Session {
        sid: sid.clone(),
        out: out.clone(),
        inbound: tx,
        outbound: tokio::sync::Mutex::new(Some(rx)),
        upgraded: AtomicBool::new(false),
        probing: AtomicBool::new(false),
        probed: AtomicBool::new(false),
        gauge: Mutex::new(Some(
            app.counters.connection(H::PROTOCOL, Transport::Polling),
        )),
    });
    let entry = Entry::Polling(session.clone());
    let opened = lifecycle::open(req, &app, (sid, out), entry, protocol)?;
    let task = run(app.clone(), session.clone(), opened, inbound);
    crate::transport::runtime::spawn(&app.tracker, task);
    Some(session)
}

/// Runs the session until it closes, on the connection tracker (shutdown waits for it).
/// An async block, not an async fn, whose captures stay where they are: an async fn
/// would keep a second copy of its arguments for the session's life.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
fn run<H: FrameHandler>(
    app: Arc<AppState>,
    session: Arc<Session>,
    mut opened: Opened<H>,
    mut inbound: mpsc::Receiver<Inbound>,
) -> impl Future<Output = ()> {
    async move {
        opened.log_opened();
        let (handler, out, _) = opened.serving();
        let reason = rules::serve(&app, &mut inbound, handler, out).await;
        opened.end(&app, Carried::Polling(&session), reason).await;
    }
}

impl Arrivals for mpsc::Receiver<Inbound> {
    type Packets = Vec<Packet>;

    async fn next(&mut self) -> Arrival<Vec<Packet>> {
        match self.recv().await {
            Some(Inbound::Packets(packets)) => Arrival::Packets(packets),
            Some(Inbound::TooLarge) => Arrival::TooLarge,
            Some(Inbound::Closed) => Arrival::Closed,
            None => Arrival::Ended("transport gone"),
        }
    }
}

impl Session {
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

    /// The outbox's reading end for one poll; `None` while another poll holds it, or
    /// once a WebSocket took it.
    pub(super) fn poll_outbox(&self) -> Option<MappedMutexGuard<'_, OutboxReceiver>> {
        let held = self.outbound.try_lock().ok()?;
        MutexGuard::try_map(held, Option::as_mut).ok()
    }

    /// The upgrade: the outbox's reading end for the WebSocket, for good, once a poll
    /// still in progress is over. The session is carried by the WebSocket from now on.
    pub(super) async fn upgrade(&self) -> Option<OutboxReceiver> {
        let rx = self.outbound.lock().await.take();
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
        rx
    }

    /// This session's gauge, taken when it ends.
    pub(super) fn take_gauge(&self) -> Option<ConnectionGauge> {
        self.gauge.lock().unwrap_or_else(|p| p.into_inner()).take()
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
