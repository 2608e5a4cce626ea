//! `GET /invite-info?invite=<invite token>`: what a join page shows before its form is
//! filled. The workspace's name and whether it asks for a PIN, or at once why the invite
//! leads nowhere (expired, rotated away, the workspace gone), in the error body every
//! HTTP route answers. Public, like the invite link itself, and limited per client
//! address (see `Hub::preview_invite`).

use super::client_addr::client_addr;
use super::routes::error_response;
use super::AppState;
use crate::error::Error;
use actix_web::error::QueryPayloadError;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct InviteQuery {
    invite: String,
}

/// The 200 body, its fields in this order.
#[derive(Serialize)]
struct InviteInfo {
    workspace_id: String,
    name: String,
    pin_required: bool,
}

/// 200 `{"workspace_id", "name", "pin_required"}` for a live invite; otherwise the
/// error's status with `{"code", "message"}` (401 `invalid_token` or `expired_token`,
/// 404 `workspace_not_found`, 403 `forbidden`, 429 `rate_limited`, 400 `bad_request`
/// without `invite`).
pub(super) async fn invite_info(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    // serde's words alone ("missing field `invite`"), without actix's prefix.
    let query = web::Query::<InviteQuery>::from_query(req.query_string()).map_err(|e| match e {
        QueryPayloadError::Deserialize(e) => Error::bad_request(e.to_string()),
        e => Error::bad_request(e.to_string()),
    });
    let ip = client_addr(&req, &app.hub.config().server);
    let preview = match query {
        Ok(q) => app.hub.preview_invite(&q.invite, ip).await,
        Err(e) => Err(e),
    };
    match preview {
        // The answer changes with a rotation, a new PIN or the workspace's end.
        Ok(preview) => HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .json(InviteInfo {
                workspace_id: preview.workspace_id,
                name: preview.name,
                pin_required: preview.pin_required,
            }),
        Err(e) => error_response(&e),
    }
}
