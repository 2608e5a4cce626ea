//! The cluster's relay: pairs of native members sending each other `icecandidate`s both
//! ways at once (relay_load), in each layout (cluster.rs): one node alone, both ends on
//! one node of the cluster, the ends on two nodes. Each pair's workspace is made by a
//! third member on another node, which owns it and stays online; the pairs of a step are
//! spread over the nodes in turn. Read when the measured window opens and closes: the
//! CPU time of the nodes (all of them, or the single node) and of Redis, Redis's
//! command counters, so that each step says what a relayed message costs Redis, and
//! what blocked Redis's event loop within the window (its latency monitor).

use crate::cluster::{members, Cluster, Layout, Options};
use crate::common::{cpu_seconds_of, percentiles_ms};
use crate::redis_server::{calls_between, connect, snapshot, stalls};
use crate::relay_load::{measure_pairs, Mode, Outcome, Probe, Wire};
use crate::relay_wire::End;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub async fn run(options: &Options, cluster: &mut Cluster) -> anyhow::Result<Value> {
    let closed = closed_steps(options, cluster).await?;
    let open = open_step(options, cluster).await?;
    Ok(
        json!({"window": options.window, "duration": options.duration,
              "closed": closed, "open": open}),
    )
}

/// The closed loop at each pair count, in each layout.
async fn closed_steps(options: &Options, cluster: &mut Cluster) -> anyhow::Result<Value> {
    println!(
        "cluster relay: closed loop, window {} per direction, {:.1} s per step",
        options.window, options.duration
    );
    println!("| pairs | single msgs/s | same node msgs/s | cross node msgs/s | same/single | cross/single | cross: PUBLISH/msg |");
    println!("|---|---|---|---|---|---|---|");
    let mode = Mode::Closed {
        window: options.window,
    };
    let duration = Duration::from_secs_f64(options.duration);
    let mut steps = Vec::new();
    for &pairs in &options.pairs {
        let mut step = json!({"pairs": pairs});
        for layout in Layout::ALL {
            step[layout.name()] =
                measure_on(options, cluster, layout, pairs, mode, duration).await?;
        }
        let q = |l: &str| f(&step[l]["achieved"]);
        println!(
            "| {pairs} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
            q("single"),
            q("same"),
            q("cross"),
            q("same") / q("single"),
            q("cross") / q("single"),
            f(&step["cross"]["redis"]["publishes_per_msg"])
        );
        steps.push(step);
    }
    Ok(json!(steps))
}

/// The open loop at `rate` over `open_pairs` pairs, in each layout.
async fn open_step(options: &Options, cluster: &mut Cluster) -> anyhow::Result<Value> {
    let pairs = options.open_pairs;
    let interval = Duration::from_secs_f64(2.0 * pairs as f64 / options.rate.max(1.0));
    let duration = Duration::from_secs_f64(options.open_duration);
    println!(
        "cluster relay: open loop, {:.0} msgs/s over {pairs} pairs, {:.1} s",
        options.rate, options.open_duration
    );
    println!("| layout | achieved msgs/s | p50 ms | p99 ms | p99.9 ms | max ms | Redis stalls ≥ 1 ms (longest, ms) |");
    println!("|---|---|---|---|---|---|---|");
    let mut open = json!({"rate": options.rate, "pairs": pairs, "duration": options.open_duration});
    for layout in Layout::ALL {
        let mode = Mode::Open { interval };
        let figures = measure_on(options, cluster, layout, pairs, mode, duration).await?;
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            layout.name(),
            f(&figures["achieved"]),
            f(&figures["p50"]),
            f(&figures["p99"]),
            f(&figures["p999"]),
            f(&figures["max"]),
            figures["redis"]["stalls"]
        );
        open[layout.name()] = figures;
    }
    let gap = |key: &str| f(&open["cross"][key]) - f(&open["same"][key]);
    let gaps = json!({"p50": gap("p50"), "p99": gap("p99"), "p999": gap("p999")});
    println!(
        "open loop: cross-node p99 - same-node p99 = {:.2} ms (goal: within 3 ms)",
        gap("p99")
    );
    open["cross_minus_same"] = gaps;
    Ok(open)
}

/// One layout's pairs, connected, measured in `mode`; their figures.
async fn measure_on(
    options: &Options,
    cluster: &mut Cluster,
    layout: Layout,
    pairs: usize,
    mode: Mode,
    duration: Duration,
) -> anyhow::Result<Value> {
    let (ends, owners) = connect_pairs(cluster, layout, pairs, options.concurrency).await?;
    let outcome = measure_pairs(ends, mode, duration, Some(probe(cluster, layout))).await?;
    drop(owners);
    cluster.check_alive()?;
    let mut figures = figures(&outcome, 2 * pairs);
    if matches!(mode, Mode::Open { .. }) {
        figures["curve"] = crate::relay::curve(&outcome.latency);
    }
    Ok(figures)
}

/// `pairs` pairs of `layout`, set up `concurrency` at a time; and the sockets of the
/// members that made their workspaces, to be closed once the step is over.
async fn connect_pairs(
    cluster: &Cluster,
    layout: Layout,
    pairs: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<(End, End)>, Vec<crate::common::Ws>)> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut setups = Vec::new();
    for k in 0..pairs {
        let [owner, a, b] = cluster.placement(layout, k);
        let gate = gate.clone();
        setups.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            members(owner, [a, b]).await
        }));
    }
    let (mut ends, mut owners) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    for setup in setups {
        let [owner, a, b] = setup.await??;
        let end = |socket, to| End {
            socket,
            wire: Wire::Native,
            to,
        };
        let (a_id, b_id) = (a.attendee, b.attendee);
        ends.push((
            end(a.client.into_socket(), b_id),
            end(b.client.into_socket(), a_id),
        ));
        owners.push(owner.client.into_socket());
    }
    Ok((ends, owners))
}

/// Reads the CPU time of the layout's nodes and, in the cluster, of Redis and its
/// command counters.
fn probe(cluster: &Cluster, layout: Layout) -> Probe {
    let pids = cluster.pids(layout);
    let redis =
        (layout != Layout::Single).then(|| (cluster.redis.url.clone(), cluster.redis.pid()));
    Arc::new(move || {
        let cpu: f64 = pids.iter().filter_map(|&p| cpu_seconds_of(p).ok()).sum();
        let mut read = json!({"cpu_nodes": cpu});
        if let Some((url, pid)) = &redis {
            read["cpu_redis"] = json!(cpu_seconds_of(*pid).ok());
            let snap = connect(url).and_then(|mut c| {
                let mut snap = snapshot(&mut c)?;
                snap["stalls"] = json!(stalls(&mut c)?);
                Ok(snap)
            });
            read["redis"] = snap.unwrap_or(Value::Null);
        }
        read
    })
}

/// Rate, latency, CPU per relayed message and, in the cluster, Redis's commands in the
/// measured window: per second, per relaying member, per relayed message.
fn figures(outcome: &Outcome, members: usize) -> Value {
    let mut figures = percentiles_ms(&outcome.latency);
    figures["achieved"] = json!(outcome.rate());
    let Some((before, after)) = &outcome.probed else {
        return figures;
    };
    let received = outcome.received.max(1) as f64;
    let per_msg = |key: &str| (f(&after[key]) - f(&before[key])) * 1e6 / received;
    figures["cpu_nodes_us_per_msg"] = json!(per_msg("cpu_nodes"));
    if after["redis"].is_object() && before["redis"].is_object() {
        figures["cpu_redis_us_per_msg"] = json!(per_msg("cpu_redis"));
        let (total, calls) = calls_between(&before["redis"], &after["redis"]);
        let publishes = calls.get("publish").and_then(Value::as_u64).unwrap_or(0);
        let per_s = total as f64 / outcome.seconds;
        figures["redis"] = json!({"commands": total, "calls": calls,
            "commands_per_s": per_s, "commands_per_s_per_member": per_s / members as f64,
            "commands_per_msg": total as f64 / received,
            "publishes_per_msg": publishes as f64 / received,
            "stalls": after["redis"]["stalls"]});
    }
    figures
}
