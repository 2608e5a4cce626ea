//! CORS: which pages of other origins may read what Switchboard answers. A page's
//! `Origin` is reflected when `[server] allowed_origins` admits it (any origin when the
//! list is empty, see `config::origins`), never otherwise; `Vary: Origin` tells caches
//! that the answer depends on it.
//!
//! Used by the Engine.IO endpoint (its polling requests, with credentials) and by
//! [`shared`], the middleware for what an app on another origin loads over plain HTTP:
//! the SDK's files, `GET /iceservers` and `GET /invite-info`.

use super::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

/// The CORS answer to one request.
pub(crate) struct Cors {
    /// The request's `Origin`, when it is allowed.
    origin: Option<HeaderValue>,
    /// `Access-Control-Allow-Credentials: true`, for clients that send cookies (a
    /// browser refuses a credentialed answer otherwise).
    credentials: bool,
}

impl Cors {
    /// The answer to `req`: its `Origin` reflected when `app`'s `allowed_origins` admits
    /// it; nothing for a request without one (not from a page) or from another origin.
    pub(crate) fn of(req: &HttpRequest, app: &AppState) -> Cors {
        let origin = req.headers().get(header::ORIGIN);
        let server = &app.hub.config().server;
        Cors {
            origin: origin
                .filter(|o| server.origin_allowed(Some(o.as_bytes())))
                .cloned(),
            credentials: false,
        }
    }

    /// The same answer, with credentials allowed.
    pub(crate) fn with_credentials(self) -> Cors {
        Cors {
            credentials: true,
            ..self
        }
    }

    /// Adds this answer's fields to a response's headers.
    pub(crate) fn insert(&self, headers: &mut HeaderMap) {
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = &self.origin else {
            return;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if self.credentials {
            let yes = HeaderValue::from_static("true");
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, yes);
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`):
    /// `methods` and the request `headers` allowed, when the origin is.
    pub(crate) fn preflight(&self, methods: &'static str, headers: HeaderValue) -> HttpResponse {
        let mut response = HttpResponse::NoContent().finish();
        self.insert(response.headers_mut());
        if self.origin.is_some() {
            let fields = response.headers_mut();
            let methods = HeaderValue::from_static(methods);
            fields.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
            fields.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, headers);
            let max_age = HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS);
            fields.insert(header::ACCESS_CONTROL_MAX_AGE, max_age);
        }
        response
    }
}

/// Whether a page of another origin may load `path` (given CORS): the SDK's files, the
/// ICE servers, which such a page asks for with the member's session token, and the
/// invite look-up of its join page (public, like the invite it is given).
fn is_shared(path: &str) -> bool {
    matches!(path, "/iceservers" | "/invite-info") || super::sdk::serves(path)
}

/// Middleware (for `actix_web::middleware::from_fn`): CORS for [`is_shared`] paths, a
/// preflight answered before routing (`Authorization` allowed, for `/iceservers`); every
/// other request goes on untouched. Errors: the handler's, unchanged.
pub(super) async fn shared(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let app = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(app), true) = (app, is_shared(req.path())) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let cors = Cors::of(req.request(), &app);
    if req.method() == Method::OPTIONS {
        let headers = HeaderValue::from_static("Authorization");
        let response = cors.preflight("GET, HEAD, OPTIONS", headers);
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    cors.insert(response.headers_mut());
    Ok(response.map_into_left_body())
}
