//! `/healthz`: the process is alive and serving HTTP. `/readyz`: this node should get
//! new clients: its store answers, it is not draining or shutting down, and in a
//! cluster, Redis answers its heartbeats. A load
//! balancer sends traffic by `/readyz` and restarts by `/healthz`.

use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

/// `GET /healthz`: 200 `{"status": "ok", "workspaces": n}` while the process serves.
pub async fn healthz(app: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "workspaces": app.hub.workspace_count(),
    }))
}

/// `GET /readyz`: 200 `{"ready": true}`, or 503 `{"ready": false, "reason"}` with
/// `reason` one of `draining` (drain or shutdown under way), `redis` (a cluster node
/// whose Redis does not answer: it serves its own members only) and `store` (the store
/// fails to write).
pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    let reason = if app.is_stopping() {
        Some("draining")
    } else if app.cluster.as_ref().is_some_and(|c| !c.redis_up()) {
        Some("redis")
    } else if !app.hub.store_ready().await {
        Some("store")
    } else {
        None
    };
    match reason {
        None => HttpResponse::Ok().json(json!({"ready": true})),
        Some(reason) => HttpResponse::ServiceUnavailable().json(json!({
            "ready": false,
            "reason": reason,
        })),
    }
}
