//! The "Idle connections" section of BENCHMARKS.md and its rows of the summary, from
//! connections.json: Switchboard's RSS per idle attendee against the bare relay's and the
//! actix-ws echo server's per idle connection, and against the two goals of issue 15:
//! Switchboard's own cost per member (its KiB per attendee minus the echo server's per
//! connection) at most 2 KiB, and at most 12 KiB per idle member in all.

use crate::report_signal_fire::met;
use serde_json::Value;
use std::fmt::{Result, Write as _};

/// Switchboard's own KiB per idle member, above the actix-ws echo server's per connection.
const OWN_GOAL_KIB: f64 = 2.0;
/// Switchboard's KiB per idle member in all.
const TOTAL_GOAL_KIB: f64 = 12.0;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn steps(conns: &Value) -> impl Iterator<Item = &Value> {
    conns["steps"].as_array().into_iter().flatten()
}

/// A step's KiB per connection of `server` (NaN when it was not measured).
fn kib(step: &Value, server: &str) -> f64 {
    f(&step[server]["per_connection"]) / 1024.0
}

/// " (50000 asked)" when the step was capped.
fn asked(step: &Value) -> String {
    if step["asked"] != step["n"] {
        format!(" ({} asked)", step["asked"])
    } else {
        String::new()
    }
}

/// The summary's rows: RSS per idle attendee against the bare relay's (with the goal of
/// 12 KiB), and Switchboard's own cost per member (with the goal of 2 KiB) when the
/// actix-ws echo server was measured.
pub fn summary_rows(w: &mut String, conns: &Value) -> Result {
    for step in steps(conns) {
        let (s, b) = (kib(step, "switchboard"), kib(step, "bare"));
        writeln!(w, "| server RSS per idle attendee at {} attendees{}, KiB (goal ≤ {TOTAL_GOAL_KIB:.0}: {}) | {s:.1} | {b:.1} (per connection) | {:.2} |",
            step["n"], asked(step), met(s, TOTAL_GOAL_KIB, false), s / b)?;
    }
    for step in steps(conns).filter(|s| s["actix-echo"].is_object()) {
        let (s, e) = (kib(step, "switchboard"), kib(step, "actix-echo"));
        writeln!(w, "| Switchboard's own cost per idle member at {} attendees{} = Switchboard KiB/attendee − actix-ws echo KiB/connection ({s:.1} − {e:.1}), KiB (goal ≤ {OWN_GOAL_KIB:.0}: {}) | {:.1} | - | - |",
            step["n"], asked(step), met(s - e, OWN_GOAL_KIB, false), s - e)?;
    }
    Ok(())
}

/// The section, with its table of goals and the chart `connections-rss.png` under `link`.
pub fn section(w: &mut String, conns: &Value, link: &str) -> Result {
    let echo = steps(conns).any(|s| s["actix-echo"].is_object());
    writeln!(w, "\n## Idle connections\n")?;
    writeln!(w, "Attendees in workspaces of {} (one owner creates, the others attend), then idle, answering pings. \
RSS is VmRSS of the server process from /proc/<pid>/status, after a settle time; per attendee = (RSS − RSS before the first connection) / attendees. \
Bare relay: the same number of paired, idle sockets.", conns["capacity"])?;
    if echo {
        writeln!(w, "actix-ws echo: `switchboard-bench actix-echo`, the least a WebSocket server can be on Switchboard's \
own stack (actix-web 4, actix-http's WebSocket codec through the `actix-ws` crate; 2 workers, listen backlog 4096, \
TCP_NODELAY, as Switchboard): one route that echoes text and binary frames and answers pings, nothing else; the same \
number of connections, each sending one text frame and getting it back, then idle, answering pings. What an idle \
connection costs there is what the framework and the kernel cost any server; Switchboard's KiB per attendee minus \
the echo server's KiB per connection is what Switchboard itself keeps per member.")?;
    }
    writeln!(w)?;
    if echo {
        writeln!(w, "| attendees | Switchboard RSS MiB | bare RSS MiB | actix-ws echo RSS MiB | Switchboard KiB/attendee | bare KiB/connection | actix-ws echo KiB/connection | Switchboard − actix-ws echo KiB | setup s (Switchboard) |\n|---|---|---|---|---|---|---|---|---|")?;
    } else {
        writeln!(w, "| attendees | Switchboard RSS MiB | bare RSS MiB | Switchboard KiB/attendee | bare KiB/connection | setup s (Switchboard) |\n|---|---|---|---|---|---|")?;
    }
    let mib = |step: &Value, server: &str| f(&step[server]["rss"]) / 1048576.0;
    for step in steps(conns) {
        let (s, b, e) = (
            kib(step, "switchboard"),
            kib(step, "bare"),
            kib(step, "actix-echo"),
        );
        let setup = f(&step["switchboard"]["setup_seconds"]);
        let n = &step["n"];
        if echo {
            writeln!(
                w,
                "| {n} | {:.1} | {:.1} | {:.1} | {s:.1} | {b:.1} | {e:.1} | {:.1} | {setup:.1} |",
                mib(step, "switchboard"),
                mib(step, "bare"),
                mib(step, "actix-echo"),
                s - e
            )?;
        } else {
            writeln!(
                w,
                "| {n} | {:.1} | {:.1} | {s:.1} | {b:.1} | {setup:.1} |",
                mib(step, "switchboard"),
                mib(step, "bare")
            )?;
        }
    }
    if echo {
        goals(w, conns)?;
    }
    let nofile = conns["nofile"].as_u64().unwrap_or(0);
    if steps(conns).any(|s| s["asked"] != s["n"]) {
        writeln!(w, "\nThe largest step was capped: the hard RLIMIT_NOFILE here is {nofile} descriptors per process \
(and raising it needs CAP_SYS_RESOURCE, which this machine does not give), so neither the server nor the load \
generator can hold more connections. On a host with a higher hard limit, `bench/run` measures the asked count.")?;
    }
    writeln!(
        w,
        "\n![RSS against connections]({link}/connections-rss.png)"
    )
}

/// The goals of issue 15 at each step, reported against (not asserted).
fn goals(w: &mut String, conns: &Value) -> Result {
    writeln!(
        w,
        "\nAgainst the goals of issue 15 (reported, not asserted):\n"
    )?;
    writeln!(w, "| figure | KiB | goal | met |\n|---|---|---|---|")?;
    for step in steps(conns) {
        let (s, e) = (kib(step, "switchboard"), kib(step, "actix-echo"));
        let (n, asked) = (&step["n"], asked(step));
        writeln!(w, "| Switchboard's own cost per member at {n} attendees{asked} = Switchboard KiB/attendee − actix-ws echo KiB/connection ({s:.1} − {e:.1}) | {:.1} | ≤ {OWN_GOAL_KIB:.0} | {} |",
            s - e, met(s - e, OWN_GOAL_KIB, false))?;
        writeln!(w, "| KiB per idle member at {n} attendees{asked} (Switchboard's RSS per attendee) | {s:.1} | ≤ {TOTAL_GOAL_KIB:.0} | {} |",
            met(s, TOTAL_GOAL_KIB, false))?;
    }
    Ok(())
}
