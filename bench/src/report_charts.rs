//! The charts that set one run's scenarios side by side (issue 15, "Performance"):
//! - memory-per-member.png: server RSS per idle member or connection, KiB, for each of
//!   Switchboard's protocols against the baselines measured beside it in the same
//!   scenario (connections, socketio, signal-fire, foglet);
//! - latency-distributions.png: the relay's latency distributions, Switchboard against
//!   the bare relay, p50 to the maximum, in the open loop (and at low concurrency when
//!   relay.json has its curve);
//! - peers.png: server CPU µs per relayed message at each pair count, Switchboard against
//!   signal-fire 0.5.3 (with the bare relay) and against foglet-signaling-server 1.0.3.
//!
//! Each takes the scenarios' JSON as `Option`s: a scenario the run did not have draws
//! nothing, and a chart with nothing to draw is not written (the report never fails for
//! a missing optional scenario).

use crate::bars::{grouped_bars, top, Group, Legend};
use crate::charts::{points, BARE, SWITCHBOARD, THIRD};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;
use std::path::Path;

pub const MEMORY: &str = "memory-per-member.png";
pub const DISTRIBUTIONS: &str = "latency-distributions.png";
pub const PEERS: &str = "peers.png";

const SIGNAL_FIRE: RGBColor = RGBColor(230, 140, 20);
const FOGLET: RGBColor = RGBColor(130, 60, 160);

/// Every server the bar charts name, in the order of their legends.
const SERVERS: [Legend; 5] = [
    ("Switchboard", SWITCHBOARD),
    ("bare relay", BARE),
    ("actix-ws echo", THIRD),
    ("signal-fire 0.5.3", SIGNAL_FIRE),
    ("foglet-signaling-server 1.0.3", FOGLET),
];
/// Indexes into `SERVERS`.
const S: usize = 0;
const BARE_RELAY: usize = 1;
const ECHO: usize = 2;
const SF: usize = 3;
const FG: usize = 4;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn steps(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// The scenarios' JSON that the charts read, each when the run had it.
#[derive(Clone, Copy, Default)]
pub struct Run<'a> {
    pub relay: Option<&'a Value>,
    pub connections: Option<&'a Value>,
    pub socketio: Option<&'a Value>,
    pub signal_fire: Option<&'a Value>,
    pub foglet: Option<&'a Value>,
}

/// Writes the three charts into `dir`, each that has something to draw; returns the
/// names of those written.
pub fn write(run: Run, dir: &Path) -> anyhow::Result<Vec<&'static str>> {
    let mut written = Vec::new();
    if memory_chart(run, &dir.join(MEMORY))? {
        written.push(MEMORY);
    }
    if let Some(relay) = run.relay {
        if distribution_chart(relay, &dir.join(DISTRIBUTIONS))? {
            written.push(DISTRIBUTIONS);
        }
    }
    if peers_chart(run, &dir.join(PEERS))? {
        written.push(PEERS);
    }
    Ok(written)
}

/// The groups of memory-per-member.png: one per protocol the run measured.
pub fn memory_groups(run: Run) -> Vec<Group> {
    let kib = |v: &Value| f(v) / 1024.0;
    let mut groups = Vec::new();
    if let Some(last) = run.connections.and_then(|c| steps(&c["steps"]).last()) {
        let mut bars = vec![
            (S, kib(&last["switchboard"]["per_connection"])),
            (BARE_RELAY, kib(&last["bare"]["per_connection"])),
        ];
        if last["actix-echo"].is_object() {
            bars.push((ECHO, kib(&last["actix-echo"]["per_connection"])));
        }
        groups.push(Group {
            label: vec![
                "native /ws".into(),
                format!("(connections, {} members)", last["n"]),
            ],
            bars,
        });
    }
    if let Some(idle) = run.socketio.map(|s| &s["idle"]).filter(|i| i.is_object()) {
        groups.push(Group {
            label: vec![
                "Socket.IO /socket.io/".into(),
                format!("(socketio, {} members)", idle["members"]),
            ],
            bars: vec![(S, kib(&idle["socketio"]["per_member"]))],
        });
    }
    if let Some(idle) = run
        .signal_fire
        .map(|s| &s["idle"])
        .filter(|i| i.is_object())
    {
        groups.push(Group {
            label: vec![
                "signal-fire /signal-fire".into(),
                format!("(signal-fire, {} peers)", idle["peers"]),
            ],
            bars: vec![
                (S, kib(&idle["switchboard"]["per_peer"])),
                (SF, kib(&idle["signal-fire"]["per_peer"])),
                (BARE_RELAY, kib(&idle["bare"]["per_peer"])),
            ],
        });
    }
    if let Some(idle) = run.foglet.map(|s| &s["idle"]).filter(|i| i.is_object()) {
        groups.push(Group {
            label: vec![
                "Socket.IO entrance".into(),
                format!("(foglet, {} sockets)", idle["sockets"]),
            ],
            bars: vec![
                (S, kib(&idle["switchboard"]["per_socket"])),
                (FG, kib(&idle["foglet-signaling-server"]["per_socket"])),
            ],
        });
    }
    groups
}

/// memory-per-member.png; false when the run measured no idle members.
fn memory_chart(run: Run, path: &Path) -> anyhow::Result<bool> {
    let groups = memory_groups(run);
    if groups.is_empty() {
        return Ok(false);
    }
    let width = (260 * groups.len() as u32).max(700);
    let root = BitMapBackend::new(path, (width, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = "Server RSS per idle member (baselines: per connection), by protocol";
    let y = "KiB per idle member or connection";
    grouped_bars(&root, title, y, &SERVERS, &groups, top(&groups), 1)?;
    root.present()?;
    Ok(true)
}

/// One latency distribution: its name, its points (nines, ms), its maximum, how drawn.
struct Curve {
    name: String,
    points: Vec<(f64, f64)>,
    max: f64,
    colour: RGBColor,
    dashed: bool,
}

/// Where "max" sits on the x axis: past p99.99, apart from the measured curve.
const MAX_AT: f64 = 4.5;
/// The x axis's named positions (nines: 1 is p90, 2 is p99, …).
const TICKS: [(f64, &str); 6] = [
    (std::f64::consts::LOG10_2, "p50"),
    (1.0, "p90"),
    (2.0, "p99"),
    (3.0, "p99.9"),
    (4.0, "p99.99"),
    (MAX_AT, "max"),
];

/// latency-distributions.png from relay.json: the open loop's curves (and the low
/// concurrency step's, when it has them), p50 to the maximum; false without curves.
fn distribution_chart(relay: &Value, path: &Path) -> anyhow::Result<bool> {
    let (open, low) = (&relay["open"], &relay["latency"]);
    let mut curves = Vec::new();
    for (step, what, dashed) in [
        (
            open,
            format!(
                "open loop, {:.0} msgs/s over {} pairs",
                f(&open["rate"]),
                open["pairs"]
            ),
            false,
        ),
        (
            low,
            format!("1 pair, {} requests outstanding per side", low["window"]),
            true,
        ),
    ] {
        for (key, server, colour) in [
            ("switchboard", "Switchboard", SWITCHBOARD),
            ("bare", "bare relay", BARE),
        ] {
            let from_p50: Vec<_> = points(&step[key]["curve"])
                .into_iter()
                .filter(|p| p.0 >= 0.3 && p.1.is_finite())
                .collect();
            if from_p50.is_empty() {
                continue;
            }
            curves.push(Curve {
                name: format!("{server}, {what}"),
                points: from_p50,
                max: f(&step[key]["max"]),
                colour,
                dashed,
            });
        }
    }
    if curves.is_empty() {
        return Ok(false);
    }
    let values = || {
        curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1).chain([c.max]))
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let low_y = values().fold(f64::INFINITY, f64::min).max(0.001) * 0.7;
    let high_y = values().fold(0.0, f64::max).max(low_y * 10.0) * 1.5;
    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Relay latency distributions: Switchboard against the bare relay",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0.2f64..4.7f64, (low_y..high_y).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_labels(15)
        .y_label_formatter(&|y| {
            let decimals = (2 - y.log10().floor() as i32).clamp(0, 3) as usize;
            format!("{y:.decimals$}")
        })
        .x_desc("percentile (log scale of 1 − p)")
        .y_desc("latency, ms (log)")
        .label_style(("sans-serif", 15))
        .draw()?;
    let grid = RGBColor(220, 220, 220);
    let under =
        TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (x, label) in TICKS {
        chart.draw_series(LineSeries::new([(x, low_y), (x, high_y)], grid))?;
        chart
            .plotting_area()
            .draw(&(EmptyElement::at((x, low_y)) + Text::new(label, (0, 6), under.clone())))?;
    }
    for curve in curves {
        let Curve {
            name,
            mut points,
            max,
            colour,
            dashed,
        } = curve;
        let style = colour.stroke_width(2);
        if max.is_finite() {
            points.push((MAX_AT, max));
        }
        let drawn = if dashed {
            chart.draw_series(DashedLineSeries::new(points, 8, 5, style))?
        } else {
            chart.draw_series(LineSeries::new(points, style))?
        };
        drawn.label(name).legend(move |(x, y)| {
            if dashed {
                PathElement::new(vec![(x, y), (x + 7, y)], style)
            } else {
                PathElement::new(vec![(x, y), (x + 20, y)], style)
            }
        });
        if max.is_finite() {
            let at = (MAX_AT, max);
            chart.draw_series([Circle::new(at, 4, colour.filled())])?;
            let right = TextStyle::from(("sans-serif", 13).into_font())
                .pos(Pos::new(HPos::Left, VPos::Center));
            chart.draw_series([
                EmptyElement::at(at) + Text::new(format!("{max:.1}"), (7, 0), right)
            ])?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// A peer comparison's groups: server CPU µs per relayed message at each pair count of
/// the closed loop, of each `(key in the JSON, series)`.
fn cpu_groups(closed: &Value, servers: &[(&str, usize)]) -> Vec<Group> {
    steps(closed)
        .map(|step| Group {
            label: vec![match step["pairs"].as_u64() {
                Some(1) => "1 pair".into(),
                _ => format!("{} pairs", step["pairs"]),
            }],
            bars: servers
                .iter()
                .map(|&(key, series)| (series, f(&step[key]["cpu_us_per_msg"])))
                .collect(),
        })
        .filter(|g| g.bars.iter().any(|b| b.1.is_finite()))
        .collect()
}

/// peers.png: a panel per peer comparison the run has (signal-fire, foglet), on one
/// scale; false when it has neither.
fn peers_chart(run: Run, path: &Path) -> anyhow::Result<bool> {
    let mut panels = Vec::new();
    if let Some(sf) = run.signal_fire {
        let servers = [
            ("switchboard", S),
            ("signal-fire", SF),
            ("bare", BARE_RELAY),
        ];
        let title = "Switchboard's /signal-fire against signal-fire 0.5.3";
        panels.push((title, cpu_groups(&sf["closed"], &servers)));
    }
    if let Some(fg) = run.foglet {
        let servers = [("switchboard", S), ("foglet-signaling-server", FG)];
        let title = "Switchboard's Socket.IO entrance against foglet 1.0.3";
        panels.push((title, cpu_groups(&fg["closed"], &servers)));
    }
    panels.retain(|p| !p.1.is_empty());
    if panels.is_empty() {
        return Ok(false);
    }
    let ymax = panels.iter().map(|p| top(&p.1)).fold(0.0, f64::max);
    let root = BitMapBackend::new(path, (620 * panels.len() as u32, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, panels.len()));
    let y = "server CPU µs per relayed message (closed loop)";
    for (area, (title, groups)) in areas.iter().zip(&panels) {
        grouped_bars(area, title, y, &SERVERS, groups, ymax, 1)?;
    }
    root.present()?;
    Ok(true)
}
