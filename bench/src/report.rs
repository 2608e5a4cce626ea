//! BENCHMARKS.md and the charts, from the JSON files the scenarios wrote. The relay,
//! connections, join-storm, churn and attacks scenarios are the core of every run; the
//! others (signal-fire, socketio, cluster, foglet, heap) are optional: a run without one's
//! JSON has no section for it, and the charts and the "Scale on paper" section that read
//! it leave out what needs it.

use crate::charts::{latency_chart, rss_chart, throughput_chart};
use crate::report_charts::{Run, DISTRIBUTIONS, MEMORY, PEERS};
use anyhow::Context;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Options {
    /// Directory holding relay.json, connections.json, join-storm.json, churn.json,
    /// attacks.json, signal-fire.json, socketio.json, cluster.json, foglet.json,
    /// heap.json.
    #[arg(long)]
    pub results: PathBuf,
    /// The exact command lines run, one per line.
    #[arg(long)]
    pub commands: PathBuf,
    /// Markdown to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Directory for the PNG charts.
    #[arg(long)]
    pub charts: PathBuf,
    /// How the charts are referred to from the markdown.
    #[arg(long, default_value = "bench/charts")]
    pub charts_link: String,
    /// When the run was made (free text).
    #[arg(long, default_value = "")]
    pub date: String,
    /// The suite's name (full or smoke).
    #[arg(long, default_value = "full")]
    pub suite: String,
    /// Only this scenario's section (signal-fire, socketio, cluster, foglet or heap), put
    /// into the existing --out in place (the cluster's rows of the summary too); the
    /// other sections keep the figures of their last run.
    #[arg(long)]
    pub only: Option<String>,
    /// A remark on the run (e.g. that the machine was shared): at the top of the file, or
    /// with the section of `--only`.
    #[arg(long, default_value = "")]
    pub note: String,
    /// The suite's wall time so far, seconds (bench/run's, up to the report): in the header.
    #[arg(long)]
    pub elapsed: Option<f64>,
    /// Each part's wall time, one "NAME SECONDS" a line (bench/run's setup and scenarios):
    /// in the header, after the total.
    #[arg(long)]
    pub timings: Option<PathBuf>,
}

/// The scenarios a run may leave out (`bench/run --only` runs one of them alone).
const OPTIONAL: [&str; 5] = ["signal-fire", "socketio", "cluster", "foglet", "heap"];

pub fn load(dir: &Path, name: &str) -> anyhow::Result<Value> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// `name` from `dir` when the run wrote it (an optional scenario); an error when it is
/// there but unreadable.
pub fn load_optional(dir: &Path, name: &str) -> anyhow::Result<Option<Value>> {
    if dir.join(name).exists() {
        load(dir, name).map(Some)
    } else {
        Ok(None)
    }
}

/// ", in 480 s (npm ci and the build 12 s, relay 62 s, …)", from --elapsed and --timings.
fn suite_time(options: &Options) -> anyhow::Result<String> {
    let Some(elapsed) = options.elapsed else {
        return Ok(String::new());
    };
    let parts = match &options.timings {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(name, secs)| match name {
                "setup" => format!("npm ci and the build {} s", secs.trim()),
                _ => format!("{name} {} s", secs.trim()),
            })
            .collect::<Vec<_>>(),
        None => Vec::new(),
    };
    Ok(if parts.is_empty() {
        format!(", in {elapsed:.0} s")
    } else {
        format!(", in {elapsed:.0} s ({})", parts.join(", "))
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    vec![
        ("nproc".into(), nproc.to_string()),
        (
            "memory".into(),
            format!("{:.1} GiB", mem_kib / 1024.0 / 1024.0),
        ),
        ("CPU".into(), model),
        ("kernel".into(), kernel.trim().to_string()),
        (
            "RLIMIT_NOFILE (hard)".into(),
            (crate::common::raise_nofile()).to_string(),
        ),
    ]
}

pub fn run(options: Options) -> anyhow::Result<()> {
    if let Some(scenario) = &options.only {
        return crate::report_only::run(&options, scenario);
    }
    let relay = load(&options.results, "relay.json")?;
    let conns = load(&options.results, "connections.json")?;
    let storm = load(&options.results, "join-storm.json")?;
    let churn = load(&options.results, "churn.json")?;
    let attacks = load(&options.results, "attacks.json")?;
    let [signal_fire, socketio, cluster, foglet, heap] =
        OPTIONAL.map(|name| load_optional(&options.results, &format!("{name}.json")));
    let (signal_fire, socketio, cluster, foglet, heap) =
        (signal_fire?, socketio?, cluster?, foglet?, heap?);
    let commands = std::fs::read_to_string(&options.commands)?;
    let run = Run {
        relay: Some(&relay),
        connections: Some(&conns),
        socketio: socketio.as_ref(),
        signal_fire: signal_fire.as_ref(),
        foglet: foglet.as_ref(),
    };
    let mut drawn = Vec::new();
    crate::charts::with_font(&options.charts, |dir| {
        latency_chart(&relay, &dir.join("relay-latency.png"))?;
        throughput_chart(&relay, &dir.join("relay-throughput.png"))?;
        rss_chart(&conns, &dir.join("connections-rss.png"))?;
        if let Some(cluster) = &cluster {
            crate::report_cluster::charts(cluster, dir)?;
        }
        drawn = crate::report_charts::write(run, dir)?;
        Ok(())
    })?;
    let link = &options.charts_link;
    let embed = |w: &mut String, chart: &str, text: &str| -> std::fmt::Result {
        if drawn.contains(&chart) {
            writeln!(
                w,
                "\n{text}\n\n![{}]({link}/{chart})",
                chart.trim_end_matches(".png")
            )?;
        }
        Ok(())
    };

    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Switchboard benchmarks\n")?;
    writeln!(
        w,
        "Written by `bench/run{}` ({} suite){}{}. Do not edit by hand: run `bench/run` again.\n",
        if options.suite == "smoke" {
            " --smoke"
        } else {
            ""
        },
        options.suite,
        if options.date.is_empty() {
            String::new()
        } else {
            format!(" on {}", options.date)
        },
        suite_time(&options)?
    )?;
    if !options.note.is_empty() {
        writeln!(w, "**{}**\n", options.note)?;
    }
    let missing: Vec<_> = OPTIONAL
        .iter()
        .zip([&signal_fire, &socketio, &cluster, &foglet, &heap])
        .filter(|(_, json)| json.is_none())
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if !missing.is_empty() {
        writeln!(w, "Not in this run: {} (no JSON of theirs among the results; their sections are left out).\n", missing.join(", "))?;
    }
    writeln!(w, "Every figure is measured twice in the same run: against Switchboard (`target/release/switchboard`, \
memory storage, limits lifted, default 2 workers on 2 cores) and against the *bare relay*, `switchboard-bench bare-relay`: \
a minimal tokio-tungstenite program that pairs sockets and forwards frames, with no JSON, no auth and no state. \
Absolute numbers move with whatever else the machine is doing; the ratio Switchboard / bare is the figure to compare \
between runs. Both servers run as separate processes; the load generator shares the same 2 cores, so it is part of \
every figure, equally for both servers. The bench reports; it asserts no timing.\n")?;
    writeln!(w, "## Machine\n\n| | |\n|---|---|")?;
    for (k, v) in machine() {
        writeln!(w, "| {k} | {v} |")?;
    }

    let open = &relay["open"];
    let max_s = f(&relay["max"]["switchboard"]);
    let max_b = f(&relay["max"]["bare"]);
    writeln!(w, "\n## Summary\n\n| figure | Switchboard | bare relay | Switchboard / bare |\n|---|---|---|---|")?;
    writeln!(
        w,
        "| max relay throughput, msgs/s (closed loop) | {:.0} | {:.0} | {:.2} |",
        max_s,
        max_b,
        max_s / max_b
    )?;
    for (label, key) in [("p50", "p50"), ("p99", "p99"), ("p99.9", "p999")] {
        let s = f(&open["switchboard"][key]);
        let b = f(&open["bare"][key]);
        writeln!(
            w,
            "| relay latency {label} at {:.0} msgs/s (half Switchboard's max), ms | {s:.2} | {b:.2} | {:.2} |",
            f(&open["rate"]),
            s / b
        )?;
    }
    low_concurrency_rows(w, &relay["latency"])?;
    crate::report_connections::summary_rows(w, &conns)?;
    let (ss, sb) = (&storm["switchboard"], &storm["bare"]);
    writeln!(
        w,
        "| join storm, {} clients at once: success | {:.2} % | {:.2} % | {:.3} |",
        storm["clients"],
        f(&ss["success"]) * 100.0,
        f(&sb["success"]) * 100.0,
        f(&ss["success"]) / f(&sb["success"])
    )?;
    writeln!(
        w,
        "| join storm: p99 join time, ms (bare: connect + first echo) | {:.1} | {:.1} | {:.2} |",
        f(&ss["p99"]),
        f(&sb["p99"]),
        f(&ss["p99"]) / f(&sb["p99"])
    )?;
    let (cs, cb) = (
        f(&churn["switchboard"]["cycles_per_second"]),
        f(&churn["bare"]["cycles_per_second"]),
    );
    writeln!(
        w,
        "| churn, connect/attend/leave/close cycles/s ({} workers) | {cs:.0} | {cb:.0} | {:.2} |",
        churn["workers"],
        cs / cb
    )?;
    let (us, ub) = (
        f(&churn["switchboard"]["cpu_us_per_cycle"]),
        f(&churn["bare"]["cpu_us_per_cycle"]),
    );
    writeln!(
        w,
        "| churn, server CPU µs per cycle | {us:.1} | {ub:.1} | {:.2} |",
        us / ub
    )?;
    if let Some(cluster) = &cluster {
        crate::report_cluster_summary::rows(w, cluster, "")?;
    }

    writeln!(w, "\n## Relay\n")?;
    writeln!(w, "Pairs of members of one workspace send each other `icecandidate` messages (a real candidate string, \
~250 bytes, with the send time in it), both directions at once; latency is taken where the message arrives. \
Switchboard also answers every message with `sent {{}}`; the bare relay forwards the same bytes and answers nothing.\n")?;
    writeln!(
        w,
        "Closed loop: {} messages in flight per direction, {} s per step.\n",
        relay["window"], relay["duration"]
    )?;
    writeln!(
        w,
        "| pairs | Switchboard msgs/s | bare msgs/s | Switchboard / bare |\n|---|---|---|---|"
    )?;
    for step in relay["closed"].as_array().into_iter().flatten() {
        let (s, b) = (f(&step["switchboard"]), f(&step["bare"]));
        writeln!(w, "| {} | {s:.0} | {b:.0} | {:.2} |", step["pairs"], s / b)?;
    }
    writeln!(w, "\nOpen loop: {:.0} msgs/s in total over {} pairs for {} s, on a fixed schedule; latency counts from the \
scheduled send time, so a stall is not hidden (no coordinated omission).\n", f(&open["rate"]), open["pairs"], open["duration"])?;
    writeln!(w, "| server | achieved msgs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|")?;
    for t in ["switchboard", "bare"] {
        writeln!(w, "| {t} | {} |", latency_cells(&open[t], 2))?;
    }
    writeln!(w, "\n![relay latency]({0}/relay-latency.png)\n\n![relay throughput]({0}/relay-throughput.png)", options.charts_link)?;
    low_concurrency_section(w, &relay["latency"])?;
    embed(w, DISTRIBUTIONS, "The distributions whole, from p50 to the maximum, of the open loop above (solid) \
and, when the run has them, of the low-concurrency step (dashed): Switchboard against the bare relay.")?;

    crate::report_connections::section(w, &conns, &options.charts_link)?;
    embed(w, MEMORY, "RSS per idle member, by protocol, each beside the baselines measured with it in the same \
scenario (this section's largest step; the socketio, signal-fire and foglet sections' idle steps, when the run has \
them): KiB per member for Switchboard, per connection for the baselines.")?;
    if let Some(heap) = &heap {
        crate::report_heap::section(w, heap, Some(&conns), &commands, "", "")?;
    }

    writeln!(w, "\n## Join storm\n")?;
    writeln!(w, "{} clients released at one instant; one in {} sends `create`, the others `attend` workspaces made \
beforehand (owners offline). Join time: from the release to the reply. Bare relay: the same number of clients \
connecting to its echo path at once, timed to their first echoed frame.\n", storm["clients"], storm["capacity"])?;
    writeln!(w, "| server | joined | p50 ms | p90 ms | p99 ms | max ms | errors |\n|---|---|---|---|---|---|---|")?;
    for t in ["switchboard", "bare"] {
        let o = &storm[t];
        writeln!(
            w,
            "| {t} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            o["joined"],
            storm["clients"],
            f(&o["p50"]),
            f(&o["p90"]),
            f(&o["p99"]),
            f(&o["max"]),
            o["errors"]
        )?;
    }

    writeln!(w, "\n## Churn\n")?;
    writeln!(w, "{} workers, each on its own workspace whose owner stays online, loop: connect, `attend`, `leave`, close ({} s). \
Bare relay: connect, two echoed frames, close.\n", churn["workers"], churn["duration"])?;
    writeln!(w, "The load generator shares the machine's cores: the cycle rate also moves with what it spends on \
each server's replies (an `attend` reply is a workspace, the owner gets two pushes per cycle), while the server's \
CPU time per cycle (utime + stime from /proc over the run, divided by the cycles) is the server's own.\n")?;
    writeln!(
        w,
        "| server | cycles/s | server CPU µs per cycle | failed cycles |\n|---|---|---|---|"
    )?;
    for t in ["switchboard", "bare"] {
        writeln!(
            w,
            "| {t} | {:.0} | {:.1} | {} |",
            f(&churn[t]["cycles_per_second"]),
            f(&churn[t]["cpu_us_per_cycle"]),
            churn[t]["failures"]
        )?;
    }

    crate::report_attacks::section(w, &attacks, &commands)?;
    // The note was printed once, at the top: it concerns every figure of the run.
    // The peer comparison's chart goes with the first of its sections the run has.
    if let Some(sf) = &signal_fire {
        crate::report_signal_fire::section(w, sf, &commands, "", "")?;
        embed(w, PEERS, PEERS_TEXT)?;
    }
    if let Some(sio) = &socketio {
        crate::report_socketio::section(w, sio, &commands, "", "")?;
    }
    if let Some(cluster) = &cluster {
        crate::report_cluster::section(w, cluster, &commands, "", "", link)?;
    }
    if let Some(fg) = &foglet {
        crate::report_foglet::section(w, fg, &commands, "", "")?;
        if signal_fire.is_none() {
            embed(w, PEERS, PEERS_TEXT)?;
        }
    }
    crate::report_scale::section(
        w,
        crate::report_scale::Inputs {
            relay: Some(&relay),
            connections: Some(&conns),
            signal_fire: signal_fire.as_ref(),
            cluster: cluster.as_ref(),
        },
    )?;

    writeln!(
        w,
        "\n## Commands\n\nRun from the repository root, in this order:\n\n```sh\n{}```",
        commands
    )?;
    writeln!(w, "\nClient sockets are bound to 127.0.0.2 … 127.0.0.251 in turn before connecting, so that no single \
source address runs out of ephemeral ports; both the load generator and the servers raise RLIMIT_NOFILE to the hard limit.")?;
    std::fs::write(&options.out, md)?;
    println!(
        "wrote {} and charts in {}",
        options.out.display(),
        options.charts.display()
    );
    Ok(())
}

/// What peers.png shows, above it.
pub const PEERS_TEXT: &str = "Server CPU per relayed message at each pair count (closed loop), the peer \
comparisons side by side on one scale: Switchboard's signal-fire endpoint against signal-fire 0.5.3 and the bare \
relay (this section), Switchboard's Socket.IO entrance events against foglet-signaling-server 1.0.3 (its section), \
each panel when the run has its scenario.";

/// Summary rows of the low-concurrency relay run.
fn low_concurrency_rows(w: &mut String, latency: &Value) -> std::fmt::Result {
    if !latency.is_object() {
        return Ok(());
    }
    let (s, b) = (&latency["switchboard"], &latency["bare"]);
    let what = format!(
        "1 pair, {} requests outstanding per side",
        latency["window"]
    );
    let (sa, ba) = (f(&s["achieved"]), f(&b["achieved"]));
    writeln!(
        w,
        "| relay throughput, {what}, msgs/s | {sa:.0} | {ba:.0} | {:.2} |",
        sa / ba
    )?;
    for (label, key) in [("p50", "p50"), ("p99", "p99"), ("p99.9", "p999")] {
        let (sv, bv) = (f(&s[key]), f(&b[key]));
        writeln!(
            w,
            "| relay latency {label}, {what}, ms | {sv:.3} | {bv:.3} | {:.2} |",
            sv / bv
        )?;
    }
    Ok(())
}

/// The low-concurrency relay run, under the relay section.
fn low_concurrency_section(w: &mut String, latency: &Value) -> std::fmt::Result {
    if !latency.is_object() {
        return Ok(());
    }
    writeln!(w, "\nLow concurrency: one pair, each side keeping {} `icecandidate` requests outstanding to the other \
and sending the next as each `sent {{}}` reply arrives, while reading what the other side sends, for {} s. \
The bare relay answers each frame it forwards with the same `sent {{}}` (`/pair/<key>?ack`). Latency: from the send to \
the arrival at the target. With this little in flight, a frame held back by Nagle's algorithm waits for the \
peer's delayed ACK (about 40 ms) and shows in the tail; every socket here, the load generator's included, \
sets TCP_NODELAY.\n", latency["window"], latency["duration"])?;
    writeln!(w, "| server | msgs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|")?;
    for t in ["switchboard", "bare"] {
        writeln!(w, "| {t} | {} |", latency_cells(&latency[t], 3))?;
    }
    Ok(())
}

/// One server's achieved msgs/s and latency percentiles (ms, `decimals` places) as
/// table cells: `achieved | p50 | p90 | p99 | p99.9 | max`.
pub fn latency_cells(figures: &Value, decimals: usize) -> String {
    let mut cells = vec![format!("{:.0}", f(&figures["achieved"]))];
    for key in ["p50", "p90", "p99", "p999", "max"] {
        cells.push(format!("{:.*}", decimals, f(&figures[key])));
    }
    cells.join(" | ")
}
