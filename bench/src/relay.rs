//! Relay: pairs of members exchanging `icecandidate` messages, both ways at once. The
//! payload carries its send time; latency is measured where it arrives. Three steps,
//! each against Switchboard and the bare relay in turn:
//! - closed loop (a window of messages in flight per direction): the most messages per
//!   second;
//! - open loop (a schedule, whatever the replies): latency at a given rate, timed from
//!   the scheduled send so that a stalled server is not hidden;
//! - low concurrency: one pair, each side keeping a few requests outstanding and sending
//!   the next as a `sent` reply comes back. With so little in flight, any frame held back
//!   by Nagle's algorithm waits for a delayed ACK (about 40 ms), and the tail shows it.

use crate::common::{percentiles_ms, write_json, Common, ServerProcess, Target};
use crate::relay_load::{measure, Mode, Outcome};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// Steps to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "closed,open,latency")]
    steps: Vec<Step>,
    /// Pair counts for the closed loop (max rate), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,512")]
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
    /// Open-loop rate, messages/s in total; default: half Switchboard's closed-loop max.
    #[arg(long)]
    rate: Option<f64>,
    /// Requests each side keeps outstanding in the low-concurrency step (one pair).
    #[arg(long, default_value_t = 8)]
    latency_window: usize,
    /// Seconds measured in the low-concurrency step (after a warm-up of a fifth of it).
    #[arg(long, default_value_t = 5.0)]
    latency_duration: f64,
    /// Measure an already running Switchboard at this address instead (for profiling).
    #[arg(long)]
    attach: Option<SocketAddr>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Step {
    /// Closed loop at each pair count: max msgs/s.
    Closed,
    /// Open loop: latency at a rate.
    Open,
    /// One pair, a few requests outstanding per side: msgs/s and latency.
    Latency,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    crate::common::raise_nofile();
    if let Some(addr) = options.attach {
        return attached(&options, addr).await;
    }
    let mut servers = Vec::new();
    for target in [Target::Switchboard, Target::Bare] {
        servers.push(ServerProcess::start(target, &options.common)?);
    }
    let mut figures = json!({});
    if options.steps.contains(&Step::Closed) {
        let (steps, max) = closed_steps(&options, &mut servers).await?;
        figures["window"] = json!(options.window);
        figures["duration"] = json!(options.duration);
        figures["closed"] = steps;
        figures["max"] = json!({"switchboard": max[0], "bare": max[1]});
    }
    if options.steps.contains(&Step::Open) {
        let rate = match (options.rate, figures["max"]["switchboard"].as_f64()) {
            (Some(rate), _) => rate,
            (None, Some(max)) => max / 2.0,
            (None, None) => anyhow::bail!("the open loop needs --rate, or the closed step"),
        };
        figures["open"] = open_step(&options, &mut servers, rate.max(1.0)).await?;
    }
    if options.steps.contains(&Step::Latency) {
        figures["latency"] = latency_step(&options, &mut servers).await?;
    }
    write_json(options.common.json.as_deref(), &figures)
}

async fn attached(options: &Options, addr: SocketAddr) -> anyhow::Result<()> {
    let duration = Duration::from_secs_f64(options.duration);
    for &pairs in &options.pairs {
        let mode = Mode::Closed {
            window: options.window,
        };
        let outcome = measure(Target::Switchboard, addr, pairs, mode, duration, None).await?;
        println!(
            "relay attached: {pairs} pairs: {:.0} msgs/s",
            outcome.rate()
        );
    }
    Ok(())
}

/// The closed loop at each pair count; the steps, and each server's best rate.
async fn closed_steps(
    options: &Options,
    servers: &mut [ServerProcess],
) -> anyhow::Result<(Value, [f64; 2])> {
    println!(
        "relay: closed loop, window {} per direction, {:.1} s per step",
        options.window, options.duration
    );
    println!("| pairs | switchboard msgs/s | bare msgs/s | ratio |\n|---|---|---|---|");
    let duration = Duration::from_secs_f64(options.duration);
    let mode = Mode::Closed {
        window: options.window,
    };
    let mut steps = Vec::new();
    let mut max = [0f64; 2];
    for &pairs in &options.pairs {
        let mut rates = [0f64; 2];
        for (i, server) in servers.iter_mut().enumerate() {
            let outcome = measure(server.target, server.addr, pairs, mode, duration, None).await?;
            server.check_alive()?;
            rates[i] = outcome.rate();
            max[i] = max[i].max(rates[i]);
        }
        let ratio = rates[0] / rates[1];
        println!(
            "| {pairs} | {:.0} | {:.0} | {ratio:.2} |",
            rates[0], rates[1]
        );
        steps.push(json!({"pairs": pairs, "switchboard": rates[0], "bare": rates[1]}));
    }
    println!(
        "max relay msgs/s: switchboard {:.0}, bare {:.0}, switchboard/bare {:.2}",
        max[0],
        max[1],
        max[0] / max[1]
    );
    Ok((json!(steps), max))
}

/// The open loop at `rate` msgs/s in total.
async fn open_step(
    options: &Options,
    servers: &mut [ServerProcess],
    rate: f64,
) -> anyhow::Result<Value> {
    let directions = 2 * options.open_pairs;
    let interval = Duration::from_secs_f64(directions as f64 / rate);
    let duration = Duration::from_secs_f64(options.open_duration);
    println!(
        "relay: open loop, {rate:.0} msgs/s over {} pairs, {:.1} s",
        options.open_pairs, options.open_duration
    );
    let mut open = json!({"rate": rate, "pairs": options.open_pairs,
                          "duration": options.open_duration});
    for server in servers.iter_mut() {
        let mode = Mode::Open { interval };
        let outcome = measure(
            server.target,
            server.addr,
            options.open_pairs,
            mode,
            duration,
            None,
        )
        .await?;
        server.check_alive()?;
        let mut entry = print_latency(server.target, &outcome);
        entry["curve"] = curve(&outcome.latency);
        open[server.target.name()] = entry;
    }
    print_ratio("open loop", &open);
    Ok(open)
}

/// One pair, `latency_window` requests outstanding per side, paced by the replies.
async fn latency_step(options: &Options, servers: &mut [ServerProcess]) -> anyhow::Result<Value> {
    let window = options.latency_window;
    let duration = Duration::from_secs_f64(options.latency_duration);
    println!(
        "relay: low concurrency, 1 pair, {window} requests outstanding per side, {:.1} s",
        options.latency_duration
    );
    let mut latency = json!({"pairs": 1, "window": window, "duration": options.latency_duration});
    for server in servers.iter_mut() {
        let mode = Mode::Replies { window };
        let outcome = measure(server.target, server.addr, 1, mode, duration, None).await?;
        server.check_alive()?;
        let mut entry = print_latency(server.target, &outcome);
        entry["curve"] = curve(&outcome.latency);
        latency[server.target.name()] = entry;
    }
    print_ratio("low concurrency", &latency);
    Ok(latency)
}

/// Prints one server's rate and latency; returns them.
fn print_latency(target: Target, outcome: &Outcome) -> Value {
    let mut figures = percentiles_ms(&outcome.latency);
    println!(
        "{}: {:.0} msgs/s, latency ms p50 {} p99 {} p99.9 {} max {}",
        target.name(),
        outcome.rate(),
        figures["p50"],
        figures["p99"],
        figures["p999"],
        figures["max"]
    );
    figures["achieved"] = json!(outcome.rate());
    figures
}

fn print_ratio(step: &str, figures: &Value) {
    let ratio = |key: &str| {
        figures["switchboard"][key].as_f64().unwrap_or(f64::NAN)
            / figures["bare"][key].as_f64().unwrap_or(f64::NAN)
    };
    println!(
        "{step}: switchboard/bare msgs/s {:.2}, p99 {:.2}",
        ratio("achieved"),
        ratio("p99")
    );
}

/// Latency (ms) against "nines": 1 is p90, 2 is p99, 3 is p99.9.
pub fn curve(h: &Histogram<u64>) -> Value {
    let points: Vec<_> = (0..=80)
        .map(|i| {
            let nines = i as f64 * 0.05;
            let q = 1.0 - 10f64.powf(-nines);
            json!([nines, h.value_at_quantile(q) as f64 / 1000.0])
        })
        .collect();
    json!(points)
}
