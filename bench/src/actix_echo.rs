//! The memory baseline of an idle Switchboard connection: the least a WebSocket server
//! can be on the stack Switchboard is built on (actix-web 4 and actix-http's WebSocket
//! codec, through `actix-ws`). One route, `/echo`, upgrades and sends every text and
//! binary frame back, answers pings with pongs and a close with a close; nothing else: no
//! JSON, no state, no timers, no pings of its own.
//!
//! What an idle connection costs here is what actix-web, actix-http and the kernel's
//! socket cost whatever the application; what Switchboard costs per idle member above it
//! is its own (the `connections` scenario subtracts the two). Set up as Switchboard's
//! listener is: 2 workers (Switchboard's default on the 2-core bench machine), a listen
//! backlog of 4096, TCP_NODELAY on every accepted socket, RLIMIT_NOFILE raised to its
//! hard limit (by `main`, before anything starts).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_ws::AggregatedMessage as Message;

#[derive(clap::Args)]
pub struct Options {
    /// Port to listen on, on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
}

/// Switchboard's worker count on the bench machine (its default: one per core, 2 here).
const WORKERS: usize = 2;
/// Switchboard's listen backlog (src/transport/socket.rs).
const BACKLOG: u32 = 4096;

/// Serves `/echo` until the process is killed; says where it listens on stdout, in the
/// form the bench reads from every server it starts.
pub fn run(options: Options) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| App::new().route("/echo", web::get().to(echo)))
            .workers(WORKERS)
            .backlog(BACKLOG)
            .on_connect(|connection, _| {
                if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                    let _ = tcp.set_nodelay(true);
                }
            })
            .bind(("127.0.0.1", options.port))?;
        for addr in server.addrs() {
            println!("actix-ws echo listening on http://{addr}");
        }
        server.run().await?;
        anyhow::Ok(())
    })
}

/// Upgrades, then echoes on a task of its own until the client closes or the socket
/// fails.
async fn echo(request: HttpRequest, body: web::Payload) -> actix_web::Result<HttpResponse> {
    let (response, mut session, stream) = actix_ws::handle(&request, body)?;
    // A fragmented message comes back whole.
    let mut stream = stream.aggregate_continuations();
    actix_web::rt::spawn(async move {
        while let Some(Ok(message)) = stream.recv().await {
            let sent = match message {
                Message::Text(text) => session.text(text).await,
                Message::Binary(bytes) => session.binary(bytes).await,
                Message::Ping(bytes) => session.pong(&bytes).await,
                Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    return;
                }
                Message::Pong(_) => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(response)
}
