//! foglet: Switchboard's Socket.IO entrance events (`[compat.entrance]`, COMPAT.md 1b)
//! against the original, `foglet-signaling-server@1.0.3` on Node.js (bench/oracles), on
//! the same work, each server in its own process, over Socket.IO v2 on the WebSocket
//! transport (`/socket.io/?EIO=3&transport=websocket`, the bench's sio.rs client):
//! - closed loop at each pair count: pairs of sockets in a room of their own, the
//!   newcomer sending `new` under the pair's tid, forwarded to the connected member as
//!   `new_spray`, the connected member sending `accept` under it, forwarded back as
//!   `accept_spray` (entrance.rs), `window` in flight per direction; forwarded messages
//!   per second, and the server's CPU time (utime + stime of /proc/<pid>/stat, all
//!   threads, read at both ends of the measured window) per forwarded message;
//! - idle sockets on a fresh server of each kind, each joined to a room (rooms of two, as
//!   the pairs), sending the Engine.IO ping every 25 s as socket.io-client does: RSS per
//!   socket.
//!
//! Issue 15's goals, reported and never asserted: Switchboard at most a fifth of the
//! original's CPU per forwarded message, and of its RSS per idle socket.

use crate::common::{
    max_connections, now_us, percentiles_ms, switchboard_config, write_json, Common, Process,
    ServerProcess,
};
use crate::relay_load::{measure, Mode, Outcome, Wire};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// The original's launcher; `npm ci` in its directory installs
    /// foglet-signaling-server 1.0.3.
    #[arg(long, default_value = "bench/oracles/foglet-signaling-server.js")]
    oracle: PathBuf,
    /// The Node.js that runs it.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Pair counts for the closed loop, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    pairs: Vec<usize>,
    /// Messages in flight per direction in the closed loop.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds measured per closed-loop step (after a warm-up of a fifth of it).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Idle sockets for the memory figure (capped by RLIMIT_NOFILE).
    #[arg(long, default_value_t = 5000)]
    idle_sockets: usize,
    /// Idle sockets being set up at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds to let a server settle before reading its RSS.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
}

/// The servers, in the order of every table: the figure is the first against the second.
const NAMES: [&str; 2] = ["switchboard", "foglet-signaling-server"];

/// Sockets per room among the idle ones: the first connected, the second not, as a pair.
const ROOM: usize = 2;

pub async fn run(options: Options) -> anyhow::Result<()> {
    let mut servers = Vec::new();
    for name in NAMES {
        servers.push(start(&options, name)?);
    }
    let closed = closed_steps(&options, &mut servers).await?;
    let alerts = servers[0].alerts();
    drop(servers);
    let idle = idle_step(&options).await?;
    write_json(
        options.common.json.as_deref(),
        &json!({"servers": NAMES, "node": node_version(&options)?,
                "window": options.window, "duration": options.duration,
                "frame_bytes": frame_bytes(), "closed": closed, "idle": idle,
                "switchboard_alerts": {"count": alerts.count, "first": alerts.first}}),
    )
}

/// `node --version`, for the report.
fn node_version(options: &Options) -> anyhow::Result<String> {
    let output = Command::new(&options.node).arg("--version").output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The sizes of the packets the pairs send, `new` and `accept` (bytes, with a send time
/// of the run's length).
fn frame_bytes() -> Value {
    let (a, b) = (
        crate::entrance::id(now_us(), 0),
        crate::entrance::id(now_us(), 1),
    );
    let tid = crate::entrance::id(now_us(), 1 << 40);
    let (new, accept) = crate::entrance::templates(&a, &b, &format!("bench-{}-0", now_us()), &tid);
    let size = |template: &str| crate::relay_wire::frame(Wire::Entrance, template, now_us()).len();
    json!({"new": size(&new), "accept": size(&accept)})
}

/// A fresh server: Switchboard with its Socket.IO endpoint and the entrance events on, or
/// the original under node.
fn start(options: &Options, name: &str) -> anyhow::Result<Process> {
    let common = &options.common;
    if name == NAMES[0] {
        let config = format!(
            "{}\n[compat.socketio]\nenabled = true\n\n[compat.entrance]\nenabled = true\n",
            switchboard_config(common.capacity)
        );
        return Ok(ServerProcess::switchboard(&common.switchboard_bin, &config)?.process);
    }
    let mut command = Command::new(&options.node);
    command.arg(std::fs::canonicalize(&options.oracle)?);
    Process::spawn(name, command, tempfile::tempdir()?)
}

/// The closed loop at each pair count: forwarded msgs/s and CPU per message of each.
async fn closed_steps(options: &Options, servers: &mut [Process]) -> anyhow::Result<Value> {
    println!(
        "foglet: closed loop, window {} per direction, {:.1} s per step; server CPU µs per forwarded message",
        options.window, options.duration
    );
    println!("| pairs | switchboard msgs/s | foglet msgs/s | switchboard µs/msg | foglet µs/msg | CPU switchboard/foglet |");
    println!("|---|---|---|---|---|---|");
    let mode = Mode::Closed {
        window: options.window,
    };
    let duration = Duration::from_secs_f64(options.duration);
    let mut steps = Vec::new();
    for &pairs in &options.pairs {
        let mut step = json!({"pairs": pairs});
        for (name, server) in NAMES.iter().zip(servers.iter_mut()) {
            let (addr, pid) = (server.addr, server.pid());
            let outcome = measure(Wire::Entrance, addr, pairs, mode, duration, Some(pid)).await?;
            server.check_alive()?;
            step[*name] = figures(&outcome);
        }
        let q = |name: &str, key: &str| f(&step[name][key]);
        println!(
            "| {pairs} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
            q(NAMES[0], "rate"),
            q(NAMES[1], "rate"),
            q(NAMES[0], "cpu_us_per_msg"),
            q(NAMES[1], "cpu_us_per_msg"),
            q(NAMES[0], "cpu_us_per_msg") / q(NAMES[1], "cpu_us_per_msg")
        );
        steps.push(step);
    }
    Ok(json!(steps))
}

/// One server's figures in a step: forwarded msgs/s, CPU per forwarded message, and the
/// latency from send to arrival (paced by the window, not a schedule).
fn figures(outcome: &Outcome) -> Value {
    let mut figures = percentiles_ms(&outcome.latency);
    figures["rate"] = json!(outcome.rate());
    figures["forwarded"] = json!(outcome.received);
    figures["cpu_seconds"] = json!(outcome.cpu_seconds);
    figures["cpu_us_per_msg"] = json!(outcome
        .cpu_seconds
        .filter(|_| outcome.received > 0)
        .map(|cpu| cpu * 1e6 / outcome.received as f64));
    figures
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// RSS per idle socket of each server, fresh, with `idle_sockets` connected, each joined
/// to a room of [`ROOM`], and idle.
async fn idle_step(options: &Options) -> anyhow::Result<Value> {
    let sockets = (options.idle_sockets.min(max_connections()) / ROOM * ROOM).max(ROOM);
    println!(
        "foglet: {sockets} idle sockets in rooms of {ROOM}, RSS after {:.1} s",
        options.settle
    );
    println!("| server | RSS before MiB | RSS MiB | KiB/socket | setup s |\n|---|---|---|---|---|");
    let mut idle = json!({"asked": options.idle_sockets, "sockets": sockets, "room": ROOM,
                          "settle": options.settle});
    for name in NAMES {
        let mut server = start(options, name)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let base = server.rss()?;
        let started = Instant::now();
        let held = crate::connections::open(
            Wire::Entrance,
            server.addr,
            sockets,
            ROOM,
            options.concurrency,
        )
        .await?;
        let setup = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(options.settle)).await;
        server.check_alive()?;
        let rss = server.rss()?;
        let per_socket = rss.saturating_sub(base) as f64 / sockets as f64;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {setup:.1} |",
            base as f64 / 1048576.0,
            rss as f64 / 1048576.0,
            per_socket / 1024.0
        );
        idle[name] = json!({"base": base, "rss": rss, "per_socket": per_socket,
                            "setup_seconds": setup});
        // The server goes first, so that it spends no time on the disconnects.
        drop(server);
        for task in &held {
            task.abort();
        }
    }
    Ok(idle)
}
