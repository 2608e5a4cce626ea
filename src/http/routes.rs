//! Plain HTTP routes: the landing page, and ICE servers for members.

use super::AppState;
use crate::error::{Error, TokenRefusal};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

const STATUS_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Switchboard</title>\
<p>Switchboard is running. WebSocket clients connect to <code>/ws</code>.</p>";

/// The demo app's index.html when `public_dir` has one, else a short status page.
pub async fn index(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let index = app
        .hub
        .config()
        .server
        .public_dir
        .as_ref()
        .map(|d| d.join("index.html"))
        .filter(|p| p.is_file());
    if let Some(path) = index {
        if let Ok(file) = actix_files::NamedFile::open_async(path).await {
            return file.into_response(&req);
        }
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(STATUS_PAGE)
}

/// `GET /iceservers` with `Authorization: Bearer <session token>`.
pub async fn ice_servers(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let result = match token {
        None => Err(Error::InvalidToken(TokenRefusal::NoBearer)),
        Some(token) => match app.hub.verify_member(token).await {
            Ok(claims) => app.ice.servers(&claims.sub).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(servers) => HttpResponse::Ok().json(servers),
        Err(e) => error_response(&e),
    }
}

pub(super) fn error_response(error: &Error) -> HttpResponse {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    response.json(json!({"code": error.code(), "message": error.to_string()}))
}
