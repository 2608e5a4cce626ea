//! The "Cluster" section of BENCHMARKS.md, from cluster.json: three nodes on one Redis
//! against one node alone, in the same run, and its charts (its rows in the summary at
//! the top: report_cluster_summary).

use crate::charts::{pairs_chart, percentile_chart, points, Series, BARE, SWITCHBOARD, THIRD};
use crate::report::latency_cells;
use serde_json::Value;
use std::fmt::{Result, Write as _};
use std::path::Path;

pub const HEADING: &str = "## Cluster: three nodes on one Redis";

/// The relay's layouts as cluster.json names them, as the tables do, and their colours.
const LAYOUTS: [(&str, &str); 3] = [
    ("single", "one node (no Redis)"),
    ("same", "cluster, same node"),
    ("cross", "cluster, cross node"),
];

pub(crate) fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub(crate) fn steps(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// A layout's best closed-loop rate.
pub(crate) fn max_rate(c: &Value, layout: &str) -> f64 {
    steps(&c["relay"]["closed"])
        .map(|s| f(&s[layout]["achieved"]))
        .fold(0.0, f64::max)
}

pub(crate) fn met(ok: bool, value: f64) -> &'static str {
    match (value.is_nan(), ok) {
        (true, _) => "-",
        (false, true) => "yes",
        (false, false) => "no",
    }
}

/// cluster-latency.png and cluster-throughput.png.
pub fn charts(c: &Value, dir: &Path) -> anyhow::Result<()> {
    let colours = [BARE, SWITCHBOARD, THIRD];
    let open = &c["relay"]["open"];
    let mut curves: Vec<Series> = Vec::new();
    let mut rates: Vec<Series> = Vec::new();
    for ((key, name), colour) in LAYOUTS.into_iter().zip(colours) {
        curves.push((name, points(&open[key]["curve"]), colour));
        let rate = steps(&c["relay"]["closed"])
            .map(|s| (f(&s["pairs"]).max(1.0), f(&s[key]["achieved"])))
            .collect();
        rates.push((name, rate, colour));
    }
    let title = format!(
        "Relay latency at {:.0} msgs/s, {} pairs: one node, cluster same node, cross node",
        f(&open["rate"]),
        open["pairs"]
    );
    percentile_chart(&title, curves, &dir.join("cluster-latency.png"))?;
    let title = "Relay throughput, closed loop: one node against three (total)";
    pairs_chart(title, rates, &dir.join("cluster-throughput.png"))
}

pub fn section(
    w: &mut String,
    c: &Value,
    commands: &str,
    date: &str,
    note: &str,
    charts: &str,
) -> Result {
    crate::report_only::heading(w, HEADING, date, note)?;
    writeln!(w, "\n{} Switchboard nodes (`[storage] backend = \"redis\"`, `[cluster] redis_url`, `node_id`, `heartbeat_secs = {}`, \
the same `MAGICK_TOKEN`, limits lifted, 2 workers each) share one `redis-server` {} (`appendonly yes`, `appendfsync always`, as \
docs/cluster.md asks); the baseline is one node alone (memory storage, no Redis), started in the same run. Each is its own process. \
**All of them, Redis and the load generator run on the same {} cores: several nodes on one small machine measure contention \
(and what the bus costs), not scaling.** What three machines would give is not measured here. The bench reports; it asserts no timing.\n",
        c["nodes"], c["heartbeat_secs"], c["redis_version"].as_str().unwrap_or(""), c["cores"])?;
    writeln!(w, "Relay: pairs of native members send each other `icecandidate`s both ways at once (~250 bytes, the send time \
in it; latency taken where it arrives), as in the Relay section. Each pair's workspace is made by a third member, who stays online, \
on a node that then owns it; *same node*: both ends attend from one other node; *cross node*: each end attends from a different \
node, neither the owner's, so that every message is one PUBLISH from the sender's node to the target's. Pair k's workspace is made \
on node k mod 3: the pairs are spread over the nodes. *One node*: the same three members, on the single node. Read when the \
measured window opens and closes: the nodes' CPU time (utime + stime of /proc/<pid>/stat, the three nodes together, or the single \
node), Redis's, and Redis's `INFO commandstats` (commands run by a script are counted each, besides its EVALSHA).\n")?;
    summary_table(w, c)?;
    closed(w, c)?;
    open(w, c, charts)?;
    storm(w, c)?;
    redis_cost(w, c)?;
    logs(w, c)?;
    writeln!(w, "\nCommand:\n\n```sh")?;
    for line in commands.lines().filter(|l| l.contains(" cluster ")) {
        writeln!(w, "{line}")?;
    }
    writeln!(w, "```")
}

fn summary_table(w: &mut String, c: &Value) -> Result {
    let open = &c["relay"]["open"];
    writeln!(w, "Open loop at {:.0} msgs/s in total over {} pairs, against the goal \"cross-node p99 within 3 ms of same-node p99\" \
(reported, not asserted):\n", f(&open["rate"]), open["pairs"])?;
    writeln!(w, "| figure | same node | cross node | cross − same | goal | met |\n|---|---|---|---|---|---|")?;
    for (label, key) in [("p50", "p50"), ("p99", "p99"), ("p99.9", "p999")] {
        let (s, x) = (f(&open["same"][key]), f(&open["cross"][key]));
        let goal = if key == "p99" { "≤ 3 ms" } else { "" };
        let ok = if key == "p99" {
            met(x - s <= 3.0, x - s)
        } else {
            ""
        };
        writeln!(
            w,
            "| relay latency {label}, ms | {s:.2} | {x:.2} | {:+.2} | {goal} | {ok} |",
            x - s
        )?;
    }
    Ok(())
}

fn closed(w: &mut String, c: &Value) -> Result {
    let relay = &c["relay"];
    writeln!(w, "\nClosed loop: {} messages in flight per direction, {} s per step (after a warm-up of a fifth of it). \
msgs/s are the total over all pairs (over the three nodes, in the cluster).\n", relay["window"], relay["duration"])?;
    writeln!(w, "| pairs | one node msgs/s | same node msgs/s | cross node msgs/s | same / one | cross / one |\n|---|---|---|---|---|---|")?;
    for s in steps(&relay["closed"]) {
        let r = |l: &str| f(&s[l]["achieved"]);
        writeln!(
            w,
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            s["pairs"],
            r("single"),
            r("same"),
            r("cross"),
            r("same") / r("single"),
            r("cross") / r("single")
        )?;
    }
    closed_latency(w, relay)?;
    writeln!(w, "\nWhat a relayed message costs, in the same steps: CPU µs of the nodes (the three together, or the one node) \
and of Redis, and Redis's commands and PUBLISHes, per message relayed within the window.\n")?;
    writeln!(w, "| pairs | node CPU µs/msg: one / same / cross | Redis CPU µs/msg: same / cross | Redis commands/msg: same / cross | PUBLISH/msg: same / cross |\n|---|---|---|---|---|")?;
    for s in steps(&relay["closed"]) {
        let q = |l: &str, k: &str| f(&s[l][k]);
        let r = |l: &str, k: &str| f(&s[l]["redis"][k]);
        writeln!(
            w,
            "| {} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
            s["pairs"],
            q("single", "cpu_nodes_us_per_msg"),
            q("same", "cpu_nodes_us_per_msg"),
            q("cross", "cpu_nodes_us_per_msg"),
            q("same", "cpu_redis_us_per_msg"),
            q("cross", "cpu_redis_us_per_msg"),
            r("same", "commands_per_msg"),
            r("cross", "commands_per_msg"),
            r("same", "publishes_per_msg"),
            r("cross", "publishes_per_msg")
        )?;
    }
    Ok(())
}

/// Latency in the closed loop, each layout against one node at the same pair count.
fn closed_latency(w: &mut String, relay: &Value) -> Result {
    writeln!(w, "\nLatency in the same closed-loop steps (servers saturated: the window, not a schedule, paces the senders), \
from the send to the arrival; p99 against one node's at the same pair count.\n")?;
    writeln!(w, "| pairs | layout | msgs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | p99 / one node's |\n|---|---|---|---|---|---|---|---|---|")?;
    for s in steps(&relay["closed"]) {
        for (key, name) in LAYOUTS {
            let ratio = f(&s[key]["p99"]) / f(&s["single"]["p99"]);
            writeln!(
                w,
                "| {} | {name} | {} | {ratio:.2} |",
                s["pairs"],
                latency_cells(&s[key], 2)
            )?;
        }
    }
    Ok(())
}

fn open(w: &mut String, c: &Value, charts: &str) -> Result {
    let open = &c["relay"]["open"];
    writeln!(w, "\nOpen loop: {:.0} msgs/s in total over {} pairs for {} s, on a fixed schedule; latency from the scheduled \
send to the arrival, so that a stall is not hidden. Last column: what Redis's latency monitor saw block its event loop for \
1 ms or more within the window (the longest of each kind, ms; `aof-fsync-always`: an fsync of the append-only file after a \
write, such as a heartbeat's), while which no PUBLISH moves.\n", f(&open["rate"]), open["pairs"], open["duration"])?;
    writeln!(w, "| layout | achieved msgs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | Redis stalls ≥ 1 ms |\n|---|---|---|---|---|---|---|---|")?;
    for (key, name) in LAYOUTS {
        let stalls = &open[key]["redis"]["stalls"];
        let stalls = if stalls.is_object() {
            kinds(stalls)
        } else {
            "-".into()
        };
        writeln!(
            w,
            "| {name} | {} | {stalls} |",
            latency_cells(&open[key], 2)
        )?;
    }
    writeln!(w, "\n![cluster relay latency]({charts}/cluster-latency.png)\n\n![cluster relay throughput]({charts}/cluster-throughput.png)")
}

fn storm(w: &mut String, c: &Value) -> Result {
    let storm = &c["storm"];
    writeln!(w, "\nJoin storm: {} clients released at one instant. In each {} clients, one `create`s a workspace (on node k mod 3 \
for the k-th group); the others join a workspace made beforehand on that node by a member who then went offline: half `attend` \
it with its invite from another node, half `re-attend` with a session token on a third node (they attended from the second \
node beforehand and went offline). Against one node, the same on that node. Join time: from the release to the reply.\n",
        storm["clients"], storm["capacity"])?;
    writeln!(w, "| servers | joined | p50 ms | p90 ms | p99 ms | max ms | create p99 ms | attend p99 ms | re-attend p99 ms | errors |\n|---|---|---|---|---|---|---|---|---|---|")?;
    for (key, name) in [("single", "one node"), ("cluster", "three nodes")] {
        let o = &storm[key];
        let p99 = |kind: &str| f(&o["kinds"][kind]["p99"]);
        writeln!(
            w,
            "| {name} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            o["joined"],
            storm["clients"],
            f(&o["p50"]),
            f(&o["p90"]),
            f(&o["p99"]),
            f(&o["max"]),
            p99("create"),
            p99("attend"),
            p99("re-attend"),
            o["errors"]
        )?;
    }
    Ok(())
}

fn redis_cost(w: &mut String, c: &Value) -> Result {
    let idle = &c["idle"];
    writeln!(w, "\nRedis per member. At rest: {} members in {} workspaces of {} (each made on a node in turn, its other members \
attending from the other nodes), online and idle (answering the nodes' pings) for {} s, after the steps above; read from Redis \
before they came, once they were in, and at both ends of the idle time. A node's heartbeat (every {} s) is one EVALSHA, whose \
script's commands are counted each (TIME, EXISTS, ZADD, HSET, two ZRANGEBYSCORE, an HGET per live node), and a PING on each of \
its two bus connections.\n", idle["members"], idle["workspaces"], idle["capacity"], idle["seconds"], c["heartbeat_secs"])?;
    at_rest(w, idle)?;
    writeln!(w, "\n`sb:creates:<address>` is one `create` rate bucket per client address (it expires after a minute); the bench's \
clients come from 250 loopback addresses, so its count here is the bench's, not per member.\n")?;
    under_relay(w, c)
}

fn at_rest(w: &mut String, idle: &Value) -> Result {
    let sizes = &idle["key_sizes"];
    writeln!(w, "| figure | value |\n|---|---|")?;
    writeln!(w, "| `MEMORY USAGE` of a workspace's keys, bytes: `sb:ws:<id>` (record and {} memberships); `sb:owner:<id>` | {:.0}; {:.0} |",
        idle["capacity"], f(&sizes["workspace"]["mean_bytes"]), f(&sizes["owner"]["mean_bytes"]))?;
    writeln!(
        w,
        "| those bytes per member | {:.0} |",
        f(&idle["key_bytes_per_member"])
    )?;
    writeln!(w, "| `used_memory` growth per member, bytes (everything: also the `sb:workspaces` set, allocator overhead) | {:.0} |",
        f(&idle["used_memory_per_member"]))?;
    writeln!(
        w,
        "| workspace keys per member (`sb:ws`, `sb:owner`) | {:.2} |",
        f(&idle["workspace_keys_per_member"])
    )?;
    writeln!(
        w,
        "| keys added (`DBSIZE` growth: {:.2} per member), by kind | {} |",
        f(&idle["keys_per_member"]),
        kinds(&idle["keys_added"])
    )?;
    writeln!(
        w,
        "| commands/s at rest: total; per node; per member | {:.1}; {:.1}; {:.4} |",
        f(&idle["commands_per_s"]),
        f(&idle["commands_per_s_per_node"]),
        f(&idle["commands_per_s_per_member"])
    )?;
    writeln!(
        w,
        "| commands at rest, by command, in {} s | {} |",
        idle["seconds"],
        kinds(&idle["calls"])
    )
}

fn under_relay(w: &mut String, c: &Value) -> Result {
    writeln!(w, "Under relay (the closed loop's steps above, in the measured window): Redis's commands per second, per relaying \
member (two per pair), and per relayed message. Redis counts every PUBLISH made within the window, the relay only the messages \
sent within it that arrived: with up to 16 messages in flight per direction at each edge, the two differ by a percent or two at \
large pair counts.\n")?;
    writeln!(w, "| pairs | layout | msgs/s | Redis commands/s | per member | per relayed msg | PUBLISH per relayed msg |\n|---|---|---|---|---|---|---|")?;
    for s in steps(&c["relay"]["closed"]) {
        for (key, name) in [("same", "same node"), ("cross", "cross node")] {
            let r = &s[key]["redis"];
            writeln!(
                w,
                "| {} | {name} | {:.0} | {:.0} | {:.1} | {:.3} | {:.3} |",
                s["pairs"],
                f(&s[key]["achieved"]),
                f(&r["commands_per_s"]),
                f(&r["commands_per_s_per_member"]),
                f(&r["commands_per_msg"]),
                f(&r["publishes_per_msg"])
            )?;
        }
    }
    Ok(())
}

/// `{"a": 1, "b": 2}` as `a 1, b 2`.
fn kinds(v: &Value) -> String {
    let items: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, n)| format!("`{k}` {n}"))
        .collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn logs(w: &mut String, c: &Value) -> Result {
    let alerts = c["alerts"].as_object();
    let counts: Vec<String> = alerts
        .into_iter()
        .flatten()
        .map(|(name, a)| format!("{name} {}", a["count"]))
        .collect();
    writeln!(
        w,
        "\nLog lines at WARN or ERROR over the run (each node's stdout, `RUST_LOG=info`): {}.",
        counts.join(", ")
    )?;
    let lines: Vec<&str> = alerts
        .into_iter()
        .flatten()
        .flat_map(|(_, a)| steps(&a["first"]).filter_map(Value::as_str))
        .take(10)
        .collect();
    if !lines.is_empty() {
        writeln!(w, "\n```\n{}\n```", lines.join("\n"))?;
    }
    Ok(())
}
