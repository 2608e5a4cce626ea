//! Relay: pairs of members exchanging `icecandidate` messages, both ways at once. The
//! payload carries its send time; latency is measured where it arrives. Closed loop
//! (a window of messages in flight per direction) gives the most messages per second;
//! open loop (a schedule, whatever the replies) gives latency at a given rate, timed
//! from the scheduled send so that a stalled server is not hidden. Same frames, same
//! schedule against the bare relay.

use crate::client::Client;
use crate::common::{
    connect, histogram, now_us, percentiles_ms, us_at, write_json, Common, ServerProcess, Target,
    Ws,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
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
    /// Measure an already running Switchboard at this address instead (for profiling).
    #[arg(long)]
    attach: Option<SocketAddr>,
}

/// One side of a pair: its socket and the id the server knows its partner by.
struct End {
    socket: Ws,
    to: String,
}

enum Mode {
    Closed { window: usize },
    Open { interval: Duration },
}

struct Outcome {
    received: u64,
    seconds: f64,
    latency: Histogram<u64>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    crate::common::raise_nofile();
    let duration = Duration::from_secs_f64(options.duration);
    if let Some(addr) = options.attach {
        for &pairs in &options.pairs {
            let outcome =
                measure(Target::Switchboard, addr, pairs, closed(&options), duration).await?;
            println!(
                "relay attached: {pairs} pairs: {:.0} msgs/s",
                rate(&outcome)
            );
        }
        return Ok(());
    }
    let mut servers = Vec::new();
    for target in [Target::Switchboard, Target::Bare] {
        servers.push(ServerProcess::start(target, &options.common)?);
    }
    println!(
        "relay: closed loop, window {} per direction, {:.1} s per step",
        options.window, options.duration
    );
    println!("| pairs | switchboard msgs/s | bare msgs/s | ratio |\n|---|---|---|---|");
    let mut steps = Vec::new();
    let mut max = [0f64; 2];
    for &pairs in &options.pairs {
        let mut rates = [0f64; 2];
        for (i, server) in servers.iter_mut().enumerate() {
            let outcome = measure(
                server.target,
                server.addr,
                pairs,
                closed(&options),
                duration,
            )
            .await?;
            server.check_alive()?;
            rates[i] = rate(&outcome);
            max[i] = max[i].max(rates[i]);
        }
        println!(
            "| {pairs} | {:.0} | {:.0} | {:.2} |",
            rates[0],
            rates[1],
            rates[0] / rates[1]
        );
        steps.push(json!({"pairs": pairs, "switchboard": rates[0], "bare": rates[1]}));
    }
    println!(
        "max relay msgs/s: switchboard {:.0}, bare {:.0}, switchboard/bare {:.2}",
        max[0],
        max[1],
        max[0] / max[1]
    );

    let target_rate = options.rate.unwrap_or(max[0] / 2.0).max(1.0);
    let directions = 2 * options.open_pairs;
    let interval = Duration::from_secs_f64(directions as f64 / target_rate);
    let open_duration = Duration::from_secs_f64(options.open_duration);
    println!(
        "relay: open loop, {:.0} msgs/s over {} pairs, {:.1} s",
        target_rate, options.open_pairs, options.open_duration
    );
    let mut open = serde_json::Map::new();
    let mut p99 = [0f64; 2];
    for (i, server) in servers.iter_mut().enumerate() {
        let outcome = measure(
            server.target,
            server.addr,
            options.open_pairs,
            Mode::Open { interval },
            open_duration,
        )
        .await?;
        server.check_alive()?;
        let figures = percentiles_ms(&outcome.latency);
        p99[i] = figures["p99"].as_f64().unwrap_or(0.0);
        println!(
            "{}: achieved {:.0} msgs/s, latency ms p50 {} p99 {} p99.9 {} max {}",
            server.target.name(),
            rate(&outcome),
            figures["p50"],
            figures["p99"],
            figures["p999"],
            figures["max"]
        );
        let mut entry = figures;
        entry["achieved"] = json!(rate(&outcome));
        entry["curve"] = curve(&outcome.latency);
        open.insert(server.target.name().to_string(), entry);
    }
    println!(
        "p99 at {:.0} msgs/s: switchboard/bare {:.2}",
        target_rate,
        p99[0] / p99[1]
    );
    write_json(
        options.common.json.as_deref(),
        &json!({
            "window": options.window,
            "duration": options.duration,
            "closed": steps,
            "max": {"switchboard": max[0], "bare": max[1]},
            "open": {"rate": target_rate, "pairs": options.open_pairs,
                     "duration": options.open_duration,
                     "switchboard": open["switchboard"], "bare": open["bare"]},
        }),
    )
}

fn closed(options: &Options) -> Mode {
    Mode::Closed {
        window: options.window,
    }
}

fn rate(outcome: &Outcome) -> f64 {
    outcome.received as f64 / outcome.seconds
}

/// Latency (ms) against "nines": 1 is p90, 2 is p99, 3 is p99.9.
fn curve(h: &Histogram<u64>) -> serde_json::Value {
    let points: Vec<_> = (0..=80)
        .map(|i| {
            let nines = i as f64 * 0.05;
            let q = 1.0 - 10f64.powf(-nines);
            json!([nines, h.value_at_quantile(q) as f64 / 1000.0])
        })
        .collect();
    json!(points)
}

/// Two connected members of one workspace, or two paired sockets of the bare relay.
async fn pair(target: Target, addr: SocketAddr, key: usize) -> anyhow::Result<(End, End)> {
    match target {
        Target::Switchboard => {
            let owner = Client::create(addr).await?;
            let guest = Client::attend(addr, &owner.invite).await?;
            Ok((
                End {
                    socket: owner.client.into_socket(),
                    to: guest.attendee,
                },
                End {
                    socket: guest.client.into_socket(),
                    to: owner.attendee,
                },
            ))
        }
        Target::Bare => {
            let path = format!("/pair/{key}-{}", now_us());
            let mut a = connect(addr, &path).await?;
            let mut b = connect(addr, &path).await?;
            for socket in [&mut a, &mut b] {
                loop {
                    match socket.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str() == "paired" => break,
                        Some(Ok(_)) => continue,
                        _ => anyhow::bail!("bare relay closed before pairing"),
                    }
                }
            }
            Ok((
                End {
                    socket: a,
                    to: "_bare".into(),
                },
                End {
                    socket: b,
                    to: "_bare".into(),
                },
            ))
        }
    }
}

/// A realistic candidate, with the send time (µs) where the receiver finds it.
fn frame(to: &str, ts: u64) -> String {
    format!(
        r#"{{"event":"icecandidate","data":{{"to":"{to}","candidate":{{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.10 50000 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Zx9q network-cost 999 ts={ts}","sdpMid":"0","sdpMLineIndex":0}}}}}}"#
    )
}

fn parse_ts(text: &str) -> Option<u64> {
    let at = text.find("ts=")? + 3;
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

async fn measure(
    target: Target,
    addr: SocketAddr,
    pairs: usize,
    mode: Mode,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let mut ends = Vec::with_capacity(2 * pairs);
    let mut setups = Vec::new();
    for key in 0..pairs {
        setups.push(tokio::spawn(pair(target, addr, key)));
    }
    for setup in setups {
        let (a, b) = setup.await??;
        ends.push((a, b));
    }
    let warmup = match mode {
        Mode::Closed { .. } => duration / 5,
        Mode::Open { .. } => Duration::from_millis(500),
    };
    let start = Instant::now() + warmup;
    let end = start + duration;
    let stop_reading = match mode {
        Mode::Closed { .. } => end,
        Mode::Open { .. } => end + Duration::from_secs(2),
    };
    let received = Arc::new(AtomicU64::new(0));
    let (start_us, end_us) = (us_at(start.into_std()), us_at(end.into_std()));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (n, (a, b)) in ends.into_iter().enumerate() {
        let (a_sink, a_stream) = a.socket.split();
        let (b_sink, b_stream) = b.socket.split();
        // a -> b and b -> a, each with its window.
        let ab = Arc::new(Semaphore::new(window_of(&mode)));
        let ba = Arc::new(Semaphore::new(window_of(&mode)));
        // Spread the open-loop schedules over one interval.
        let offset = match mode {
            Mode::Open { interval } => interval.mul_f64((n as f64 / pairs as f64).fract()),
            Mode::Closed { .. } => Duration::ZERO,
        };
        writers.push(tokio::spawn(write(
            a_sink,
            a.to,
            ab.clone(),
            interval_of(&mode),
            Instant::now() + offset,
            end,
        )));
        writers.push(tokio::spawn(write(
            b_sink,
            b.to,
            ba.clone(),
            interval_of(&mode),
            Instant::now() + offset + interval_of(&mode).unwrap_or_default() / 2,
            end,
        )));
        readers.push(tokio::spawn(read(
            b_stream,
            ab,
            received.clone(),
            (start_us, end_us),
            stop_reading,
        )));
        readers.push(tokio::spawn(read(
            a_stream,
            ba,
            received.clone(),
            (start_us, end_us),
            stop_reading,
        )));
    }
    let mut latency = histogram();
    let mut halves = Vec::new();
    for reader in readers {
        let (h, stream) = reader.await?;
        latency.add(&h)?;
        halves.push(stream);
    }
    for writer in writers {
        if let Ok(Ok(sink)) = writer.await {
            let _ = tokio::time::timeout(Duration::from_millis(200), close(sink)).await;
        }
    }
    drop(halves);
    // Lets the server finish its disconnects before the next step.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(Outcome {
        received: received.load(Ordering::Relaxed),
        seconds: duration.as_secs_f64(),
        latency,
    })
}

fn window_of(mode: &Mode) -> usize {
    match mode {
        Mode::Closed { window } => *window,
        Mode::Open { .. } => 0,
    }
}

fn interval_of(mode: &Mode) -> Option<Duration> {
    match mode {
        Mode::Closed { .. } => None,
        Mode::Open { interval } => Some(*interval),
    }
}

async fn close(mut sink: SplitSink<Ws, Message>) {
    let _ = sink.close().await;
}

/// Sends to `to` until `end`: as the window allows (closed), or on schedule (open).
async fn write(
    mut sink: SplitSink<Ws, Message>,
    to: String,
    window: Arc<Semaphore>,
    interval: Option<Duration>,
    first: Instant,
    end: Instant,
) -> anyhow::Result<SplitSink<Ws, Message>> {
    let mut next = first;
    loop {
        let ts = match interval {
            Some(interval) => {
                tokio::time::sleep_until(next).await;
                if next >= end {
                    break;
                }
                let ts = us_at(next.into_std());
                next += interval;
                ts
            }
            None => {
                match tokio::time::timeout_at(end, window.acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => break,
                }
                now_us()
            }
        };
        sink.send(Message::text(frame(&to, ts))).await?;
    }
    Ok(sink)
}

/// Receives until `stop`; counts and times what was sent within `window_us`.
async fn read(
    mut stream: SplitStream<Ws>,
    window: Arc<Semaphore>,
    received: Arc<AtomicU64>,
    (start_us, end_us): (u64, u64),
    stop: Instant,
) -> (Histogram<u64>, SplitStream<Ws>) {
    let mut latency = histogram();
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(stop, stream.next()).await {
        let Message::Text(text) = message else {
            continue;
        };
        let Some(ts) = parse_ts(&text) else {
            continue;
        };
        window.add_permits(1);
        let now = now_us();
        if ts >= start_us && ts < end_us && now < end_us.max(ts) + 2_000_000 {
            received.fetch_add(1, Ordering::Relaxed);
            let _ = latency.record(now.saturating_sub(ts).max(1));
        }
    }
    (latency, stream)
}
