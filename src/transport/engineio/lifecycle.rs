//! How every session begins and ends, whichever transport carries it. It begins listed
//! under a new `sid` (at most `max_sessions` are), with its open packet queued, its
//! outbox registered with the router and its handler built; it ends uncounted first,
//! then with its handler told, its outbox closed, and its listing and registration
//! given up, in that order, and one log line.

use super::session::Session;
use super::Entry;
use crate::core::conn::outbox::CLOSE_NORMAL;
use crate::core::conn::{Outbox, OutboxReceiver, Registered};
use crate::core::counters::{ConnectionGauge, PolicyClose};
use crate::http::AppState;
use crate::transport::ws::{Accepted, FrameHandler, Member, CLOSE_BOUND};
use actix_web::HttpRequest;
use std::sync::Arc;
use std::time::Duration;

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

/// A new session's `sid` (its node's number first, in a cluster) and its outbox: at
/// most `max_outbound_bytes`, closed once it stalls for `stall_secs`.
pub(super) fn outbox(app: &AppState) -> (Arc<str>, Outbox, OutboxReceiver) {
    let limits = &app.hub.config().limits;
    let (out, rx) = Outbox::new(
        limits.max_outbound_bytes,
        Duration::from_secs(limits.stall_secs),
    );
    let node = app.router.bus().map(|_| app.router.node());
    (super::elsewhere::new_sid(node).into(), out, rx)
}

/// A session its task serves: what every session has, whichever transport carries it.
pub(super) struct Opened<H> {
    handler: H,
    out: Outbox,
    registered: Registered,
    listed: Listed,
}

/// A session's place in `app.engine`, given up when dropped: also when the session's
/// task never ran.
struct Listed {
    app: Arc<AppState>,
    sid: Arc<str>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.app.engine.remove(&self.sid);
    }
}

/// What carried a session, as its end differs by it.
pub(super) enum Carried<'a> {
    /// Polling, perhaps upgraded since: its shared state holds its gauge.
    Polling(&'a Session),
    /// Its WebSocket from the start.
    WebSocket(ConnectionGauge),
}

/// Lists session `sid` as `entry` unless `max_sessions` are open (then `None`), queues
/// its open packet on `out`, registers `out` with the router and builds the handler
/// `protocol` makes, which may queue its first packets.
pub(super) fn open<H, F>(
    req: &HttpRequest,
    app: &Arc<AppState>,
    (sid, out): (Arc<str>, Outbox),
    entry: Entry,
    protocol: F,
) -> Option<Opened<H>>
where
    F: FnOnce(&Accepted) -> H,
{
    let config = app.hub.config();
    let settings = &config.compat.socketio;
    // A WebSocket session has nothing to upgrade to.
    let upgrades: &[&str] = match entry {
        Entry::Polling(_) => &["websocket"],
        Entry::WebSocket => &[],
    };
    if !app.engine.insert(sid.clone(), entry, settings.max_sessions) {
        return None;
    }
    let listed = Listed {
        app: app.clone(),
        sid,
    };
    let open = Open {
        sid: &listed.sid,
        upgrades,
        ping_interval: settings.ping_interval_ms,
        ping_timeout: settings.ping_timeout_ms,
    };
    let open = serde_json::to_string(&open).expect("plain fields always encode");
    out.send(format!("0{open}").into());
    let (accepted, registered) = Accepted::register(req, app, out);
    let handler = protocol(&accepted);
    Some(Opened {
        handler,
        out: accepted.out,
        registered,
        listed,
    })
}

impl<H: FrameHandler> Opened<H> {
    /// What the session is served with: its handler, its outbox and its `sid`.
    pub(super) fn serving(&mut self) -> (&mut H, &Outbox, &str) {
        (&mut self.handler, &self.out, &self.listed.sid)
    }

    /// The line every session's start is logged with.
    pub(super) fn log_opened(&self) {
        let protocol = H::PROTOCOL.label();
        let (conn, sid) = (self.registered.id(), &self.listed.sid);
        tracing::info!(conn = %conn, sid = %sid, protocol, "connection opened");
    }

    /// Ends the session, closed for `reason`.
    pub(super) async fn end(self, app: &AppState, carried: Carried<'_>, reason: &'static str) {
        let Opened {
            handler,
            out,
            registered,
            listed,
        } = self;
        let (gauge, polled) = match carried {
            Carried::Polling(session) => (session.take_gauge(), Some(session)),
            Carried::WebSocket(gauge) => (Some(gauge), None),
        };
        // Uncounted before anyone hears of the end (a member's `attendee-offline`).
        drop(gauge);
        let member = Member::of(&handler);
        handler.on_end();
        out.close(CLOSE_NORMAL, "");
        if polled.is_some_and(|session| !session.is_upgraded()) {
            // The close packet goes out on a poll: the client's next one, within the
            // bound a WebSocket's peer gets to read its close. Until then the session
            // still counts as open to a drain, which waits for it.
            let _ = tokio::time::timeout(CLOSE_BOUND, out.close_collected()).await;
        }
        if out.was_slow() {
            app.counters.policy_closed(PolicyClose::SlowConsumer);
        }
        let id = registered.id();
        drop(listed);
        drop(registered);
        member.log_closed(id, H::PROTOCOL.label(), reason);
    }
}
