//! The admin API (`/admin/api/...`) and console (`/admin`), for the operator only.
//!
//! Off unless `ADMIN_TOKEN` is set: then every admin path is a plain 404, as if it did
//! not exist. On, every API request carries `Authorization: Bearer <ADMIN_TOKEN>`,
//! compared in constant time; a missing or wrong token is 401. Each client address
//! gets `limits.admin_requests_per_minute`, wrong tokens included, so the token cannot
//! be guessed at line rate. Bodies and answers are JSON; errors are the server's
//! `{"code", "message"}` with the status of the code (see `crate::error`).

mod api;
mod console;

use crate::config::Config;
use crate::error::{Error, Limit, TokenRefusal};
use crate::http::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use std::future::{ready, Ready};
use subtle::ConstantTimeEq;

/// Whether the admin API and console are served.
pub(crate) fn enabled(config: &Config) -> bool {
    config.secrets.admin.as_ref().is_some_and(|t| !t.is_empty())
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(console::page))
        .route("/admin/console.js", web::get().to(console::script))
        .service(
            web::scope("/admin/api")
                .route("/stats", web::get().to(api::stats))
                .route("/workspaces", web::get().to(api::list))
                .route("/workspaces/{id}", web::get().to(api::inspect))
                .route("/workspaces/{id}", web::delete().to(api::destroy))
                .route("/workspaces/{id}/kick", web::post().to(api::kick))
                .route(
                    "/workspaces/{id}/rotate-invite",
                    web::post().to(api::rotate_invite),
                )
                .route("/peers", web::get().to(api::peers))
                .route("/drain", web::post().to(api::drain))
                .default_service(web::to(api::unknown)),
        );
}

/// A request that proved it comes from the operator: handlers take one to be reached.
pub(crate) struct Operator;

impl FromRequest for Operator {
    type Error = AdminError;
    type Future = Ready<Result<Operator, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req).map(|()| Operator))
    }
}

fn authorize(req: &HttpRequest) -> Result<(), AdminError> {
    let app = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Error::internal("no app state"))?;
    let config = app.hub.config();
    let ip = crate::http::client_addr::client_addr(req, &config.server);
    if !app.admin_limiter.try_take(ip, std::time::Instant::now()) {
        return Err(Error::RateLimited(Limit::Admin).into());
    }
    let expected = config.secrets.admin.as_ref().map(|t| t.expose().as_bytes());
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().as_bytes());
    match (expected, given) {
        (Some(expected), Some(given)) if bool::from(expected.ct_eq(given)) => Ok(()),
        (_, None) => Err(Error::InvalidToken(TokenRefusal::NoAdminBearer).into()),
        _ => {
            tracing::warn!(%ip, path = req.path(), "admin API: wrong token");
            Err(Error::InvalidToken(TokenRefusal::NotAdmin).into())
        }
    }
}

/// An admin request's failure, answered as the server's error JSON.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct AdminError(#[from] pub(crate) Error);

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(serde_json::json!({"code": self.0.code(), "message": self.0.to_string()}))
    }
}
