//! The compatible protocols' own listeners (`[compat.signal_fire] port`,
//! `[compat.peero] port`): there every WebSocket upgrade, on any path, speaks the
//! protocol, as the original servers did. They serve TLS when the main listener does.

use crate::http::AppState;
use crate::transport::listen;
use actix_web::dev::Server;
use actix_web::{web, App, FromRequest, Handler, Responder};
use std::net::TcpListener;
use std::sync::Arc;

/// Binds and starts every dedicated listener the config asks for.
pub(crate) fn listeners(
    app: &Arc<AppState>,
    tls: Option<&rustls::ServerConfig>,
) -> std::io::Result<Vec<Server>> {
    let config = app.hub.config();
    let compat = &config.compat;
    let mut servers = Vec::new();
    if let Some(port) = compat
        .signal_fire
        .port
        .filter(|_| compat.signal_fire.enabled)
    {
        servers.push(listener(app, port, tls, super::signal_fire::upgrade)?);
    }
    if let Some(port) = compat.peero.port.filter(|_| compat.peero.enabled) {
        servers.push(listener(app, port, tls, super::peero::upgrade)?);
    }
    Ok(servers)
}

fn listener<F, Args>(
    app: &Arc<AppState>,
    port: u16,
    tls: Option<&rustls::ServerConfig>,
    upgrade: F,
) -> std::io::Result<Server>
where
    F: Handler<Args> + Clone + Send + 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let config = app.hub.config();
    let (host, _) = config.bind_addr();
    let listener = TcpListener::bind((host.as_str(), port))?;
    tracing::info!(addr = %listener.local_addr()?, "compatible endpoint listening");
    let options = listen::Options {
        workers: config.server.workers,
        shutdown_secs: config.server.shutdown_grace_secs,
    };
    let app = app.clone();
    let routes = move || {
        App::new()
            .app_data(web::Data::from(app.clone()))
            .default_service(web::to(upgrade.clone()))
    };
    listen::serve(routes, listener, tls.cloned(), &options)
}
