//! The "Switchboard against signal-fire" section of BENCHMARKS.md, from signal-fire.json:
//! the ratios against the goals of issue 11, then each step's figures. `report --only`
//! puts a fresh section into an existing BENCHMARKS.md, so that this scenario can be
//! measured again without the whole suite.

use crate::report::latency_cells;
use serde_json::Value;
use std::fmt::{Result, Write as _};

pub const HEADING: &str = "## Switchboard against signal-fire 0.5.3";

/// The servers as signal-fire.json names them, and as the tables do.
const SERVERS: [(&str, &str); 3] = [
    ("switchboard", "Switchboard"),
    ("signal-fire", "signal-fire 0.5.3"),
    ("bare", "bare relay"),
];

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn steps(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// "yes" when `ratio` is at most `goal` (below it, when `strictly`).
pub fn met(ratio: f64, goal: f64, strictly: bool) -> &'static str {
    match (ratio.is_nan(), strictly) {
        (true, _) => "-",
        (false, true) if ratio < goal => "yes",
        (false, false) if ratio <= goal => "yes",
        _ => "no",
    }
}

pub fn section(w: &mut String, sf: &Value, commands: &str, date: &str, note: &str) -> Result {
    crate::report_only::heading(w, HEADING, date, note)?;
    writeln!(w, "\nThe same work against three servers, each its own process: Switchboard's signal-fire endpoint \
(`[compat.signal_fire] enabled = true`, `/signal-fire`, memory storage, limits lifted), the original \
`signal-fire@0.5.3` under Node.js {} (installed by `npm ci` in bench/oracles, started as its README says by \
bench/oracles/signal-fire.js, which keeps it up when it throws `not opened`: 0.5.3 forwards to a receiver \
whose socket is closing without checking, and the exception would end the process, as it does whenever a peer leaves \
while another still signals it; the pairs here do that as each step ends, and the launcher logs a count on stderr), \
and the bare relay (`switchboard-bench bare-relay`) as the floor. Each pair of peers \
learns its ids from the `{{\"type\":\"id\"}}` frames and sends `{{\"type\":\"candidate\",\"receiverId\":…,\"candidate\":…}}` \
(~250 bytes, the send time in it) both ways at once; Switchboard stamps `senderId`, the original forwards the bytes. \
The load generator's client offers no compression here (tungstenite has none). Server CPU: utime + stime of \
/proc/<pid>/stat, all threads, read when the measured window opens and when it closes, divided by the messages \
relayed within it. The bench reports; it asserts no timing.\n", sf["node"].as_str().unwrap_or(""))?;
    goals(w, sf)?;
    closed(w, sf)?;
    open(w, sf)?;
    idle(w, sf)?;
    writeln!(w, "\nCommands:\n\n```sh")?;
    for line in commands.lines().filter(|l| l.contains(" signal-fire ")) {
        writeln!(w, "{line}")?;
    }
    writeln!(w, "```")
}

/// The three goals of issue 11, reported against (not asserted).
/// "1 pair", "8 pairs".
fn pairs(count: &Value) -> String {
    match count.as_u64() {
        Some(1) => "1 pair".into(),
        _ => format!("{count} pairs"),
    }
}

fn goals(w: &mut String, sf: &Value) -> Result {
    writeln!(w, "| figure | Switchboard | signal-fire 0.5.3 | Switchboard / signal-fire | goal | met |\n|---|---|---|---|---|---|")?;
    for step in steps(&sf["closed"]) {
        let (s, o) = (
            f(&step["switchboard"]["cpu_us_per_msg"]),
            f(&step["signal-fire"]["cpu_us_per_msg"]),
        );
        writeln!(w, "| server CPU per relayed message, {} (closed loop), µs | {s:.2} | {o:.2} | {:.2} | ≤ 0.20 | {} |",
            pairs(&step["pairs"]), s / o, met(s / o, 0.2, false))?;
    }
    for step in steps(&sf["open"]) {
        let (s, o) = (
            f(&step["switchboard"]["p99"]),
            f(&step["signal-fire"]["p99"]),
        );
        writeln!(w, "| relay latency p99, {} at {:.0} msgs/s (open loop), ms | {s:.2} | {o:.2} | {:.2} | < 1 | {} |",
            pairs(&step["pairs"]), f(&step["rate"]), s / o, met(s / o, 1.0, true))?;
    }
    let idle = &sf["idle"];
    let (s, o) = (
        f(&idle["switchboard"]["per_peer"]) / 1024.0,
        f(&idle["signal-fire"]["per_peer"]) / 1024.0,
    );
    writeln!(w, "| server RSS per idle peer at {} peers (compression offered), KiB | {s:.1} | {o:.1} | {:.3} | ≤ 0.10 | {} |",
        idle["peers"], s / o, met(s / o, 0.1, false))
}

fn closed(w: &mut String, sf: &Value) -> Result {
    writeln!(w, "\nClosed loop: {} messages in flight per direction, {} s per step (after a warm-up of a fifth of it). \
msgs/s, and server CPU µs per relayed message; the last columns set Switchboard's CPU per message against the \
original's and against the bare relay's.\n", sf["window"], sf["duration"])?;
    write!(w, "| pairs |")?;
    for (_, label) in SERVERS {
        write!(w, " {label} msgs/s |")?;
    }
    for (_, label) in SERVERS {
        write!(w, " {label} CPU µs/msg |")?;
    }
    writeln!(
        w,
        " CPU Switchboard / signal-fire | CPU Switchboard / bare |\n|---|{}",
        "---|".repeat(8)
    )?;
    for step in steps(&sf["closed"]) {
        let cpu = |name: &str| f(&step[name]["cpu_us_per_msg"]);
        write!(w, "| {} |", step["pairs"])?;
        for (name, _) in SERVERS {
            write!(w, " {:.0} |", f(&step[name]["rate"]))?;
        }
        for (name, _) in SERVERS {
            write!(w, " {:.2} |", cpu(name))?;
        }
        writeln!(
            w,
            " {:.2} | {:.2} |",
            cpu("switchboard") / cpu("signal-fire"),
            cpu("switchboard") / cpu("bare")
        )?;
    }
    Ok(())
}

fn open(w: &mut String, sf: &Value) -> Result {
    writeln!(w, "\nOpen loop at each pair count, for {} s on a fixed schedule, at {:.0} % of the lower closed-loop rate \
of Switchboard and the original at that count (a rate both sustain); latency from the scheduled send to the arrival, \
so that a stall is not hidden.\n", sf["open_duration"], f(&sf["open_load"]) * 100.0)?;
    writeln!(w, "| pairs | msgs/s asked | server | achieved msgs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|---|---|")?;
    for step in steps(&sf["open"]) {
        for (name, label) in SERVERS {
            let cells = latency_cells(&step[name], 2);
            let (pairs, rate) = (&step["pairs"], f(&step["rate"]));
            writeln!(w, "| {pairs} | {rate:.0} | {label} | {cells} |")?;
        }
    }
    Ok(())
}

fn idle(w: &mut String, sf: &Value) -> Result {
    let idle = &sf["idle"];
    writeln!(w, "\nIdle peers: {} connections to a fresh server of each kind, each a raw TCP client that sends the \
upgrade request with `Sec-WebSocket-Extensions: {}`, as browsers do, reads the 101 head and nothing more. \
RSS: VmRSS of /proc/<pid>/status after a settle time; per peer = (RSS − RSS before the first connection) / peers. \
The bare relay's connections are paired two by two.\n", idle["peers"], idle["offer"].as_str().unwrap_or(""))?;
    writeln!(w, "| server | RSS before MiB | RSS MiB | KiB/peer | compression negotiated |\n|---|---|---|---|---|")?;
    for (name, label) in SERVERS {
        let o = &idle[name];
        writeln!(
            w,
            "| {label} | {:.1} | {:.1} | {:.1} | {} |",
            f(&o["base"]) / 1048576.0,
            f(&o["rss"]) / 1048576.0,
            f(&o["per_peer"]) / 1024.0,
            if o["deflate"] == true { "yes" } else { "no" }
        )?;
    }
    Ok(())
}
