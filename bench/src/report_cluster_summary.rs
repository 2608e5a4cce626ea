//! The cluster's rows in the summary at the top of BENCHMARKS.md, from cluster.json: a
//! table of their own under a lead line, which `report --only cluster` replaces in place
//! along with the section.

use crate::report_cluster::{f, max_rate, met, steps};
use serde_json::Value;
use std::fmt::{Result, Write as _};

/// The first line of the cluster's rows in the summary at the top.
const SUMMARY_LEAD: &str = "Cluster (section \"Cluster\"";

/// The cluster's rows of the summary at the top: a table of its own under `SUMMARY_LEAD`;
/// with `date` (of a run of the cluster alone), said to be measured apart.
pub fn rows(w: &mut String, c: &Value, date: &str) -> Result {
    let cores = &c["cores"];
    let apart = match date {
        "" => String::new(),
        date => format!(", measured on {date}, apart from the table above"),
    };
    writeln!(w, "\n{SUMMARY_LEAD}{apart}): {} nodes and one `redis-server` against one node alone, all on these {cores} cores: \
several nodes on one small machine measure contention and the bus's cost, not scaling.\n", c["nodes"])?;
    writeln!(
        w,
        "| figure | cluster | one node | cluster / one node |\n|---|---|---|---|"
    )?;
    relay_rows(w, c)?;
    cost_rows(w, c)
}

/// Throughput, latency and join time against one node; the latency goal.
fn relay_rows(w: &mut String, c: &Value) -> Result {
    let single = max_rate(c, "single");
    for (layout, what) in [("same", "same node"), ("cross", "cross node")] {
        let rate = max_rate(c, layout);
        writeln!(w, "| max relay throughput, msgs/s in total (closed loop), {what} | {rate:.0} | {single:.0} | {:.2} |", rate / single)?;
    }
    let open = &c["relay"]["open"];
    let rate = f(&open["rate"]);
    for (layout, what) in [("same", "same node"), ("cross", "cross node")] {
        let (v, s) = (f(&open[layout]["p99"]), f(&open["single"]["p99"]));
        writeln!(
            w,
            "| relay latency p99 at {rate:.0} msgs/s, {what}, ms | {v:.2} | {s:.2} | {:.2} |",
            v / s
        )?;
    }
    let gap = f(&open["cross_minus_same"]["p99"]);
    writeln!(w, "| cross-node p99 − same-node p99 at {rate:.0} msgs/s, ms (goal ≤ 3: {}) | {gap:.2} | - | - |", met(gap <= 3.0, gap))?;
    let (sc, ss) = (&c["storm"]["cluster"], &c["storm"]["single"]);
    let (pc, ps) = (f(&sc["p99"]), f(&ss["p99"]));
    writeln!(
        w,
        "| join storm, {} clients at once: p99 join time, ms | {pc:.1} | {ps:.1} | {:.2} |",
        c["storm"]["clients"],
        pc / ps
    )
}

/// What Redis holds and does per member.
fn cost_rows(w: &mut String, c: &Value) -> Result {
    let idle = &c["idle"];
    writeln!(w, "| Redis per idle member: bytes of its workspace's keys; workspace keys | {:.0}; {:.2} | - | - |",
        f(&idle["key_bytes_per_member"]), f(&idle["workspace_keys_per_member"]))?;
    writeln!(
        w,
        "| Redis commands/s at rest ({} members): per node; per member | {:.1}; {:.4} | - | - |",
        idle["members"],
        f(&idle["commands_per_s_per_node"]),
        f(&idle["commands_per_s_per_member"])
    )?;
    let cross = cross_at_most(c);
    writeln!(
        w,
        "| Redis per relayed message, cross node: PUBLISH; commands | {:.2}; {:.2} | - | - |",
        f(&cross["redis"]["publishes_per_msg"]),
        f(&cross["redis"]["commands_per_msg"])
    )
}

/// The cross-node figures of the closed loop's largest pair count.
fn cross_at_most(c: &Value) -> &Value {
    steps(&c["relay"]["closed"])
        .last()
        .map_or(&Value::Null, |s| &s["cross"])
}

/// `md` with the cluster's summary rows replaced by `block` (or put after the summary's
/// first table, when it has none yet).
pub fn update_summary(md: &str, block: &str) -> String {
    let lead = format!("\n{SUMMARY_LEAD}");
    let block = block.trim_end_matches('\n');
    match md.find(&lead) {
        Some(at) => {
            let end = table_end(md, at + lead.len());
            format!("{}{block}{}", &md[..at], &md[end..])
        }
        None => {
            let summary = md.find("\n## Summary\n").unwrap_or(0);
            let end = table_end(md, summary);
            format!("{}\n{block}{}", &md[..end], &md[end..])
        }
    }
}

/// Where the first table at or after `from` ends (before the blank line after it).
fn table_end(md: &str, from: usize) -> usize {
    let table = md[from..].find("\n|").map_or(from, |n| from + n);
    md[table + 1..]
        .find("\n\n")
        .map_or(md.len(), |n| table + 1 + n)
}
