//! signal-fire: Switchboard's signal-fire endpoint (`[compat.signal_fire]`) against the
//! original, `signal-fire@0.5.3` on Node.js (bench/oracles), on the same work, each server
//! in its own process, with the bare relay as the floor:
//! - closed loop at each pair count: relayed msgs/s, and the server's CPU time (utime +
//!   stime of /proc/<pid>/stat, all threads, read at both ends of the measured window)
//!   per relayed message;
//! - open loop at each pair count, at a rate both servers sustain there: p50/p99;
//! - idle peers on fresh servers: RSS per peer, the clients offering permessage-deflate
//!   as browsers do (the original's ws then keeps a zlib context per peer).

use crate::common::{
    max_connections, percentiles_ms, switchboard_config, write_json, Common, Process,
    ServerProcess, Target,
};
use crate::raw::Raw;
use crate::relay_load::{measure, Mode, Outcome, Wire};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// The original's launcher; `npm ci` in its directory installs signal-fire 0.5.3.
    #[arg(long, default_value = "bench/oracles/signal-fire.js")]
    oracle: PathBuf,
    /// The Node.js that runs it.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Pair counts, comma-separated, for the closed and the open loop.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    pairs: Vec<usize>,
    /// Messages in flight per direction in the closed loop.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds measured per closed-loop step (after a warm-up of a fifth of it).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Seconds measured per open-loop step.
    #[arg(long, default_value_t = 3.0)]
    open_duration: f64,
    /// The open loop's rate at a pair count, as a fraction of the lower of the two
    /// servers' closed-loop rates at that count.
    #[arg(long, default_value_t = 0.5)]
    open_load: f64,
    /// Idle peers for the memory figure.
    #[arg(long, default_value_t = 5000)]
    idle_peers: usize,
    /// Idle connections being set up at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds to let a server settle before reading its RSS.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
}

/// The servers, in the order of every table: the figure is the first against the second.
const NAMES: [&str; 3] = ["switchboard", "signal-fire", "bare"];

/// What a browser's WebSocket offers (Chromium and Firefox alike).
const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// One server under measurement and what it speaks.
struct Contender {
    name: &'static str,
    wire: Wire,
    process: Process,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let mut servers = Vec::new();
    for name in NAMES {
        servers.push(start(&options, name)?);
    }
    let closed = closed_steps(&options, &mut servers).await?;
    let open = open_steps(&options, &mut servers, &closed).await?;
    drop(servers);
    let idle = idle_step(&options).await?;
    write_json(
        options.common.json.as_deref(),
        &json!({"servers": NAMES, "node": node_version(&options)?,
                "window": options.window, "duration": options.duration,
                "open_duration": options.open_duration, "open_load": options.open_load,
                "closed": closed, "open": open, "idle": idle}),
    )
}

/// `node --version`, for the report.
fn node_version(options: &Options) -> anyhow::Result<String> {
    let output = Command::new(&options.node).arg("--version").output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A fresh server: Switchboard with its signal-fire endpoint on, the original under
/// node, or the bare relay.
fn start(options: &Options, name: &'static str) -> anyhow::Result<Contender> {
    let common = &options.common;
    let (wire, process) = match name {
        "switchboard" => {
            let config = format!(
                "{}\n[compat.signal_fire]\nenabled = true\n",
                switchboard_config(common.capacity)
            );
            let server = ServerProcess::switchboard(&common.switchboard_bin, &config)?;
            (Wire::SignalFire, server.process)
        }
        "signal-fire" => {
            let mut command = Command::new(&options.node);
            command.arg(std::fs::canonicalize(&options.oracle)?);
            (
                Wire::SignalFire,
                Process::spawn(name, command, tempfile::tempdir()?)?,
            )
        }
        _ => (
            Wire::Bare,
            ServerProcess::start(Target::Bare, common)?.process,
        ),
    };
    Ok(Contender {
        name,
        wire,
        process,
    })
}

/// The closed loop at each pair count: msgs/s and CPU per message of every server.
async fn closed_steps(options: &Options, servers: &mut [Contender]) -> anyhow::Result<Value> {
    println!(
        "signal-fire: closed loop, window {} per direction, {:.1} s per step; server CPU µs per relayed message",
        options.window, options.duration
    );
    println!("| pairs | switchboard msgs/s | signal-fire msgs/s | bare msgs/s | switchboard µs/msg | signal-fire µs/msg | bare µs/msg | CPU switchboard/signal-fire | CPU switchboard/bare |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mode = Mode::Closed {
        window: options.window,
    };
    let duration = Duration::from_secs_f64(options.duration);
    let mut steps = Vec::new();
    for &pairs in &options.pairs {
        let mut step = json!({"pairs": pairs});
        for server in servers.iter_mut() {
            let outcome = measure_on(server, pairs, mode, duration).await?;
            let mut figures = percentiles_ms(&outcome.latency);
            figures["rate"] = json!(outcome.rate());
            figures["cpu_seconds"] = json!(outcome.cpu_seconds);
            figures["cpu_us_per_msg"] = json!(cpu_per_message(&outcome));
            step[server.name] = figures;
        }
        print_closed(&step);
        steps.push(step);
    }
    Ok(json!(steps))
}

async fn measure_on(
    server: &mut Contender,
    pairs: usize,
    mode: Mode,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let (addr, pid) = (server.process.addr, server.process.pid());
    let outcome = measure(server.wire, addr, pairs, mode, duration, Some(pid)).await?;
    server.process.check_alive()?;
    Ok(outcome)
}

/// Server CPU µs per message relayed within the window.
fn cpu_per_message(outcome: &Outcome) -> Option<f64> {
    let cpu = outcome.cpu_seconds?;
    (outcome.received > 0).then(|| cpu * 1e6 / outcome.received as f64)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn print_closed(step: &Value) {
    let rate = |name: &str| f(&step[name]["rate"]);
    let cpu = |name: &str| f(&step[name]["cpu_us_per_msg"]);
    println!(
        "| {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        step["pairs"],
        rate(NAMES[0]),
        rate(NAMES[1]),
        rate(NAMES[2]),
        cpu(NAMES[0]),
        cpu(NAMES[1]),
        cpu(NAMES[2]),
        cpu(NAMES[0]) / cpu(NAMES[1]),
        cpu(NAMES[0]) / cpu(NAMES[2])
    );
}

/// The open loop at each pair count, at `open_load` of the lower closed-loop rate of
/// Switchboard and the original there, so that both sustain it.
async fn open_steps(
    options: &Options,
    servers: &mut [Contender],
    closed: &Value,
) -> anyhow::Result<Value> {
    println!("signal-fire: open loop, {:.1} s per step, at {:.0} % of the lower closed-loop rate of the two", options.open_duration, options.open_load * 100.0);
    println!("| pairs | msgs/s | switchboard p50 ms | signal-fire p50 ms | bare p50 ms | switchboard p99 ms | signal-fire p99 ms | bare p99 ms | p99 switchboard/signal-fire |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let duration = Duration::from_secs_f64(options.open_duration);
    let mut steps = Vec::new();
    for step in closed.as_array().into_iter().flatten() {
        let pairs = step["pairs"].as_u64().unwrap_or(1) as usize;
        let sustained = f(&step[NAMES[0]]["rate"]).min(f(&step[NAMES[1]]["rate"]));
        let rate = (sustained * options.open_load).max(1.0);
        let interval = Duration::from_secs_f64(2.0 * pairs as f64 / rate);
        let mut open = json!({"pairs": pairs, "rate": rate});
        for server in servers.iter_mut() {
            let outcome = measure_on(server, pairs, Mode::Open { interval }, duration).await?;
            open[server.name] = percentiles_ms(&outcome.latency);
            open[server.name]["achieved"] = json!(outcome.rate());
        }
        print_open(&open);
        steps.push(open);
    }
    Ok(json!(steps))
}

fn print_open(step: &Value) {
    let q = |name: &str, key: &str| f(&step[name][key]);
    println!(
        "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        step["pairs"],
        f(&step["rate"]),
        q(NAMES[0], "p50"),
        q(NAMES[1], "p50"),
        q(NAMES[2], "p50"),
        q(NAMES[0], "p99"),
        q(NAMES[1], "p99"),
        q(NAMES[2], "p99"),
        q(NAMES[0], "p99") / q(NAMES[1], "p99")
    );
}

/// RSS per idle peer of each server, fresh, with `idle_peers` connected and idle.
async fn idle_step(options: &Options) -> anyhow::Result<Value> {
    let peers = options.idle_peers.min(max_connections()).max(2);
    println!(
        "signal-fire: {peers} idle peers offering `{DEFLATE_OFFER}`, RSS after {:.1} s",
        options.settle
    );
    println!("| server | RSS MiB | KiB/peer | deflate negotiated |\n|---|---|---|---|");
    let mut idle = json!({"asked": options.idle_peers, "peers": peers, "offer": DEFLATE_OFFER});
    for name in NAMES {
        let mut server = start(options, name)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let base = server.process.rss()?;
        let held = connect_idle(&server, peers, options.concurrency).await?;
        tokio::time::sleep(Duration::from_secs_f64(options.settle)).await;
        server.process.check_alive()?;
        let rss = server.process.rss()?;
        let per_peer = rss.saturating_sub(base) as f64 / peers as f64;
        let deflate = held
            .iter()
            .all(|raw| raw.head.to_ascii_lowercase().contains("permessage-deflate"));
        println!(
            "| {name} | {:.1} | {:.1} | {deflate} |",
            rss as f64 / 1048576.0,
            per_peer / 1024.0
        );
        idle[name] = json!({"base": base, "rss": rss, "per_peer": per_peer, "deflate": deflate});
        // The server goes first, so that it spends no time on 5,000 disconnects.
        drop(server);
    }
    Ok(idle)
}

/// `n` upgraded connections that never read past the response head.
async fn connect_idle(
    server: &Contender,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Raw>> {
    let addr = server.process.addr;
    let gate = Arc::new(Semaphore::new(concurrency));
    let headers = format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n");
    let (stamp, mut setups) = (crate::common::now_us(), Vec::with_capacity(n));
    for i in 0..n {
        // The bare relay pairs sockets by key: two by two, as for its idle connections.
        let path = match server.wire {
            Wire::Bare => format!("/pair/idle-{stamp}-{}", i / 2),
            _ => "/signal-fire".to_string(),
        };
        let (gate, headers) = (gate.clone(), headers.clone());
        setups.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            Raw::upgrade(addr, &path, &headers, None).await
        }));
    }
    let mut held = Vec::with_capacity(n);
    for setup in setups {
        held.push(setup.await??);
    }
    Ok(held)
}
