//! BENCHMARKS.md and the charts, from the JSON files the scenarios wrote.

use anyhow::Context;
use plotters::prelude::*;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Options {
    /// Directory holding relay.json, connections.json, join-storm.json, churn.json.
    #[arg(long)]
    results: PathBuf,
    /// The exact command lines run, one per line.
    #[arg(long)]
    commands: PathBuf,
    /// Markdown to write.
    #[arg(long)]
    out: PathBuf,
    /// Directory for the PNG charts.
    #[arg(long)]
    charts: PathBuf,
    /// How the charts are referred to from the markdown.
    #[arg(long, default_value = "bench/charts")]
    charts_link: String,
    /// When the run was made (free text).
    #[arg(long, default_value = "")]
    date: String,
    /// The suite's name (full or smoke).
    #[arg(long, default_value = "full")]
    suite: String,
}

fn load(dir: &Path, name: &str) -> anyhow::Result<Value> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
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
    let relay = load(&options.results, "relay.json")?;
    let conns = load(&options.results, "connections.json")?;
    let storm = load(&options.results, "join-storm.json")?;
    let churn = load(&options.results, "churn.json")?;
    let commands = std::fs::read_to_string(&options.commands)?;
    std::fs::create_dir_all(&options.charts)?;
    let font: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, font);
    latency_chart(&relay, &options.charts.join("relay-latency.png"))?;
    throughput_chart(&relay, &options.charts.join("relay-throughput.png"))?;
    rss_chart(&conns, &options.charts.join("connections-rss.png"))?;

    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Switchboard benchmarks\n")?;
    writeln!(
        w,
        "Written by `bench/run{}` ({} suite){}. Do not edit by hand: run `bench/run` again.\n",
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
        }
    )?;
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
    for step in conns["steps"].as_array().into_iter().flatten() {
        let s = f(&step["switchboard"]["per_connection"]) / 1024.0;
        let b = f(&step["bare"]["per_connection"]) / 1024.0;
        let asked = step["asked"].as_u64().unwrap_or(0);
        let n = step["n"].as_u64().unwrap_or(0);
        let note = if asked != n {
            format!(" ({asked} asked)")
        } else {
            String::new()
        };
        writeln!(w, "| server RSS per idle attendee at {n} attendees{note}, KiB | {s:.1} | {b:.1} (per connection) | {:.2} |", s / b)?;
    }
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
        let o = &open[t];
        writeln!(
            w,
            "| {t} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            f(&o["achieved"]),
            f(&o["p50"]),
            f(&o["p90"]),
            f(&o["p99"]),
            f(&o["p999"]),
            f(&o["max"])
        )?;
    }
    writeln!(w, "\n![relay latency]({0}/relay-latency.png)\n\n![relay throughput]({0}/relay-throughput.png)", options.charts_link)?;

    writeln!(w, "\n## Idle connections\n")?;
    writeln!(w, "Attendees in workspaces of {} (one owner creates, the others attend), then idle, answering pings. \
RSS is VmRSS of the server process from /proc/<pid>/status, after a settle time; per attendee = (RSS − RSS before the first connection) / attendees. \
Bare relay: the same number of paired, idle sockets.\n", conns["capacity"])?;
    writeln!(w, "| attendees | Switchboard RSS MiB | bare RSS MiB | Switchboard KiB/attendee | bare KiB/connection | setup s (Switchboard) |\n|---|---|---|---|---|---|")?;
    for step in conns["steps"].as_array().into_iter().flatten() {
        writeln!(
            w,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            step["n"],
            f(&step["switchboard"]["rss"]) / 1048576.0,
            f(&step["bare"]["rss"]) / 1048576.0,
            f(&step["switchboard"]["per_connection"]) / 1024.0,
            f(&step["bare"]["per_connection"]) / 1024.0,
            f(&step["switchboard"]["setup_seconds"])
        )?;
    }
    let nofile = conns["nofile"].as_u64().unwrap_or(0);
    if conns["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["asked"] != s["n"])
    {
        writeln!(w, "\nThe largest step was capped: the hard RLIMIT_NOFILE here is {nofile} descriptors per process \
(and raising it needs CAP_SYS_RESOURCE, which this machine does not give), so neither the server nor the load \
generator can hold more connections. On a host with a higher hard limit, `bench/run` measures the asked count.")?;
    }
    writeln!(
        w,
        "\n![RSS against connections]({}/connections-rss.png)",
        options.charts_link
    )?;

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
    writeln!(w, "| server | cycles/s | failed cycles |\n|---|---|---|")?;
    for t in ["switchboard", "bare"] {
        writeln!(
            w,
            "| {t} | {:.0} | {} |",
            f(&churn[t]["cycles_per_second"]),
            churn[t]["failures"]
        )?;
    }

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

const SWITCHBOARD: RGBColor = RGBColor(200, 60, 40);
const BARE: RGBColor = RGBColor(40, 90, 180);

fn points(v: &Value) -> Vec<(f64, f64)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| (f(&p[0]), f(&p[1])))
        .collect()
}

fn latency_chart(relay: &Value, path: &Path) -> anyhow::Result<()> {
    let open = &relay["open"];
    let s = points(&open["switchboard"]["curve"]);
    let b = points(&open["bare"]["curve"]);
    let top = s.iter().chain(&b).map(|p| p.1).fold(0.01, f64::max) * 1.1;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Relay latency at {:.0} msgs/s, {} pairs (open loop)",
                f(&open["rate"]),
                open["pairs"]
            ),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..4f64, (0.001f64..top).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, ms (log)")
        .x_label_formatter(&|x| match (*x * 100.0).round() as i64 {
            0 => "p0".into(),
            100 => "p90".into(),
            200 => "p99".into(),
            300 => "p99.9".into(),
            400 => "p99.99".into(),
            _ => String::new(),
        })
        .x_labels(5)
        .label_style(("sans-serif", 15))
        .draw()?;
    // A log axis has no zero: the fastest samples sit on its floor.
    let floor = |v: Vec<(f64, f64)>| v.into_iter().map(|(x, y)| (x, y.max(0.001))).collect();
    draw_both(
        &mut chart,
        [floor(s), floor(b)],
        false,
        SeriesLabelPosition::UpperLeft,
    )?;
    root.present()?;
    Ok(())
}

fn throughput_chart(relay: &Value, path: &Path) -> anyhow::Result<()> {
    let steps: Vec<_> = relay["closed"].as_array().cloned().unwrap_or_default();
    let series = |t: &str| -> Vec<(f64, f64)> {
        steps
            .iter()
            .map(|s| (f(&s["pairs"]).max(1.0), f(&s[t])))
            .collect()
    };
    let (s, b) = (series("switchboard"), series("bare"));
    let xmax = s.iter().map(|p| p.0).fold(2.0, f64::max) * 1.5;
    let ymax = s.iter().chain(&b).map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Relay throughput, closed loop ({} in flight per direction)",
                relay["window"]
            ),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d((0.8f64..xmax).log_scale(), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("pairs (log)")
        .y_desc("messages/s")
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    draw_both(&mut chart, [s, b], true, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

fn rss_chart(conns: &Value, path: &Path) -> anyhow::Result<()> {
    let steps: Vec<_> = conns["steps"].as_array().cloned().unwrap_or_default();
    let series = |t: &str| -> Vec<(f64, f64)> {
        let mut v = vec![(
            0.0,
            steps.first().map_or(0.0, |s| f(&s[t]["base"]) / 1048576.0),
        )];
        v.extend(
            steps
                .iter()
                .map(|s| (f(&s["n"]), f(&s[t]["rss"]) / 1048576.0)),
        );
        v
    };
    let (s, b) = (series("switchboard"), series("bare"));
    let xmax = s.iter().map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let ymax = s.iter().chain(&b).map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Server RSS against idle connections", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("idle attendees (bare: connections)")
        .y_desc("VmRSS, MiB")
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    draw_both(&mut chart, [s, b], true, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// Switchboard's and the bare relay's series, as lines (with dots at the measured points
/// when `dots`), and the legend naming them.
fn draw_both<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    [switchboard, bare]: [Vec<(f64, f64)>; 2],
    dots: bool,
    legend: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (name, data, color) in [
        ("Switchboard", switchboard, SWITCHBOARD),
        ("bare relay", bare, BARE),
    ] {
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if dots {
            chart.draw_series(data.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(legend)
        .draw()?;
    Ok(())
}
