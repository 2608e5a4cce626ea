//! Idle connections: N attendees in workspaces of K, connected and doing nothing; the
//! server's resident memory per attendee, read from /proc/<pid>/status. Against two
//! baselines, each the same number of idle connections: the bare relay (tokio-tungstenite,
//! sockets paired two by two) and the actix-ws echo server (`actix-echo`: Switchboard's
//! own stack, actix-web and actix-http, with no application), whose connections each send
//! one text frame, get it back, then stay idle answering pings. Switchboard's RSS per
//! attendee minus the echo server's per connection is what Switchboard itself keeps per
//! member, above what its framework and the kernel cost any WebSocket server (issue 15).
//! Figures at each step of N, counted from the server's RSS once it is up and before the
//! first connection.

use crate::client::Client;
use crate::common::{
    connect, max_connections, write_json, Common, Process, ServerProcess, Target, Ws,
};
use crate::relay_load::Wire;
use crate::sio;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// Attendee counts to measure at, ascending, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,50000")]
    attendees: Vec<usize>,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds to let the server settle before reading its RSS.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
}

/// The servers, in the order of every table, as connections.json names them, and what
/// their clients speak.
const SERVERS: [(&str, Wire); 3] = [
    ("switchboard", Wire::Native),
    ("bare", Wire::Bare),
    ("actix-echo", Wire::Echo),
];

/// The text frame each echo connection sends, and gets back, once.
const HELLO: &str = "idle";

pub async fn run(options: Options) -> anyhow::Result<()> {
    let limit = max_connections();
    let k = options.common.capacity.max(2);
    let mut steps: Vec<(usize, usize)> = Vec::new();
    for &asked in &options.attendees {
        let n = (asked.min(limit) / k * k).max(k);
        if n < asked {
            println!(
                "connections: {asked} attendees asked, {n} measured: RLIMIT_NOFILE allows {} descriptors per process (hard limit)",
                limit + 512
            );
        }
        if steps.last().is_none_or(|&(_, last)| n > last) {
            steps.push((asked, n));
        }
    }
    println!("connections: idle attendees in workspaces of {k}; server RSS per connection");
    let mut per = Vec::new();
    let mut results = Vec::new();
    for (name, wire) in SERVERS {
        let mut server = start(name, &options.common)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let base = server.rss()?;
        let mut held: Vec<JoinHandle<()>> = Vec::new();
        let mut figures = Vec::new();
        for &(asked, n) in &steps {
            let started = Instant::now();
            let more = n - held.len();
            held.extend(open(wire, server.addr, more, k, options.concurrency).await?);
            let setup = started.elapsed().as_secs_f64();
            tokio::time::sleep(Duration::from_secs_f64(options.settle)).await;
            server.check_alive()?;
            let rss = server.rss()?;
            let per_conn = (rss.saturating_sub(base)) as f64 / n as f64;
            figures.push(json!({"asked": asked, "n": n, "rss": rss, "base": base,
                                "per_connection": per_conn, "setup_seconds": setup}));
        }
        for task in &held {
            task.abort();
        }
        per.push(figures);
        drop(server);
    }
    println!(
        "| attendees | switchboard KiB/attendee | bare KiB/connection | actix-echo KiB/connection | switchboard - actix-echo KiB | switchboard/bare |\n|---|---|---|---|---|---|"
    );
    for (i, &(asked, n)) in steps.iter().enumerate() {
        let kib = |server: usize| per[server][i]["per_connection"].as_f64().unwrap_or(0.0) / 1024.0;
        let (s, b, e) = (kib(0), kib(1), kib(2));
        println!(
            "| {n} | {s:.1} | {b:.1} | {e:.1} | {:.1} | {:.2} |",
            s - e,
            s / b
        );
        let mut step = json!({"asked": asked, "n": n});
        for (server, (name, _)) in SERVERS.iter().enumerate() {
            step[*name] = per[server][i].clone();
        }
        results.push(step);
    }
    write_json(
        options.common.json.as_deref(),
        &json!({"capacity": k, "nofile": limit + 512, "steps": results}),
    )
}

/// A fresh server of the kind `name`: Switchboard, the bare relay, or the actix-ws echo
/// server (this program's `actix-echo`).
fn start(name: &str, common: &Common) -> anyhow::Result<Process> {
    Ok(match name {
        "switchboard" => ServerProcess::start(Target::Switchboard, common)?.process,
        "bare" => ServerProcess::start(Target::Bare, common)?.process,
        _ => {
            let mut command = Command::new(std::env::current_exe()?);
            command.arg("actix-echo");
            Process::spawn(name, command, tempfile::tempdir()?)?
        }
    })
}

/// Opens `n` more idle connections to `addr`, each kept alive (answering pings, and on
/// Socket.IO sending them) by its task: members of workspaces of `k` (one creates, the
/// others attend), bare pairs, echo connections that each had one frame echoed, or
/// entrance sockets in rooms of `k`, each joined.
pub async fn open(
    wire: Wire,
    addr: SocketAddr,
    n: usize,
    k: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut setups = Vec::new();
    // One task per group: a workspace of k (or k/2 bare pairs, rounded up).
    for group in 0..n.div_ceil(k) {
        let size = k.min(n - group * k);
        let gate = gate.clone();
        setups.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let mut sockets: Vec<Ws> = Vec::new();
            match wire {
                Wire::Native => {
                    let owner = Client::create(addr).await?;
                    for _ in 1..size {
                        let guest = Client::attend(addr, &owner.invite).await?;
                        sockets.push(guest.client.into_socket());
                    }
                    sockets.push(owner.client.into_socket());
                }
                Wire::SocketIo => {
                    let owner = sio::Member::create(addr).await?;
                    for _ in 1..size {
                        let guest = sio::Member::attend(addr, &owner.invite).await?;
                        sockets.push(guest.socket);
                    }
                    sockets.push(owner.socket);
                }
                Wire::Bare => {
                    for i in 0..size {
                        let key = format!("/pair/{}-{}-{}", crate::common::now_us(), group, i / 2);
                        sockets.push(connect(addr, &key).await?);
                    }
                }
                Wire::Echo => {
                    for _ in 0..size {
                        let mut socket = connect(addr, "/echo").await?;
                        socket.send(Message::text(HELLO)).await?;
                        echoed(&mut socket).await?;
                        sockets.push(socket);
                    }
                }
                Wire::Entrance => {
                    // A room of `size`: the first joins alone and is its connected member.
                    let stamp = crate::common::now_us();
                    let room = format!("idle-{stamp}-{group}");
                    for i in 0..size {
                        let id = crate::entrance::id(stamp, group * k + i);
                        let (socket, _) = crate::entrance::join(addr, &id, &room).await?;
                        sockets.push(socket);
                    }
                }
                Wire::SignalFire => anyhow::bail!("no idle members of signal-fire here"),
            }
            anyhow::Ok(sockets)
        }));
    }
    let mut held = Vec::with_capacity(n);
    for setup in setups {
        for socket in setup.await?? {
            held.push(tokio::spawn(hold(socket, wire)));
        }
    }
    Ok(held)
}

/// Waits for the echo of `HELLO`.
async fn echoed(socket: &mut Ws) -> anyhow::Result<()> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            anyhow::ensure!(text.as_str() == HELLO, "echoed {text:?}, sent {HELLO:?}");
            return Ok(());
        }
    }
    anyhow::bail!("the echo server closed the connection before echoing")
}

/// Reads until the server closes: reading is what answers its WebSocket pings. A
/// Socket.IO client also pings, every pingInterval.
pub async fn hold(socket: Ws, wire: Wire) {
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + sio::PING_EVERY,
        sio::PING_EVERY,
    );
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = ping.tick(), if wire.pings() => {
                if sink.send(Message::text(sio::PING)).await.is_err() {
                    break;
                }
            }
        }
    }
}
