//! socketio: Switchboard's Socket.IO endpoint (`/socket.io/`, Engine.IO 3 over a
//! WebSocket, the webRTCWorkspaces events) against its native protocol (`/ws`), on the
//! same work, in the same run:
//! - closed loop at each pair count, both protocols in turn on one server process:
//!   relayed `icecandidate`s per second and the server's CPU time per relayed message;
//! - open loop at one rate over a fixed number of pairs: p50/p99 at the receiver;
//! - idle members on a fresh server per protocol: RSS per member.
//!
//! The pairs are the relay scenario's (relay_load), each member of one workspace sending
//! the other candidates with the send time inside; the idle members are the connections
//! scenario's, in workspaces of `--capacity`.

use crate::common::{
    max_connections, percentiles_ms, switchboard_config, write_json, Common, ServerProcess,
};
use crate::relay_load::{measure, Mode, Outcome, Wire};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// Pair counts for the closed loop, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    pairs: Vec<usize>,
    /// Messages in flight per direction in the closed loop.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds measured per closed-loop step (after a warm-up of a fifth of it).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Pairs for the open loop.
    #[arg(long, default_value_t = 64)]
    open_pairs: usize,
    /// Seconds measured in the open loop.
    #[arg(long, default_value_t = 5.0)]
    open_duration: f64,
    /// Open-loop rate, messages/s in total; default: `open_load` of the lower of the two
    /// protocols' closed-loop rates at `open_pairs` (their best rates when `pairs` does
    /// not hold it).
    #[arg(long)]
    rate: Option<f64>,
    /// The open loop's rate as a fraction of the lower closed-loop rate.
    #[arg(long, default_value_t = 0.5)]
    open_load: f64,
    /// Idle members for the memory figure (capped by RLIMIT_NOFILE).
    #[arg(long, default_value_t = 10000)]
    members: usize,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds to let a server settle before reading its RSS.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
}

/// The protocols, in the order of every table: the figure is the second against the
/// first.
const PROTOCOLS: [(&str, Wire); 2] = [("native", Wire::Native), ("socketio", Wire::SocketIo)];

pub async fn run(options: Options) -> anyhow::Result<()> {
    let mut server = start(&options)?;
    let closed = closed_steps(&options, &mut server).await?;
    let open = open_step(&options, &mut server, &closed).await?;
    drop(server);
    let idle = idle_step(&options).await?;
    write_json(
        options.common.json.as_deref(),
        &json!({"protocols": PROTOCOLS.map(|p| p.0), "window": options.window,
                "duration": options.duration, "capacity": capacity(&options),
                "closed": closed, "open": open, "idle": idle}),
    )
}

/// A fresh Switchboard, limits lifted, its Socket.IO endpoint on (the default, said here).
fn start(options: &Options) -> anyhow::Result<ServerProcess> {
    let common = &options.common;
    let config = format!(
        "{}\n[compat.socketio]\nenabled = true\n",
        switchboard_config(common.capacity)
    );
    ServerProcess::switchboard(&common.switchboard_bin, &config)
}

fn capacity(options: &Options) -> usize {
    options.common.capacity.max(2)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

async fn measure_on(
    server: &mut ServerProcess,
    wire: Wire,
    pairs: usize,
    mode: Mode,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let (addr, pid) = (server.addr, server.pid());
    let outcome = measure(wire, addr, pairs, mode, duration, Some(pid)).await?;
    server.check_alive()?;
    Ok(outcome)
}

/// One protocol's figures in a step: rate, latency, server CPU per relayed message.
fn figures(outcome: &Outcome) -> Value {
    let mut figures = percentiles_ms(&outcome.latency);
    figures["achieved"] = json!(outcome.rate());
    figures["cpu_seconds"] = json!(outcome.cpu_seconds);
    figures["cpu_us_per_msg"] = json!(outcome
        .cpu_seconds
        .filter(|_| outcome.received > 0)
        .map(|cpu| cpu * 1e6 / outcome.received as f64));
    figures
}

/// The closed loop at each pair count, native then Socket.IO on the same server.
async fn closed_steps(options: &Options, server: &mut ServerProcess) -> anyhow::Result<Value> {
    println!(
        "socketio: closed loop, window {} per direction, {:.1} s per step",
        options.window, options.duration
    );
    println!("| pairs | native msgs/s | socketio msgs/s | socketio/native | native CPU µs/msg | socketio CPU µs/msg | CPU socketio/native |");
    println!("|---|---|---|---|---|---|---|");
    let mode = Mode::Closed {
        window: options.window,
    };
    let duration = Duration::from_secs_f64(options.duration);
    let mut steps = Vec::new();
    for &pairs in &options.pairs {
        let mut step = json!({"pairs": pairs});
        for (name, wire) in PROTOCOLS {
            let outcome = measure_on(server, wire, pairs, mode, duration).await?;
            step[name] = figures(&outcome);
        }
        let q = |name: &str, key: &str| f(&step[name][key]);
        println!(
            "| {pairs} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            q("native", "achieved"),
            q("socketio", "achieved"),
            q("socketio", "achieved") / q("native", "achieved"),
            q("native", "cpu_us_per_msg"),
            q("socketio", "cpu_us_per_msg"),
            q("socketio", "cpu_us_per_msg") / q("native", "cpu_us_per_msg"),
        );
        steps.push(step);
    }
    Ok(json!(steps))
}

/// The open loop over `open_pairs` pairs at one rate for both protocols.
async fn open_step(
    options: &Options,
    server: &mut ServerProcess,
    closed: &Value,
) -> anyhow::Result<Value> {
    // The two protocols' closed-loop rates at the open loop's pair count when it was
    // measured, else their best ones.
    let steps: Vec<&Value> = closed.as_array().into_iter().flatten().collect();
    let at_pairs: Vec<&Value> = steps
        .iter()
        .copied()
        .filter(|step| step["pairs"].as_u64() == Some(options.open_pairs as u64))
        .collect();
    let basis = if at_pairs.is_empty() {
        &steps
    } else {
        &at_pairs
    };
    let closed_rate = |name: &str| {
        basis
            .iter()
            .map(|step| f(&step[name]["achieved"]))
            .fold(0.0, f64::max)
    };
    let rate = match options.rate {
        Some(rate) => rate,
        None => closed_rate("native").min(closed_rate("socketio")) * options.open_load,
    }
    .max(1.0);
    let pairs = options.open_pairs;
    let interval = Duration::from_secs_f64(2.0 * pairs as f64 / rate);
    let duration = Duration::from_secs_f64(options.open_duration);
    println!(
        "socketio: open loop, {rate:.0} msgs/s over {pairs} pairs, {:.1} s",
        options.open_duration
    );
    println!("| protocol | achieved msgs/s | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|");
    let mut open = json!({"rate": rate, "pairs": pairs, "duration": options.open_duration,
                          "asked_rate": options.rate, "open_load": options.open_load,
                          "closed_at_pairs": !at_pairs.is_empty()});
    for (name, wire) in PROTOCOLS {
        let outcome = measure_on(server, wire, pairs, Mode::Open { interval }, duration).await?;
        let figures = figures(&outcome);
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            f(&figures["achieved"]),
            f(&figures["p50"]),
            f(&figures["p99"]),
            f(&figures["p999"]),
            f(&figures["max"])
        );
        open[name] = figures;
    }
    println!(
        "open loop: socketio/native p50 {:.2}, p99 {:.2}",
        f(&open["socketio"]["p50"]) / f(&open["native"]["p50"]),
        f(&open["socketio"]["p99"]) / f(&open["native"]["p99"])
    );
    Ok(open)
}

/// RSS per idle member: for each protocol a fresh server, `members` members in
/// workspaces of the capacity, attended and idle.
async fn idle_step(options: &Options) -> anyhow::Result<Value> {
    let k = capacity(options);
    let members = (options.members.min(max_connections()) / k * k).max(k);
    println!(
        "socketio: {members} idle members in workspaces of {k}, RSS after {:.1} s",
        options.settle
    );
    println!(
        "| protocol | RSS before MiB | RSS MiB | KiB/member | setup s |\n|---|---|---|---|---|"
    );
    let mut idle = json!({"asked": options.members, "members": members, "capacity": k,
                          "nofile": max_connections() + 512});
    for (name, wire) in PROTOCOLS {
        let mut server = start(options)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let base = server.rss()?;
        let started = Instant::now();
        let held =
            crate::connections::open(wire, server.addr, members, k, options.concurrency).await?;
        let setup = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(options.settle)).await;
        server.check_alive()?;
        let rss = server.rss()?;
        let per_member = rss.saturating_sub(base) as f64 / members as f64;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {setup:.1} |",
            base as f64 / 1048576.0,
            rss as f64 / 1048576.0,
            per_member / 1024.0
        );
        idle[name] = json!({"base": base, "rss": rss, "per_member": per_member,
                            "setup_seconds": setup});
        // The server goes first, so that it spends no time on the disconnects.
        drop(server);
        for task in &held {
            task.abort();
        }
    }
    println!(
        "idle: socketio/native RSS per member {:.2}",
        f(&idle["socketio"]["per_member"]) / f(&idle["native"]["per_member"])
    );
    Ok(idle)
}
