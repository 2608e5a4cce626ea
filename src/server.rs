//! `run`: the whole server on a listener, until `shutdown` resolves. `main` and the
//! tests both start Switchboard through here.

use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::config::{Config, ConfigError};
use crate::core::conn::outbox::{CLOSE_GOING_AWAY, CLOSE_SERVICE_RESTART};
use crate::core::conn::Router;
use crate::core::counters::Counters;
use crate::core::workspaces::Hub;
use crate::http::{self, AppState};
use crate::ice::Ice;
use crate::transport::{listen, socket};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer};
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Start(#[from] crate::core::workspaces::StartError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::Unreachable),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves Switchboard on `listener`. When `shutdown` resolves, every socket is sent
/// close 1001, and the server stops once they have drained or
/// `server.shutdown_grace_secs` has passed.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    run_with_clock(config, listener, shutdown, Clock::system()).await
}

/// [`run`], with the workspaces' ttls and limits read from `clock`: tests move it ahead
/// instead of waiting.
pub async fn run_with_clock(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Clock,
) -> Result<(), RunError> {
    serve(config, listener, shutdown, std::future::pending(), clock).await
}

/// [`run`], draining the node when `drain` resolves (`main` passes SIGUSR1), as
/// `POST /admin/api/drain` does: no new connections, every socket closed with 1012,
/// `/readyz` 503, and the server stops once they are gone or after
/// `server.shutdown_grace_secs`.
pub async fn run_with_drain(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    serve(config, listener, shutdown, drain, Clock::system()).await
}

async fn serve(
    mut config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: impl Future<Output = ()> + Send + 'static,
    clock: Clock,
) -> Result<(), RunError> {
    for warning in config.prepare()? {
        tracing::warn!("{warning}");
    }
    let config = Arc::new(config);
    crate::transport::runtime::configure(config.server.worker_threads());
    crate::adapters::register_codecs();
    let counters = Arc::new(Counters::default());
    let joined = match config.cluster.enabled() {
        true => Some(Cluster::join(&config.cluster).await?),
        false => None,
    };
    let (router, store) = match &joined {
        Some((cluster, _)) => (
            Arc::new(Router::clustered(cluster.bus.clone())),
            cluster.open_store(&counters).await?,
        ),
        None => (
            Arc::new(Router::new(0)),
            crate::store::open_timed(&config.storage, &counters)?,
        ),
    };
    let cluster = joined.as_ref().map(|(cluster, _)| cluster.clone());
    let hub = Arc::new(Hub::new(
        config.clone(),
        store,
        router.clone(),
        cluster,
        clock,
    )?);
    let sweeper = hub.spawn_sweeper();
    let ice = Arc::new(Ice::new(&config, counters.clone()));
    let tls = crate::tls::setup(&config.tls)?;
    let expiry = tls.as_ref().map(|t| t.expiry.clone()).unwrap_or_default();
    let (cluster, pending) = joined.unzip();
    let app = Arc::new(AppState::new(hub, router, ice, counters, expiry, cluster));
    let cluster_tasks = serve_cluster(&app, pending);

    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (tls_config, watcher) = tls.map(|t| (t.server_config, t.watcher)).unzip();
    let mut extra: Vec<Server> = redirect_server(&config, addr.port())?.into_iter().collect();
    extra.extend(crate::adapters::listeners(&app, tls_config.as_ref())?);
    extra.extend(metrics_server(&app)?);
    let server = http_server(app.clone(), &config, listener, tls_config)?;
    tracing::info!(
        %addr,
        development = config.server.development,
        "Switchboard listening on {scheme}://{addr}"
    );

    let mut handles = vec![server.handle()];
    handles.extend(extra.iter().map(Server::handle));
    let signalled = app.drain.clone();
    tokio::spawn(async move {
        drain.await;
        signalled.cancel();
    });
    tokio::spawn(stop_when_told(app.clone(), shutdown, handles));

    for server in extra {
        tokio::spawn(server);
    }
    server.await?;
    sweeper.abort();
    if let Some(cluster) = &app.cluster {
        cluster.leave().await;
    }
    for task in cluster_tasks {
        task.abort();
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    app.hub.close_store();
    tracing::info!("stopped");
    Ok(())
}

/// Starts the node's part in its cluster, and asks the others for what they hold.
fn serve_cluster(
    app: &Arc<AppState>,
    pending: Option<crate::cluster::Pending>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (Some(cluster), Some(pending)) = (&app.cluster, pending) else {
        return Vec::new();
    };
    let inbound: std::sync::Weak<dyn crate::cluster::Inbound> = Arc::downgrade(app) as _;
    let tasks = cluster.serve(pending, app.router.clone(), inbound);
    cluster.resync();
    tasks
}

/// Waits for `shutdown` or a drain, then stops taking connections, closes every socket
/// (1001 for a shutdown, 1012 for a drain), waits until they are gone or
/// `server.shutdown_grace_secs` has passed, and stops the servers.
async fn stop_when_told(
    app: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
    servers: Vec<ServerHandle>,
) {
    let (code, reason) = tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down: closing every socket with 1001");
            (CLOSE_GOING_AWAY, "server shutting down")
        }
        () = app.drain.cancelled() => {
            let open = app.router.open_count();
            tracing::warn!(connections = open, "draining: closing every socket with 1012, refusing new ones");
            (CLOSE_SERVICE_RESTART, "server draining: reconnect")
        }
    };
    app.stop.cancel();
    app.router.close_all(code, reason);
    app.tracker.close();
    let grace = Duration::from_secs(app.hub.config().server.shutdown_grace_secs);
    if tokio::time::timeout(grace, app.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("sockets still open after {grace:?}; stopping anyway");
    }
    for server in servers {
        // Graceful: a request in flight (the drain's own 202) is answered first.
        server.stop(true).await;
    }
}

/// The listener of `[metrics] listen`, when set: `/metrics`, `/healthz`, `/readyz`.
fn metrics_server(app: &Arc<AppState>) -> std::io::Result<Option<Server>> {
    let Some(listen) = app.hub.config().metrics.listen.clone() else {
        return Ok(None);
    };
    let data = actix_web::web::Data::from(app.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(crate::ops::probes)
    })
    .workers(1)
    .disable_signals()
    .bind(&listen)
    .map_err(|e| std::io::Error::new(e.kind(), format!("[metrics] listen {listen}: {e}")))?;
    for addr in server.addrs() {
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
    }
    Ok(Some(server.run()))
}

/// Builds the server. Kept out of `run` because actix's builder is not `Send`, while
/// the running `Server` is: `run`'s future stays spawnable on any runtime.
fn http_server(
    app: Arc<AppState>,
    config: &Config,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let routes = http::configure(app);
    let options = listen::Options {
        workers: config.server.workers,
        shutdown_secs: config.server.shutdown_grace_secs,
    };
    listen::serve(
        move || App::new().configure(routes.clone()),
        listener,
        tls,
        &options,
    )
}

/// The optional plain-HTTP listener that redirects to HTTPS.
fn redirect_server(config: &Config, https_port: u16) -> std::io::Result<Option<Server>> {
    let port = config.tls.redirect_port;
    if !config.tls.enabled || port == 0 {
        return Ok(None);
    }
    let (host, _) = config.bind_addr();
    let listener = TcpListener::bind((host.as_str(), port))?;
    socket::configure_listener(&listener)?;
    tracing::info!(port, "redirecting plain HTTP to HTTPS");
    crate::tls::redirect_server(listener, https_port).map(Some)
}
