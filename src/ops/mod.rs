//! Operations: what an operator looks at and steers (docs/operations.md). Metrics for
//! Prometheus, health for load balancers, and the admin API and console behind
//! `ADMIN_TOKEN`, with the drain that moves clients off this node.

pub(crate) mod admin;
mod health;
pub(crate) mod metrics;

use crate::http::AppState;
use actix_web::web;
use std::sync::Arc;

/// `/healthz`, `/readyz` and `/metrics`: on the main listener, or on `[metrics] listen`.
pub(crate) fn probes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::scrape));
}

/// The routes of the main listener: the probes unless they have their own listener,
/// and the admin API and console when `ADMIN_TOKEN` is set.
pub(crate) fn routes(app: &Arc<AppState>, cfg: &mut web::ServiceConfig) {
    let config = app.hub.config();
    if config.metrics.listen.is_none() {
        probes(cfg);
    } else {
        // Load balancers probe the serving port: health stays here too.
        cfg.route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz));
    }
    if admin::enabled(config) {
        admin::routes(cfg);
    }
}
