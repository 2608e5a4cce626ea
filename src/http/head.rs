//! `HEAD` wherever there is a `GET`: RFC 9110 §9.3.2 asks for the status and header
//! fields a `GET` would get, without the content. Rather than a HEAD route beside every
//! GET route (one forgotten is a 404 to the monitor that probes it), a HEAD request is
//! turned into a GET before routing. The HTTP/1 codec has already noted that the request
//! was a HEAD, and sends the head of the response with no body, whatever the handler
//! returns: `Content-Length` and every other field stay those of the GET.
//!
//! A HEAD cannot become a WebSocket (RFC 6455 §4.1: the handshake is a GET), so it loses
//! its `Upgrade` header on the way: `HEAD /ws` gets what a `GET /ws` that asks for no
//! upgrade gets.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;

/// Middleware (for `actix_web::middleware::from_fn`): a HEAD request goes on as a GET
/// without `Upgrade`; every other request as it came. Errors: the handler's, unchanged.
pub(super) async fn as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.headers_mut().remove(header::UPGRADE);
    }
    next.call(req).await
}
