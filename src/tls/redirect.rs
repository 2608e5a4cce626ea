//! The plain-HTTP listener that sends browsers to HTTPS (`[tls] redirect_port`).

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// Answers every request with 308 to the same host and path on `https_port`.
pub fn redirect_server(
    listener: std::net::TcpListener,
    https_port: u16,
) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new().default_service(web::to(move |req: HttpRequest| async move {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, target(&req, https_port)))
                .finish()
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

fn target(req: &HttpRequest, https_port: u16) -> String {
    let info = req.connection_info();
    let host = info.host();
    // Drop a port the Host header may carry; keep IPv6 brackets intact.
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        }
        _ => host,
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    format!("https://{name}{port}{path}")
}
