//! `run`: the whole server on a listener, until `shutdown` resolves. `main` and the
//! tests both start Switchboard through here.

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::core::conn::outbox::CLOSE_GOING_AWAY;
use crate::core::conn::Router;
use crate::core::workspaces::Hub;
use crate::http::{self, AppState};
use crate::ice::Ice;
use crate::transport::socket;
use actix_web::dev::Server;
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
    mut config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Clock,
) -> Result<(), RunError> {
    for warning in config.prepare()? {
        tracing::warn!("{warning}");
    }
    let config = Arc::new(config);
    let store = crate::store::open(&config.storage)?;
    let router = Arc::new(Router::new(0));
    let hub = Arc::new(Hub::new(config.clone(), store, router.clone(), clock)?);
    let sweeper = hub.spawn_sweeper();
    let app = Arc::new(AppState::new(hub, router, Arc::new(Ice::new(&config))));

    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let addr = listener.local_addr()?;
    let tls = crate::tls::setup(&config.tls)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (tls_config, watcher) = tls.map(|t| (t.server_config, t.watcher)).unzip();
    let mut extra: Vec<Server> = redirect_server(&config, addr.port())?.into_iter().collect();
    extra.extend(crate::adapters::listeners(&app, tls_config.as_ref())?);
    let server = http_server(app.clone(), &config, listener, tls_config)?;
    tracing::info!(
        %addr,
        development = config.server.development,
        "Switchboard listening on {scheme}://{addr}"
    );

    let handle = server.handle();
    let extra_handles: Vec<_> = extra.iter().map(Server::handle).collect();
    let drain = app.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing every socket with 1001");
        drain.stop.cancel();
        drain
            .router
            .close_all(CLOSE_GOING_AWAY, "server shutting down");
        drain.tracker.close();
        if tokio::time::timeout(grace, drain.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("sockets still open after {grace:?}; stopping anyway");
        }
        handle.stop(false).await;
        for extra in extra_handles {
            extra.stop(false).await;
        }
    });

    for server in extra {
        tokio::spawn(server);
    }
    server.await?;
    sweeper.abort();
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    app.hub.close_store();
    tracing::info!("stopped");
    Ok(())
}

/// Builds the actix server. Kept out of `run` because actix's builder is not `Send`,
/// while the running `Server` is: `run`'s future stays spawnable on any runtime.
fn http_server(
    app: Arc<AppState>,
    config: &Config,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let routes = http::configure(app);
    socket::configure_listener(&listener)?;
    let mut server = HttpServer::new(move || App::new().configure(routes.clone()))
        .on_connect(socket::on_connect)
        // No lingering after a response: a WebSocket that completed its close handshake
        // ends its TCP connection at once (PROTOCOL.md 1.1).
        .client_disconnect_timeout(Duration::ZERO)
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_grace_secs);
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    Ok(match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?.run(),
        None => server.listen(listener)?.run(),
    })
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
