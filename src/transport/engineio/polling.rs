//! HTTP long-polling: a GET takes what the session's outbox holds (waiting for the
//! first packet), a POST brings the client's packets. One poll at a time: the outbox's
//! reading end is held by the poll in progress, and a second one is refused, as
//! engine.io refuses overlapping polls.

use super::packet::{self, ENGINE_SEPARATOR};
use super::session::{Inbound, Session};
use super::{Cors, EngineError};
use crate::config::Config;
use crate::core::conn::Outgoing;
use crate::http::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::{FutureExt, StreamExt};

/// Bytes of packets one poll hands over, at most; the rest waits for the next poll.
const POLL_BYTES: usize = 256 * 1024;

/// The payload of one poll: every packet queued now, or, if none is, the first one to
/// come within the ping interval plus the ping timeout (a noop when none comes). A
/// payload that ends with the close packet unlists the session at once: the client's
/// next request names an unknown session, whatever its task still has to do.
pub(super) async fn poll(session: &Session, app: &AppState) -> Result<String, EngineError> {
    let (payload, closed) = take(session, app.hub.config()).await?;
    if closed {
        app.engine.forget(session);
    }
    Ok(payload)
}

/// The payload, and whether it ends with the close packet.
async fn take(session: &Session, config: &Config) -> Result<(String, bool), EngineError> {
    if session.is_upgraded() {
        return Err(EngineError::BadRequest);
    }
    let Some(mut rx) = session.poll_outbox() else {
        return Err(EngineError::BadRequest);
    };
    let mut payload = String::new();
    let first = std::future::poll_fn(|cx| rx.poll_recv(cx));
    let first = if session.is_probing() {
        // The client pauses polling once its probe succeeds, and waits for the poll in
        // flight to end first: answer at once (engine.io sends noops meanwhile).
        first.now_or_never()
    } else {
        tokio::time::timeout(super::rules::silence(config), first)
            .await
            .ok()
    };
    let mut closed = false;
    match first {
        None => packet::encode_into(&mut payload, "6"),
        Some(None) => closed = true,
        Some(Some(item)) => {
            closed = !add(&mut payload, item);
            while !closed && payload.len() < POLL_BYTES {
                match std::future::poll_fn(|cx| rx.poll_recv(cx)).now_or_never() {
                    Some(Some(item)) => closed = !add(&mut payload, item),
                    Some(None) => closed = true,
                    None => break,
                }
            }
        }
    }
    if closed {
        packet::encode_into(&mut payload, "1");
    }
    Ok((payload, closed))
}

/// Appends one outbox item; `false` for the close, which ends the session's output.
fn add(payload: &mut String, item: Outgoing) -> bool {
    match item {
        Outgoing::Text(text) => {
            for packet in text.split(ENGINE_SEPARATOR) {
                packet::encode_into(payload, packet);
            }
            true
        }
        // The caller writes the close packet.
        Outgoing::Close(..) => false,
        // WebSocket control frames: nothing to say over HTTP.
        Outgoing::Ping | Outgoing::Pong(_) => true,
    }
}

/// Why a POST was refused.
pub(super) enum Refused {
    Engine(EngineError),
    /// The body is over `max_message_bytes`: 413, and the session ends as a WebSocket
    /// does on a message over the limit.
    TooLarge,
}

impl Refused {
    pub(super) fn respond(self, cors: &Cors) -> HttpResponse {
        match self {
            Refused::Engine(e) => cors.error(e),
            Refused::TooLarge => {
                cors.with_fields(HttpResponse::PayloadTooLarge().body("payload too large"))
            }
        }
    }
}

/// Reads a POST's payload, bounded by `max_message_bytes` before it is buffered, and
/// hands its packets to the session. A payload engine.io-parser would not have written
/// ends the session, as engine.io ends it on a parse error.
pub(super) async fn post(
    session: &Session,
    req: &HttpRequest,
    body: web::Payload,
    config: &Config,
) -> Result<(), Refused> {
    if session.is_upgraded() {
        return Err(Refused::Engine(EngineError::BadRequest));
    }
    match read(req, body, config.limits.max_message_bytes).await {
        Ok((bytes, binary)) => accept(session, &bytes, binary).await,
        Err(Refused::TooLarge) => {
            session.deliver(Inbound::TooLarge).await;
            Err(Refused::TooLarge)
        }
        Err(refused) => Err(refused),
    }
}

/// A POST's payload, at most `limit` bytes, and whether it is binary.
pub(super) async fn read(
    req: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
) -> Result<(web::BytesMut, bool), Refused> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Refused::TooLarge);
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return Err(Refused::Engine(EngineError::BadRequest));
        };
        if bytes.len() + chunk.len() > limit {
            return Err(Refused::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
    Ok((bytes, binary))
}

/// Hands the packets of a POST's payload to the session.
pub(super) async fn accept(session: &Session, bytes: &[u8], binary: bool) -> Result<(), Refused> {
    if session.is_upgraded() {
        return Err(Refused::Engine(EngineError::BadRequest));
    }
    let packets = if binary {
        packet::decode_binary(bytes)
    } else {
        std::str::from_utf8(bytes)
            .map_err(|_| packet::ParseError)
            .and_then(packet::decode_text)
    };
    let Ok(packets) = packets else {
        tracing::debug!(sid = %session.sid, "unparsable polling payload");
        session.out.close(
            crate::core::conn::outbox::CLOSE_PROTOCOL,
            "unparsable payload",
        );
        return Err(Refused::Engine(EngineError::BadRequest));
    };
    if packets.is_empty() || session.deliver(Inbound::Packets(packets)).await {
        Ok(())
    } else {
        Err(Refused::Engine(EngineError::UnknownSid))
    }
}
