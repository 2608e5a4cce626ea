//! The HTTP face of the server: routes, static files, and the WebSocket endpoint.

pub(crate) mod client_addr;
pub(crate) mod cors;
mod head;
mod invite_info;
mod routes;
mod sdk;

use crate::adapters::bootstrap::JoinIds;
use crate::core::conn::Router;
use crate::core::counters::Counters;
use crate::core::switch::Switch;
use crate::core::workspaces::Hub;
use crate::ice::Ice;
use actix_web::middleware::from_fn;
use actix_web::web;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared by every worker thread.
pub struct AppState {
    pub hub: Arc<Hub>,
    pub ice: Arc<Ice>,
    /// Cancelled when the server stops taking connections, for a shutdown (every
    /// socket closes with 1001) or a drain (1012): new ones get 503, `/readyz` 503.
    pub stop: CancellationToken,
    /// Cancelled when a drain is asked for (admin API, SIGUSR1); `server.rs` then
    /// stops the node as for a shutdown, with close 1012.
    pub drain: CancellationToken,
    /// Tracks live connections, so shutdown can wait for them to drain.
    pub tracker: TaskTracker,
    /// Every open connection, by [`crate::core::conn::ConnId`]: delivery, and shutdown's
    /// close of each one.
    pub router: Arc<Router>,
    /// Peer-id namespaces of the compatible protocols.
    pub(crate) switch: Switch,
    /// What the server counted (`/metrics`).
    pub counters: Arc<Counters>,
    /// Every metric, for `/metrics`.
    pub(crate) metrics: prometheus_client::registry::Registry,
    /// `limits.admin_requests_per_minute`, per client address.
    pub(crate) admin_limiter: crate::auth::limits::AddressLimiter,
    /// webrtc-bootstrap's `/join` ids.
    pub(crate) join_ids: JoinIds,
    /// Open Engine.IO sessions, by `sid`.
    pub(crate) engine: crate::transport::engineio::Sessions,
    /// The foglet entrance rooms (COMPAT.md 1b).
    pub(crate) entrance: Arc<crate::adapters::socketio::entrance::Rooms>,
    /// This node's place in a cluster; `None` on a node on its own.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl AppState {
    /// `router` is the one `hub` delivers through; `counters` the ones `ice` and the
    /// store count into; `tls` tells the certificate's expiry.
    pub fn new(
        hub: Arc<Hub>,
        router: Arc<Router>,
        ice: Arc<Ice>,
        counters: Arc<Counters>,
        tls: crate::tls::CertExpiry,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> AppState {
        let seed = hub.config().compat.bootstrap.seed;
        let limits = &hub.config().limits;
        let entrance_tids = limits.entrance_tids;
        let admin_limiter =
            crate::auth::limits::AddressLimiter::per_minute(limits.admin_requests_per_minute);
        let mut metrics = crate::ops::metrics::registry(hub.clone(), counters.clone(), tls);
        if let Some(cluster) = &cluster {
            cluster.register_metrics(&mut metrics);
        }
        AppState {
            metrics,
            cluster,
            admin_limiter,
            hub,
            ice,
            stop: CancellationToken::new(),
            drain: CancellationToken::new(),
            tracker: TaskTracker::new(),
            switch: Switch::new(&router),
            router,
            counters,
            join_ids: JoinIds::new(seed),
            engine: Default::default(),
            entrance: Arc::new(crate::adapters::socketio::entrance::Rooms::new(
                entrance_tids,
            )),
        }
    }
}

impl AppState {
    /// Whether the node has stopped taking connections: a drain was asked for, or a
    /// shutdown is under way.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled() || self.drain.is_cancelled()
    }
}

/// Every route, in one scope whose middleware answers HEAD as GET (see `head`).
pub fn configure(app: Arc<AppState>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let public_dir = app.hub.config().server.public_dir.clone();
        let mut routes = web::scope("")
            .wrap(from_fn(cors::shared))
            .wrap(from_fn(head::as_get))
            .route(
                "/ws",
                web::get().to(crate::adapters::native::session::upgrade),
            )
            .route("/iceservers", web::get().to(routes::ice_servers))
            .route("/invite-info", web::get().to(invite_info::invite_info))
            .route("/", web::get().to(routes::index))
            .configure(|cfg| crate::ops::routes(&app, cfg))
            .configure(sdk::routes)
            .configure(|cfg| crate::adapters::routes(app.hub.config(), cfg));
        if let Some(dir) = public_dir.filter(|d| d.is_dir()) {
            routes = routes.service(actix_files::Files::new("/", dir));
        }
        cfg.app_data(web::Data::from(app.clone())).service(routes);
    }
}
