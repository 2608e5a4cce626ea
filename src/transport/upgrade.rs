//! A WebSocket upgrade, from the request to the connection's own task.
//!
//! actix-http gives every request that asks for `Upgrade: websocket` to
//! [`hand_over`], with the connection. The routes answer it as any other request; an
//! endpoint that accepts the WebSocket answers 101 with a [`Handover`] in the response's
//! extensions. The handshake is then written, and the connection, with whatever the
//! client sent after its request, goes to the task the endpoint prepared: nothing of
//! the HTTP dispatcher stays behind. Any other answer (403, 503, 400, 404) is written
//! as is, and the connection ends.

use actix_codec::Framed;
use actix_http::body::{BodySize, MessageBody};
use actix_http::h1::{Codec, Message};
use actix_http::{Request, Response, ResponseBuilder, StatusCode};
use actix_service::Service;
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::rt::net::TcpStream;
use actix_web::{HttpMessage as _, HttpResponse};
use bytes::BytesMut;
use futures_util::SinkExt;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::rc::Rc;
use tokio::io::{AsyncRead, AsyncWrite};

/// A connection's byte stream: plain TCP or TLS.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The TCP socket's descriptor, to set its options.
    fn fd(&self) -> RawFd;

    /// The same stream, its socket moved to the reactor of the tokio runtime entered:
    /// a task of that runtime can then drive it (see `super::runtime`). Fails when the
    /// socket cannot be taken off its reactor, or added to the new one.
    fn rehome(self: Box<Self>) -> std::io::Result<Box<dyn Stream>>;
}

impl Stream for TcpStream {
    fn fd(&self) -> RawFd {
        self.as_raw_fd()
    }

    fn rehome(self: Box<Self>) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(TcpStream::from_std(self.into_std()?)?))
    }
}

impl Stream for TlsStream<TcpStream> {
    fn fd(&self) -> RawFd {
        self.get_ref().0.as_raw_fd()
    }

    /// tokio-rustls cannot rebuild a stream from a socket and a session, so the socket
    /// under the session is swapped for a duplicate of its descriptor, registered with
    /// the new reactor; the original leaves the old one as it is dropped.
    fn rehome(mut self: Box<Self>) -> std::io::Result<Box<dyn Stream>> {
        let socket = self.get_mut().0;
        let duplicate = std::net::TcpStream::from(socket.as_fd().try_clone_to_owned()?);
        drop(std::mem::replace(socket, TcpStream::from_std(duplicate)?));
        Ok(self)
    }
}

/// A connection whose WebSocket handshake has been written (or could not be: then the
/// stream reads as ended).
pub(crate) struct Upgraded {
    pub stream: Box<dyn Stream>,
    /// What the client sent after its request, already read.
    pub read: BytesMut,
}

/// What an endpoint that accepts a WebSocket leaves in its 101 response: the start of
/// the connection's task, given the connection once the handshake is written.
pub(crate) struct Handover(Box<dyn FnOnce(Upgraded)>);

impl Handover {
    pub(crate) fn new(start: impl FnOnce(Upgraded) + 'static) -> Handover {
        Handover(Box::new(start))
    }
}

/// Marks a request that came through [`hand_over`]: only those can be handed over.
#[derive(Clone, Copy)]
struct Upgrading;

/// The WebSocket handshake of `req` (RFC 6455 §4.2.1, as actix-http checks it): the
/// 101 to answer, or the refusal. A request actix-http did not take for an upgrade
/// (`Upgrade` naming more than `websocket`, a chunked body) is refused 400 too: its
/// connection could not be handed over.
pub(crate) fn handshake(req: &actix_web::HttpRequest) -> Result<ResponseBuilder, Refusal> {
    if req.extensions().get::<Upgrading>().is_none() {
        return Err(Refusal::NotHandedOver);
    }
    actix_http::ws::handshake(req.head()).map_err(Refusal::Handshake)
}

/// Why a WebSocket handshake is refused; answered as an HTTP status.
pub(crate) enum Refusal {
    NotHandedOver,
    Handshake(actix_http::ws::HandshakeError),
}

impl From<Refusal> for HttpResponse {
    fn from(refusal: Refusal) -> HttpResponse {
        match refusal {
            Refusal::NotHandedOver => HttpResponse::BadRequest().body("not a WebSocket upgrade"),
            Refusal::Handshake(e) => Response::from(e).into(),
        }
    }
}

/// Answers an upgrade request through `routes`, then either hands the connection over
/// or writes the refusal and lets the connection end. Never fails: a connection that
/// breaks here only ends.
pub(crate) async fn hand_over<S, B, T>(
    routes: Rc<S>,
    req: Request,
    mut framed: Framed<T, Codec>,
) -> Result<(), actix_http::Error>
where
    S: Service<Request, Error = actix_web::HttpResponse>,
    S::Response: Into<Response<B>>,
    B: MessageBody + 'static,
    T: Stream,
{
    req.extensions_mut().insert(Upgrading);
    let response: Response<_> = match routes.call(req).await {
        Ok(response) => response.into().map_into_boxed_body(),
        Err(refusal) => refusal.into(),
    };
    let (mut head, body) = response.into_parts();
    let handover = head.extensions_mut().remove::<Handover>();
    match handover {
        Some(Handover(start)) if head.status() == StatusCode::SWITCHING_PROTOCOLS => {
            // A handshake that cannot be written leaves a stream that reads as ended:
            // the connection's task starts and ends as for any client gone.
            if let Err(e) = framed.send(Message::Item((head, BodySize::None))).await {
                tracing::debug!("WebSocket handshake not written: {e}");
            }
            let parts = framed.into_parts();
            start(Upgraded {
                stream: Box::new(parts.io),
                read: parts.read_buf,
            });
        }
        _ => {
            let body = actix_http::body::to_bytes(body).await.unwrap_or_default();
            // The codec took the request's `Connection: upgrade`; this answer closes.
            head.head_mut()
                .set_connection_type(actix_http::ConnectionType::Close);
            let size = BodySize::Sized(body.len() as u64);
            let written = async {
                framed.send(Message::Item((head, size))).await?;
                framed.send(Message::Chunk(Some(body))).await
            };
            if let Err(e) = written.await {
                tracing::debug!("refusal of an upgrade not written: {e}");
            }
        }
    }
    Ok(())
}
