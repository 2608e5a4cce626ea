//! Requests for a session of another node. Behind a load balancer that spreads
//! requests over the nodes without sticky sessions, a client's polls and POSTs land
//! anywhere: the node a request reaches passes it over the bus to the node whose `sid`
//! it names (the node's number leads every `sid` in a cluster), which answers as if it
//! had been asked itself. Upgrading to a WebSocket needs the session's own node: elsewhere
//! the probe is refused and the client goes on polling, as engine.io clients do when a
//! probe fails.

use super::polling::{self, Refused};
use super::{Cors, EngineError, Entry, Session};
use crate::cluster::control::Control;
use crate::http::AppState;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// A request for node `to`'s session `sid`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EngineRequest {
    id: u64,
    from: u64,
    sid: String,
    kind: Kind,
}

#[derive(Debug, Serialize, Deserialize)]
enum Kind {
    /// A GET: the packets queued for the client.
    Poll,
    /// A POST: the client's packets, base64 when binary.
    Post { body: String, binary: bool },
    /// A POST over `max_message_bytes`, refused where it arrived.
    TooLarge,
}

/// The answer of the session's node.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum EngineReply {
    Payload(String),
    Accepted,
    Refused(u8),
    TooLarge,
}

/// The length of a node's number in hex, at the start of a cluster node's `sid`s.
const NODE_HEX: usize = 16;

/// A new `sid` of node `node`; on a node on its own, without the node.
pub(super) fn new_sid(node: Option<u64>) -> String {
    let random = crate::core::ids::url_safe_id();
    match node {
        Some(node) => format!("{node:0NODE_HEX$x}{random}"),
        None => random,
    }
}

/// The node whose session `sid` is, when it is another of the cluster's.
pub(super) fn node_of(app: &AppState, sid: &str) -> Option<u64> {
    app.router.bus()?;
    let node = u64::from_str_radix(sid.get(..NODE_HEX)?, 16).ok()?;
    (node != app.router.node()).then_some(node)
}

/// Passes a request for session `sid` to node `node` and answers what it answers.
pub(super) async fn forward(
    req: &HttpRequest,
    body: web::Payload,
    app: &AppState,
    (node, sid): (u64, String),
    websocket: bool,
    cors: &Cors,
) -> HttpResponse {
    let Some(bus) = app.router.bus() else {
        return cors.error(EngineError::UnknownSid);
    };
    let limit = app.hub.config().limits.max_message_bytes;
    let kind = match (websocket, req.method()) {
        (false, &Method::GET) => Kind::Poll,
        (false, &Method::POST) => match polling::read(req, body, limit).await {
            Ok((bytes, binary)) => Kind::Post {
                body: encode(&bytes, binary),
                binary,
            },
            Err(Refused::TooLarge) => Kind::TooLarge,
            Err(refused) => return refused.respond(cors),
        },
        _ => return cors.error(EngineError::BadRequest),
    };
    let mut call = app.engine.calls.open(node);
    let (id, from) = (call.id, app.router.node());
    bus.tell(
        node,
        &Control::EngineRequest(Box::new(EngineRequest {
            id,
            from,
            sid,
            kind,
        })),
    );
    let Some(cluster) = &app.cluster else {
        return cors.error(EngineError::UnknownSid);
    };
    match call.answer(&cluster.health, wait(app)).await {
        Some(EngineReply::Payload(payload)) => cors.payload(payload),
        Some(EngineReply::Accepted) => cors.ok(),
        Some(EngineReply::Refused(code)) => cors.error(EngineError::from_code(code)),
        Some(EngineReply::TooLarge) => Refused::TooLarge.respond(cors),
        None => cors.error(EngineError::UnknownSid),
    }
}

/// How long a forwarded request may take: a poll waits up to the ping interval and
/// timeout for something to send.
fn wait(app: &AppState) -> Duration {
    super::rules::silence(app.hub.config()) + Duration::from_secs(5)
}

fn encode(bytes: &[u8], binary: bool) -> String {
    match binary {
        true => base64::engine::general_purpose::STANDARD.encode(bytes),
        false => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// On the session's node: answers a request another node passed on.
pub(crate) fn serve(app: Arc<AppState>, request: EngineRequest) {
    if let Some(bus) = app.router.bus() {
        bus.tell(request.from, &Control::Received { id: request.id });
    }
    tokio::spawn(async move {
        let EngineRequest {
            id,
            from,
            sid,
            kind,
        } = request;
        let reply = match app.engine.get(&sid) {
            Some(Entry::Polling(session)) => answer(&session, kind, &app).await,
            // A session carried by a WebSocket takes no polls (as one upgraded since).
            Some(Entry::WebSocket) => EngineReply::Refused(EngineError::BadRequest.code()),
            None => EngineReply::Refused(EngineError::UnknownSid.code()),
        };
        if let Some(bus) = app.router.bus() {
            bus.tell(from, &Control::EngineReply { id, reply });
        }
    });
}

async fn answer(session: &Session, kind: Kind, app: &AppState) -> EngineReply {
    let refused = |refused: Refused| match refused {
        Refused::Engine(e) => EngineReply::Refused(e.code()),
        Refused::TooLarge => EngineReply::TooLarge,
    };
    match kind {
        Kind::Poll => match polling::poll(session, app).await {
            Ok(payload) => EngineReply::Payload(payload),
            Err(e) => EngineReply::Refused(e.code()),
        },
        Kind::Post { body, binary } => {
            let bytes = match binary {
                true => base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap_or_default(),
                false => body.into_bytes(),
            };
            match polling::accept(session, &bytes, binary).await {
                Ok(()) => EngineReply::Accepted,
                Err(e) => refused(e),
            }
        }
        Kind::TooLarge => {
            session.deliver(super::session::Inbound::TooLarge).await;
            EngineReply::TooLarge
        }
    }
}
