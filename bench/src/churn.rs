//! Churn: workers each looping connect, `attend`, `leave`, close, on a workspace whose
//! owner stays online (so every cycle also pushes `attendee-joined` and `attendee-left`
//! to the owner). Cycles per second. Baseline: connect to the bare relay's `/echo`, two
//! echoed frames (as many round trips as attend and leave), close.
//!
//! Also the server's CPU time per cycle (utime + stime of /proc/<pid>/stat over the
//! run): the load generator shares the cores, so the cycle rate also moves with what
//! the client spends on each server's replies, and the CPU figure is the server's alone.

use crate::client::Client;
use crate::common::{connect, cpu_seconds_of, write_json, Common, ServerProcess, Target};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// Concurrent workers.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    crate::common::raise_nofile();
    println!(
        "churn: {} workers, {:.1} s",
        options.workers, options.duration
    );
    let mut out = serde_json::Map::new();
    for target in [Target::Switchboard, Target::Bare] {
        let mut server = ServerProcess::start(target, &options.common)?;
        let cpu = cpu_seconds_of(server.pid())?;
        let (cycles, failures) = churn(&server, options.workers, options.duration).await?;
        let cpu = cpu_seconds_of(server.pid())? - cpu;
        server.check_alive()?;
        let rate = cycles as f64 / options.duration;
        if cycles == 0 {
            anyhow::bail!("churn: no cycle completed against {}", target.name());
        }
        let cpu_us = cpu * 1e6 / cycles as f64;
        println!(
            "{}: {:.0} cycles/s, server CPU {cpu_us:.1} µs per cycle ({failures} failed cycles)",
            target.name(),
            rate
        );
        out.insert(
            target.name().into(),
            json!({"cycles_per_second": rate, "cpu_us_per_cycle": cpu_us, "failures": failures}),
        );
    }
    let figure = |t: &str, key: &str| out[t][key].as_f64().unwrap_or(0.0);
    println!(
        "churn switchboard/bare: cycles/s {:.2}, server CPU per cycle {:.2}",
        figure("switchboard", "cycles_per_second") / figure("bare", "cycles_per_second"),
        figure("switchboard", "cpu_us_per_cycle") / figure("bare", "cpu_us_per_cycle")
    );
    write_json(
        options.common.json.as_deref(),
        &json!({"workers": options.workers, "duration": options.duration,
                "switchboard": out["switchboard"], "bare": out["bare"]}),
    )
}

async fn churn(server: &ServerProcess, workers: usize, seconds: f64) -> anyhow::Result<(u64, u64)> {
    let addr = server.addr;
    let target = server.target;
    let cycles = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (cycles, failures) = (cycles.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            // The owner stays online, reading, for the whole run.
            let owner = match target {
                Target::Switchboard => Some(Client::create(addr).await?),
                Target::Bare => None,
            };
            let invite = owner.as_ref().map(|o| o.invite.clone());
            let watcher = owner.map(|o| {
                let mut socket = o.client.into_socket();
                tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} })
            });
            while Instant::now() < end {
                let cycle = async {
                    match &invite {
                        Some(invite) => {
                            let mut guest = Client::attend(addr, invite).await?;
                            guest.client.request("leave", json!({})).await?;
                            guest.client.close().await;
                        }
                        None => {
                            let mut ws = connect(addr, "/echo").await?;
                            for _ in 0..2 {
                                ws.send(Message::text("{\"event\":\"leave\"}")).await?;
                                ws.next().await.ok_or_else(|| anyhow::anyhow!("closed"))??;
                            }
                            let _ = ws.close(None).await;
                        }
                    }
                    anyhow::Ok(())
                };
                match tokio::time::timeout(Duration::from_secs(10), cycle).await {
                    Ok(Ok(())) if Instant::now() <= end => {
                        cycles.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Ok(())) => {}
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if let Some(watcher) = watcher {
                watcher.abort();
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((
        cycles.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    ))
}
