//! webrtc-bootstrap 4.4.1 (COMPAT.md 3): one secret-protected root peer receives every
//! join request and answers through the server.
//!
//! The root connects at `/<secret>/webrtc-bootstrap-root` (or the 2.x path
//! `/<secret>`); a newer root replaces an older one, which is closed 4001. It gets the
//! text `"heartbeat"` every `heartbeat_secs`, and what it sends is ignored. Each
//! connection attempt is a `/join` socket with an id of 32 hex characters; its frames
//! `{origin, destination, signal, rank}` go, `origin` overwritten with its id, to the
//! `/join` socket named by `destination`, else to the root. Every `/join` socket is
//! closed `timeout_secs` after it connected (1000, `bootstrap timeout`).

use super::json::{Field, Object};
use super::{route_or_drop, undelivered};
use crate::config::Secret;
use crate::core::conn::outbox::{CLOSE_NORMAL, CLOSE_REPLACED};
use crate::core::conn::{ConnId, Outbox};
use crate::core::counters::{Counters, DropReason, Protocol};
use crate::core::ids::{hex_id, SeededIds};
use crate::core::switch::{Namespace, Switch};
use crate::http::AppState;
use crate::transport::ws::{self, Accepted, FrameHandler};
use actix_web::guard::GuardContext;
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Where `/join` ids come from: random, or the original's seeded sequence.
pub(crate) enum JoinIds {
    Random,
    Seeded(Mutex<SeededIds>),
}

impl JoinIds {
    pub(crate) fn new(seed: i64) -> JoinIds {
        match seed {
            0 => JoinIds::Random,
            seed => JoinIds::Seeded(Mutex::new(SeededIds::new(seed))),
        }
    }

    fn next(&self) -> String {
        match self {
            JoinIds::Random => hex_id(),
            JoinIds::Seeded(ids) => ids.lock().unwrap_or_else(|p| p.into_inner()).next_id(),
        }
    }
}

/// Whether the request's path is the root's, `/<secret>/webrtc-bootstrap-root` or
/// `/<secret>`, the secret compared in constant time. Any other path falls through to
/// the routes after this one (a wrong secret is a 404).
pub(crate) fn is_root_path(secret: &Secret, ctx: &GuardContext<'_>) -> bool {
    let path = ctx.head().uri.path();
    let candidate = path.strip_prefix('/').unwrap_or(path);
    let candidate = candidate
        .strip_suffix("/webrtc-bootstrap-root")
        .unwrap_or(candidate);
    let secret = secret.expose().as_bytes();
    // Lengths differ: unequal, and the length of a secret is not the secret.
    candidate.len() == secret.len() && bool::from(candidate.as_bytes().ct_eq(secret))
}

/// The root's WebSocket.
pub(crate) async fn root(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let every = Duration::from_secs(app.hub.config().compat.bootstrap.heartbeat_secs);
    ws::accept(&req, &app, |conn| {
        actix_web::rt::spawn(heartbeat(conn.out.clone(), every));
        Root::open(app.switch.bootstrap_root.clone(), conn)
    })
}

/// A `/join` WebSocket.
pub(crate) async fn join(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let timeout = Duration::from_secs(app.hub.config().compat.bootstrap.timeout_secs);
    ws::accept(&req, &app, |conn| {
        actix_web::rt::spawn(expire(conn.out.clone(), timeout));
        Join::open(&app.switch, app.counters.clone(), conn, app.join_ids.next())
    })
}

struct Root {
    slot: Arc<Namespace>,
    conn: ConnId,
}

impl Root {
    fn open(slot: Arc<Namespace>, conn: &Accepted) -> Root {
        if let Some(older) = slot.replace(Switch::ROOT, conn.id) {
            tracing::info!(conn = %older, "webrtc-bootstrap root replaced by a newer one");
            slot.close(older, CLOSE_REPLACED, crate::core::switch::REPLACED_ROOT);
        }
        Root {
            slot,
            conn: conn.id,
        }
    }
}

/// `"heartbeat"` (a JSON string) every `every`, until the root's connection closes.
async fn heartbeat(out: Outbox, every: Duration) {
    let beat = ByteString::from_static("\"heartbeat\"");
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = ticks.tick() => out.send(beat.clone()),
            _ = out.closed() => return,
        }
    }
}

impl FrameHandler for Root {
    const PROTOCOL: Protocol = Protocol::Bootstrap;

    /// The root answers through `/join` sockets of its own; what it sends here (its
    /// heartbeats) needs no answer.
    async fn on_text(&mut self, _text: ByteString, _limited: bool) {}

    fn on_binary(&mut self, _limited: bool) {}

    fn on_too_large(&mut self, _limit: usize) {}

    fn on_end(self) {
        self.slot.unregister(Switch::ROOT, self.conn);
    }
}

pub(super) struct Join {
    joins: Arc<Namespace>,
    root: Arc<Namespace>,
    counters: Arc<Counters>,
    conn: ConnId,
    id: String,
}

impl Join {
    pub(super) fn open(
        switch: &Switch,
        counters: Arc<Counters>,
        conn: &Accepted,
        id: String,
    ) -> Join {
        let joins = switch.bootstrap_joins.clone();
        // A seeded sequence repeats ids after a restart only; a random one never does.
        // Either way the newest socket wins the id.
        if let Some(older) = joins.replace(&id, conn.id) {
            joins.close(older, CLOSE_NORMAL, "bootstrap id reused");
        }
        Join {
            joins,
            root: switch.bootstrap_root.clone(),
            counters,
            conn: conn.id,
            id,
        }
    }

    fn route(&self, text: &str) -> Result<(), DropReason> {
        let mut frame = Object::parse(text).ok_or(DropReason::Malformed)?;
        let destination = frame.string("destination");
        frame.set_string("origin", &self.id);
        let sent = match destination {
            // The original tests `destination` for truth: "" means the root too.
            Field::Text(to) if !to.is_empty() => self.joins.send(&to, frame.encode()),
            Field::Absent | Field::Null | Field::Text(_) => {
                self.root.send(Switch::ROOT, frame.encode())
            }
            Field::WrongType => return Err(DropReason::Malformed),
        };
        sent.map_err(undelivered)
    }
}

/// Closes a `/join` socket `timeout` after it connected, whatever it is doing.
async fn expire(out: Outbox, timeout: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(timeout) => out.close(CLOSE_NORMAL, "bootstrap timeout"),
        _ = out.closed() => {}
    }
}

impl FrameHandler for Join {
    const PROTOCOL: Protocol = Protocol::Bootstrap;

    async fn on_text(&mut self, text: ByteString, limited: bool) {
        route_or_drop(&self.counters, Self::PROTOCOL, limited, text.len(), || {
            self.route(&text)
        });
    }

    fn on_binary(&mut self, _limited: bool) {
        self.counters
            .dropped(Protocol::Bootstrap, DropReason::Binary);
    }

    fn on_too_large(&mut self, _limit: usize) {}

    fn on_end(self) {
        self.joins.unregister(&self.id, self.conn);
    }
}
