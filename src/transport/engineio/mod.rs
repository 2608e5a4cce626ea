//! Engine.IO protocol 3, the transport under Socket.IO 1.x and 2.x (COMPAT.md 1): a
//! session (`sid`) carried first by HTTP long-polling, then, once a WebSocket probe
//! succeeds, by that WebSocket; or by a WebSocket from the start.
//!
//! No Engine.IO crate runs on actix-web (socketioxide's engine is a tower service for
//! hyper, with its own sessions, limits and Socket.IO layer), so the few rules of the
//! protocol are written here, after engine.io 3.x's server, and checked against
//! socket.io-client 2.x in `tests/compat` and `tests/entrance`.
//!
//! Every session is served by a task that owns the protocol's [`FrameHandler`] and keeps
//! the session's rules ([`rules`]): the rate, the heartbeat deadline and the outbox's
//! stall watch. A session that was a WebSocket from the start is that one task, reading
//! and writing its socket as a native WebSocket connection does ([`direct`]); a polling
//! session's task is fed by its requests and, once upgraded, by its WebSocket
//! ([`session`]). Either way its outbox is registered with the router like a
//! WebSocket's, so the core and shutdown reach it the same way.

mod body;
mod direct;
pub(crate) mod elsewhere;
mod lifecycle;
mod packet;
mod polling;
mod rules;
mod session;
mod websocket;

use crate::http::AppState;
use crate::transport::ws::{Accepted, FrameHandler};
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use session::Session;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub(crate) use packet::ENGINE_SEPARATOR;

/// The message packets of a polling payload, read as text and as binary (for the fuzz
/// target `socketio_payloads`).
pub(crate) fn messages(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body)
        .ok()
        .and_then(|t| packet::decode_text(t).ok());
    let binary = packet::decode_binary(body).ok();
    text.into_iter()
        .chain(binary)
        .flatten()
        .filter_map(|p| match p {
            packet::Packet::Message(text) => Some(text.to_string()),
            _ => None,
        })
        .collect()
}

/// Every open Engine.IO session of this node, by `sid`.
#[derive(Default)]
pub(crate) struct Sessions {
    map: RwLock<HashMap<Arc<str>, Entry>>,
    /// Requests passed to other nodes' sessions, awaiting their answers.
    pub(crate) calls: crate::cluster::calls::Calls<elsewhere::EngineReply>,
}

/// What a request naming a session reaches.
#[derive(Clone)]
enum Entry {
    /// A session that began polling: its requests and its WebSocket reach it.
    Polling(Arc<Session>),
    /// A session that was a WebSocket from the start: a request naming it is refused.
    WebSocket,
}

impl Sessions {
    fn get(&self, sid: &str) -> Option<Entry> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(sid)
            .cloned()
    }

    /// Adds session `sid` unless `max` are open already.
    fn insert(&self, sid: Arc<str>, entry: Entry, max: usize) -> bool {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= max {
            return false;
        }
        map.insert(sid, entry);
        true
    }

    /// Unlists `session`, whose close packet a poll took: the client's next request
    /// names an unknown session (400, code 1, as engine.io answers), even before the
    /// session's task has ended. Its task unlists it again at its end, to no effect.
    fn forget(&self, session: &Session) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if matches!(map.get(&*session.sid), Some(Entry::Polling(listed)) if std::ptr::eq(&**listed, session))
        {
            map.remove(&*session.sid);
        }
    }

    fn remove(&self, sid: &str) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sid);
    }
}

/// The query every Engine.IO request carries.
#[derive(Deserialize)]
struct EngineQuery {
    #[serde(rename = "EIO")]
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
    /// JSONP polling's callback index: for browsers without XHR, which socket.io-client
    /// 2 never meets; not served.
    j: Option<String>,
}

/// The errors engine.io 3 answers with 400 and a JSON body, and the one Switchboard adds
/// for newer clients (COMPAT.md 1).
#[derive(Debug, Clone, Copy)]
enum EngineError {
    TransportUnknown,
    UnknownSid,
    BadHandshakeMethod,
    BadRequest,
    UnsupportedVersion,
}

impl EngineError {
    /// Engine.IO's number for it.
    fn code(self) -> u8 {
        match self {
            EngineError::TransportUnknown => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest => 3,
            EngineError::UnsupportedVersion => 5,
        }
    }

    fn from_code(code: u8) -> EngineError {
        [
            EngineError::TransportUnknown,
            EngineError::UnknownSid,
            EngineError::BadHandshakeMethod,
            EngineError::UnsupportedVersion,
        ]
        .into_iter()
        .find(|e| e.code() == code)
        .unwrap_or(EngineError::BadRequest)
    }

    fn body(self) -> serde_json::Value {
        let (code, message) = match self {
            EngineError::TransportUnknown => (0, "Transport unknown"),
            EngineError::UnknownSid => (1, "Session ID unknown"),
            EngineError::BadHandshakeMethod => (2, "Bad handshake method"),
            EngineError::BadRequest => (3, "Bad request"),
            EngineError::UnsupportedVersion => (
                5,
                "Unsupported protocol version: this server speaks Engine.IO 3",
            ),
        };
        json!({"code": code, "message": message})
    }
}

/// Serves one request to the Engine.IO endpoint: a handshake (a new session whose
/// handler `protocol` builds), a poll, a POST of packets, or a WebSocket. Refusals:
/// 503 while shutting down or at `max_sessions`, 403 for an origin not in
/// `allowed_origins`, 400 with engine.io's JSON errors for the rest.
pub(crate) async fn serve<H, F>(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
    protocol: F,
) -> HttpResponse
where
    H: FrameHandler + 'static,
    F: FnOnce(&Accepted) -> H,
{
    // A stopping node opens no new session, but its sessions' requests go on: their
    // last poll carries the close.
    if let Some(refused) = crate::transport::ws::origin_refusal(&req, &app) {
        return refused;
    }
    let config = app.hub.config();
    let cors = Cors(crate::http::cors::Cors::of(&req, &app).with_credentials());
    if req.method() == Method::OPTIONS {
        return cors.preflight(&req);
    }
    let query = match web::Query::<EngineQuery>::from_query(req.query_string()) {
        Ok(query) => query.into_inner(),
        Err(_) => return cors.error(EngineError::BadRequest),
    };
    if query.eio.as_deref().is_some_and(|v| v != "3") {
        return cors.error(EngineError::UnsupportedVersion);
    }
    if query.j.is_some() {
        return cors.error(EngineError::BadRequest);
    }
    let websocket = match query.transport.as_deref() {
        Some("polling") => false,
        Some("websocket") => true,
        _ => return cors.error(EngineError::TransportUnknown),
    };
    let Some(sid) = query.sid else {
        if req.method() != Method::GET {
            return cors.error(EngineError::BadHandshakeMethod);
        }
        if let Some(refused) = crate::transport::ws::unavailable(&app) {
            return refused;
        }
        return handshake(&req, &app, websocket, protocol, &cors).await;
    };
    let Some(entry) = app.engine.get(&sid) else {
        if let Some(node) = elsewhere::node_of(&app, &sid) {
            return elsewhere::forward(&req, body, &app, (node, sid), websocket, &cors).await;
        }
        return cors.error(EngineError::UnknownSid);
    };
    let method = req.method().clone();
    match (websocket, method, entry) {
        (true, Method::GET, entry) => websocket::upgrade(&req, &app, entry),
        // A session carried by a WebSocket takes no polls (as one upgraded since).
        (false, _, Entry::WebSocket) => cors.error(EngineError::BadRequest),
        (false, Method::GET, Entry::Polling(session)) => {
            match polling::poll(&session, &app).await {
                Ok(payload) => cors.payload(payload),
                Err(e) => cors.error(e),
            }
        }
        (false, Method::POST, Entry::Polling(session)) => {
            match polling::post(&session, &req, body, config).await {
                Ok(()) => cors.ok(),
                Err(refusal) => refusal.respond(&cors),
            }
        }
        _ => cors.error(EngineError::BadRequest),
    }
}

/// A new session: its open packet and whatever the handler queues first, then the
/// transport it came on. 503 at `max_sessions`.
async fn handshake<H, F>(
    req: &HttpRequest,
    app: &web::Data<AppState>,
    websocket: bool,
    protocol: F,
    cors: &Cors,
) -> HttpResponse
where
    H: FrameHandler + 'static,
    F: FnOnce(&Accepted) -> H,
{
    if websocket {
        // A WebSocket handshake that would fail must not leave a session behind.
        return match crate::transport::upgrade::handshake(req) {
            Ok(response) => direct::open(req, app, response, protocol),
            Err(refused) => refused.into(),
        };
    }
    let Some(session) = session::open(req, app, protocol) else {
        return HttpResponse::ServiceUnavailable().body("too many sessions");
    };
    // The open packet and the handler's first packets are queued: the first poll
    // answers at once.
    match polling::poll(&session, app).await {
        Ok(payload) => cors.payload(payload),
        Err(e) => cors.error(e),
    }
}

/// CORS for polling responses (COMPAT.md 1): the request's `Origin` reflected, with
/// credentials, since socket.io-client 2 sends cookies and a browser refuses `*` then.
struct Cors(crate::http::cors::Cors);

impl Cors {
    fn with_fields(&self, mut response: HttpResponse) -> HttpResponse {
        self.0.insert(response.headers_mut());
        response
    }

    fn preflight(&self, req: &HttpRequest) -> HttpResponse {
        let headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| header::HeaderValue::from_static("Content-Type"));
        self.0.preflight("GET, POST, OPTIONS", headers)
    }

    fn error(&self, error: EngineError) -> HttpResponse {
        self.with_fields(HttpResponse::BadRequest().json(error.body()))
    }

    fn payload(&self, payload: String) -> HttpResponse {
        let response = HttpResponse::Ok()
            .content_type("text/plain; charset=UTF-8")
            .body(payload);
        self.with_fields(response)
    }

    /// engine.io's answer to a POST of packets.
    fn ok(&self) -> HttpResponse {
        let response = HttpResponse::Ok().content_type("text/html").body("ok");
        self.with_fields(response)
    }
}
