//! The admin API's handlers. Each takes an [`Operator`], so none runs for a request
//! without the token. Shapes are in docs/operations.md.

use super::{AdminError, Operator};
use crate::core::counters::{Protocol, Transport};
use crate::core::switch::Namespace;
use crate::error::Error;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

type Answer = Result<HttpResponse, AdminError>;

#[derive(Deserialize)]
pub(super) struct Search {
    #[serde(default)]
    q: String,
}

/// `GET /admin/api/workspaces?q=`: `{"workspaces": [{id, name, members, online,
/// created_at}]}`, newest first, those whose id or name contains `q`.
pub(super) async fn list(
    _: Operator,
    app: web::Data<AppState>,
    search: web::Query<Search>,
) -> Answer {
    Ok(HttpResponse::Ok().json(json!({"workspaces": app.hub.list(&search.q)})))
}

/// `GET /admin/api/workspaces/{id}`: `{id, name, online, created_at, pin_protected,
/// members: [{id, name, role, online, protocol}]}`. 404 `workspace_not_found`.
pub(super) async fn inspect(
    _: Operator,
    app: web::Data<AppState>,
    id: web::Path<String>,
) -> Answer {
    Ok(HttpResponse::Ok().json(app.hub.inspect(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Kick {
    attendee_id: String,
    #[serde(default)]
    ban: bool,
}

/// `POST /admin/api/workspaces/{id}/kick` `{"attendee_id", "ban"?}`: `{attendee_id,
/// ban}` once durable, with the new `invite` after a ban. 404 `workspace_not_found` or
/// `unknown_attendee`, 403 `forbidden` for the owner.
pub(super) async fn kick(
    _: Operator,
    app: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Answer {
    let Kick { attendee_id, ban } = json_body(&body)?;
    let answer = match app.hub.operator_kick(&id, &attendee_id, ban).await? {
        Some(invite) => json!({"attendee_id": attendee_id, "ban": ban, "invite": invite}),
        None => json!({"attendee_id": attendee_id, "ban": ban}),
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /admin/api/workspaces/{id}/rotate-invite`: `{"invite"}`, the new invite.
pub(super) async fn rotate_invite(
    _: Operator,
    app: web::Data<AppState>,
    id: web::Path<String>,
) -> Answer {
    let invite = app.hub.operator_rotate_invite(&id).await?;
    Ok(HttpResponse::Ok().json(json!({"invite": invite})))
}

/// `DELETE /admin/api/workspaces/{id}`: `{"workspace_id"}` once durable.
pub(super) async fn destroy(
    _: Operator,
    app: web::Data<AppState>,
    id: web::Path<String>,
) -> Answer {
    app.hub.operator_destroy(&id).await?;
    Ok(HttpResponse::Ok().json(json!({"workspace_id": id.into_inner()})))
}

#[derive(Deserialize)]
pub(super) struct PeersQuery {
    protocol: Option<String>,
}

/// `GET /admin/api/peers?protocol=`: `{"peers": [{protocol, id}]}` of the peer-id
/// endpoints (`signal_fire`, `bootstrap`, `peero`), of one when `protocol` is given.
/// 400 `bad_request` for another protocol.
pub(super) async fn peers(
    _: Operator,
    app: web::Data<AppState>,
    query: web::Query<PeersQuery>,
) -> Answer {
    let switch = &app.switch;
    let namespaces: [(Protocol, &Namespace); 4] = [
        (Protocol::SignalFire, &switch.signal_fire),
        (Protocol::Bootstrap, &switch.bootstrap_root),
        (Protocol::Bootstrap, &switch.bootstrap_joins),
        (Protocol::Peero, &switch.peero),
    ];
    let wanted = query.protocol.as_deref().filter(|p| !p.is_empty());
    if let Some(wanted) = wanted {
        if !namespaces.iter().any(|(p, _)| p.label() == wanted) {
            let why = format!("protocol is one of signal_fire, bootstrap, peero; not {wanted:?}");
            return Err(Error::bad_request(why).into());
        }
    }
    let peers: Vec<_> = namespaces
        .iter()
        .filter(|(p, _)| wanted.is_none_or(|w| w == p.label()))
        .flat_map(|(p, ns)| {
            ns.list("")
                .into_iter()
                .map(|id| json!({"protocol": p.label(), "id": id}))
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"peers": peers})))
}

/// `POST /admin/api/drain`: 202 `{"draining": true}`. The node stops taking
/// connections, closes every one with 1012 and exits once they are gone, or after
/// `server.shutdown_grace_secs` (see `server.rs`).
pub(super) async fn drain(_: Operator, app: web::Data<AppState>) -> Answer {
    tracing::warn!("drain requested through the admin API");
    app.drain.cancel();
    Ok(HttpResponse::Accepted().json(json!({"draining": true})))
}

/// `GET /admin/api/stats`: the console's figures. `{connections, workspaces,
/// members_online, members_offline, relayed_messages, alerts, draining}`; the counts
/// are totals since start, the console derives rates.
pub(super) async fn stats(_: Operator, app: web::Data<AppState>) -> Answer {
    let counters = &app.counters;
    let connections: i64 = Protocol::ALL
        .iter()
        .flat_map(|p| Transport::ALL.map(|t| counters.connection_count(*p, t)))
        .sum();
    let relayed: u64 = Protocol::ALL
        .map(|p| counters.relayed_count(p))
        .iter()
        .sum();
    let presence = app.hub.presence();
    Ok(HttpResponse::Ok().json(json!({
        "connections": connections,
        "workspaces": app.hub.workspace_count(),
        "members_online": presence.online,
        "members_offline": presence.offline,
        "relayed_messages": relayed,
        "alerts": counters.alert_total(),
        "draining": app.is_stopping(),
    })))
}

/// Any other path under `/admin/api`: 404 with the error JSON, for an operator only
/// (to others it is 401, as every admin path).
pub(super) async fn unknown(_: Operator) -> Answer {
    Ok(HttpResponse::NotFound().json(json!({
        "code": "not_found",
        "message": "no such admin API path",
    })))
}

/// A JSON body of `T`; `bad_request` naming what is wrong otherwise.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| Error::bad_request(e.to_string()).into())
}
