//! The HTTP server of every Switchboard listener: actix-web's routes served by
//! actix-http, with each WebSocket upgrade handed the connection itself.
//!
//! actix-web's `HttpServer` keeps its HTTP/1 dispatcher alive under an upgraded
//! connection: two 8 KiB buffers and a task per WebSocket, and every frame passed through
//! a payload channel and a streaming body. actix-http's upgrade hook hands the request
//! and the connection to [`super::upgrade`] instead; the routes still answer it, and the
//! dispatcher is gone once the handshake is written.

use super::socket;
use super::upgrade::{self, Stream};
use actix_http::body::MessageBody;
use actix_http::{HttpService, Request, Response};
use actix_server::Server;
use actix_service::{fn_factory, fn_service, map_config, IntoServiceFactory, ServiceFactory};
use actix_service::{Service, ServiceFactoryExt as _};
use actix_web::dev::AppConfig;
use actix_web::Error;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

/// How a listener runs.
pub(crate) struct Options {
    /// Worker threads; 0: one per core (actix-server's default).
    pub workers: usize,
    /// Seconds a stopping server waits for connections to end.
    pub shutdown_secs: u64,
}

/// Serves the routes `app` builds (one `App` per worker thread) on `listener`, over TLS
/// when `tls` is given. The server runs until stopped through its handle; it installs no
/// signal handlers.
pub(crate) fn serve<F, I, S, B>(
    app: F,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    options: &Options,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    socket::configure_listener(&listener)?;
    let addr = listener.local_addr()?;
    let mut builder = Server::build()
        .disable_signals()
        .shutdown_timeout(options.shutdown_secs);
    if options.workers > 0 {
        builder = builder.workers(options.workers);
    }
    let name = format!("switchboard-{addr}");
    // As actix-web's `HttpServer`, but for one setting: no lingering after a response,
    // so that a refused upgrade ends its connection at once.
    let builder = match tls {
        None => builder.listen(name, listener, move || {
            HttpService::build()
                .client_disconnect_timeout(Duration::ZERO)
                .local_addr(addr)
                .upgrade(upgrades(app.clone()))
                .finish(routes(app.clone()))
                .tcp()
        })?,
        Some(tls) => builder.listen(name, listener, move || {
            HttpService::build()
                .client_disconnect_timeout(Duration::ZERO)
                .local_addr(addr)
                .upgrade(upgrades(app.clone()))
                .finish(routes(app.clone()))
                .rustls_0_23(tls.clone())
        })?,
    };
    Ok(builder.run())
}

/// The routes, as actix-http serves them. `AppConfig` only feeds `ConnectionInfo`'s
/// fallbacks, which no route of these listeners reads.
fn routes<F, I, S, B>(
    app: F,
) -> impl ServiceFactory<
    Request,
    Config = (),
    Response = S::Response,
    Error = actix_web::HttpResponse,
    InitError = S::InitError,
    Service = impl Service<Request, Response = S::Response, Error = actix_web::HttpResponse>,
>
where
    F: Fn() -> I,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let factory = app()
        .into_factory()
        .map_err(|err| err.into().error_response());
    map_config(factory, |_| AppConfig::default())
}

/// The upgrade hook: per worker, its own instance of the routes, which answer each
/// upgrade request before [`upgrade::hand_over`] writes the answer.
fn upgrades<F, I, S, B, T>(
    app: F,
) -> impl ServiceFactory<
    (Request, actix_codec::Framed<T, actix_http::h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_http::Error,
    InitError = (),
>
where
    F: Fn() -> I + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
    T: Stream,
{
    fn_factory(move || {
        let init = routes(app.clone()).new_service(());
        async move {
            let routes = Rc::new(init.await.map_err(|e| {
                tracing::error!("cannot start the routes for WebSocket upgrades: {e:?}");
            })?);
            Ok(fn_service(move |(req, framed)| {
                upgrade::hand_over(routes.clone(), req, framed)
            }))
        }
    })
}
