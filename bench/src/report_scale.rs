//! The "Scale on paper" section of BENCHMARKS.md (issue 15): how many idle members and
//! how many relayed messages per second one node, and a cluster of 3 or 10 nodes on one
//! Redis, would carry on a bigger host, computed from the figures this run measured on
//! its small machine. Nothing here is measured: the section multiplies measured figures
//! by stated assumptions (the constants below, each printed in the text), so that a
//! reader can redo the arithmetic with others. A scenario missing from the run leaves out
//! what needs it (the cluster's rows without cluster.json); the report does not fail.

use serde_json::Value;
use std::fmt::{Result, Write as _};

pub const HEADING: &str = "## Scale on paper";

/// The host the figures are carried to.
const HOST_CORES: f64 = 16.0;
const HOST_GIB: f64 = 64.0;
/// The share of the host's memory given to members' connections.
const RAM_SHARE: f64 = 0.8;
/// How much of the host's cores relaying gets, against linear scaling from the measure.
const CPU_EFFICIENCY: f64 = 0.7;
/// One Redis instance's command rate, taken as its ceiling.
const REDIS_CEILING: f64 = 1_000_000.0;
/// The cluster sizes of the table.
const NODES: [u32; 3] = [1, 3, 10];

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn steps(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// The run's JSON this section reads, each when the run had it.
#[derive(Clone, Copy, Default)]
pub struct Inputs<'a> {
    pub relay: Option<&'a Value>,
    pub connections: Option<&'a Value>,
    pub signal_fire: Option<&'a Value>,
    pub cluster: Option<&'a Value>,
}

/// A measured figure and where it comes from.
struct Figure {
    value: f64,
    from: String,
}

/// `value` rounded to three significant digits, with thousands separators.
fn approx(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    let digits = value.abs().max(1.0).log10().floor() as i32;
    let step = 10f64.powi((digits - 2).max(0));
    let rounded = ((value / step).round() * step) as i64;
    let text = rounded.abs().to_string();
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && (text.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 {
        format!("−{out}")
    } else {
        out
    }
}

/// Switchboard's RSS per idle native member, KiB, at the connections scenario's largest
/// step.
fn per_member(inputs: &Inputs) -> Option<Figure> {
    let last = steps(&inputs.connections?["steps"]).last()?;
    let value = f(&last["switchboard"]["per_connection"]) / 1024.0;
    value.is_finite().then(|| Figure {
        value,
        from: format!(
            "connections scenario: native `/ws`, {} idle members (its largest step)",
            last["n"]
        ),
    })
}

/// Switchboard's CPU µs per relayed message: the relay scenario's when it read CPU, else
/// the signal-fire scenario's at its largest pair count, else one node of the cluster
/// scenario's.
fn cpu_per_message(inputs: &Inputs) -> Option<Figure> {
    let last = |v: Option<&Value>, key: &str| -> Option<Value> { steps(&v?[key]).last().cloned() };
    if let Some(step) = last(inputs.relay, "closed") {
        let value = f(&step["switchboard"]["cpu_us_per_msg"]);
        if value.is_finite() {
            return Some(Figure {
                value,
                from: format!(
                    "relay scenario: native `/ws`, {} pairs (its largest pair count), closed loop",
                    step["pairs"]
                ),
            });
        }
    }
    if let Some(step) = last(inputs.signal_fire, "closed") {
        let value = f(&step["switchboard"]["cpu_us_per_msg"]);
        if value.is_finite() {
            return Some(Figure {
                value,
                from: format!("signal-fire scenario: Switchboard's signal-fire endpoint, {} pairs (its largest pair \
count), closed loop; the relay scenario does not read the server's CPU, and a signal-fire `candidate` is relayed as \
a native `icecandidate` is (one JSON frame in, one out)", step["pairs"]),
            });
        }
    }
    let step = last(inputs.cluster.map(|c| &c["relay"]), "closed")?;
    let value = f(&step["single"]["cpu_nodes_us_per_msg"]);
    value.is_finite().then(|| Figure {
        value,
        from: format!(
            "cluster scenario: one node alone, native `/ws`, {} pairs, closed loop (the run has \
neither the relay's nor the signal-fire scenario's CPU)",
            step["pairs"]
        ),
    })
}

/// What the cluster scenario measured that the table needs.
struct Cluster {
    /// Node CPU per cross-node message against per message on one node alone.
    cross_cpu: f64,
    cross_cpu_us: f64,
    single_cpu_us: f64,
    /// Redis commands per cross-node message.
    commands_per_cross: f64,
    /// Redis CPU µs per cross-node message.
    redis_cpu_us: f64,
    pairs: Value,
    /// At rest: commands/s per node and per member, and the members it was measured with.
    per_node: f64,
    per_member: f64,
    members: Value,
    idle_secs: Value,
    calls: String,
    heartbeat_secs: Value,
    /// Bytes of a member's workspace's keys.
    key_bytes: f64,
}

fn cluster(inputs: &Inputs) -> Option<Cluster> {
    let c = inputs.cluster?;
    let step = steps(&c["relay"]["closed"]).last()?;
    let (single, cross) = (&step["single"], &step["cross"]);
    let idle = &c["idle"];
    let calls = idle["calls"]
        .as_object()
        .map(|calls| {
            calls
                .iter()
                .map(|(name, n)| format!("`{name}` {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let figures = Cluster {
        cross_cpu: f(&cross["cpu_nodes_us_per_msg"]) / f(&single["cpu_nodes_us_per_msg"]),
        cross_cpu_us: f(&cross["cpu_nodes_us_per_msg"]),
        single_cpu_us: f(&single["cpu_nodes_us_per_msg"]),
        commands_per_cross: f(&cross["redis"]["commands_per_msg"]),
        redis_cpu_us: f(&cross["cpu_redis_us_per_msg"]),
        pairs: step["pairs"].clone(),
        per_node: f(&idle["commands_per_s_per_node"]),
        per_member: f(&idle["commands_per_s_per_member"]),
        members: idle["members"].clone(),
        idle_secs: idle["seconds"].clone(),
        calls,
        heartbeat_secs: c["heartbeat_secs"].clone(),
        key_bytes: f(&idle["key_bytes_per_member"]),
    };
    (figures.cross_cpu.is_finite() && figures.commands_per_cross > 0.0).then_some(figures)
}

pub fn section(w: &mut String, inputs: Inputs) -> Result {
    writeln!(w, "\n{HEADING}\n")?;
    writeln!(w, "**Derived, not measured.** This section multiplies figures that this run measured on the small \
machine above up to a host that was not measured, by the assumptions stated below; every number in its table is \
arithmetic, not an observation, and is only as good as those assumptions (the largest of which: that what one \
process does on 2 shared cores carries linearly to 16). It is here to say which limit comes first and roughly \
where, not what a deployment will do.\n")?;
    let member = per_member(&inputs);
    let cpu = cpu_per_message(&inputs);
    let cl = cluster(&inputs);
    writeln!(
        w,
        "Figures taken from this run:\n\n| figure | value | from |\n|---|---|---|"
    )?;
    match &member {
        Some(m) => writeln!(
            w,
            "| server RSS per idle member, KiB | {:.1} | {} |",
            m.value, m.from
        )?,
        None => writeln!(
            w,
            "| server RSS per idle member, KiB | - | not in this run (connections scenario) |"
        )?,
    }
    match &cpu {
        Some(c) => writeln!(w, "| server CPU per relayed message, µs | {:.2} | {} |", c.value, c.from)?,
        None => writeln!(w, "| server CPU per relayed message, µs | - | not in this run (relay, signal-fire or cluster scenario) |")?,
    }
    if let Some(c) = &cl {
        writeln!(w, "| node CPU per cross-node message / per message on one node alone | {:.2} ({:.2} / {:.2} µs) | cluster scenario, {} pairs, closed loop (the three nodes' CPU together, against one node alone's) |",
            c.cross_cpu, c.cross_cpu_us, c.single_cpu_us, c.pairs)?;
        writeln!(w, "| Redis commands per cross-node message | {:.2} | cluster scenario, {} pairs, closed loop (`INFO commandstats`) |", c.commands_per_cross, c.pairs)?;
        writeln!(w, "| Redis CPU per cross-node message, µs | {:.2} | cluster scenario, {} pairs, closed loop |", c.redis_cpu_us, c.pairs)?;
        writeln!(w, "| Redis commands per second at rest: per idle member; per node | {:.4}; {:.1} | cluster scenario, {} members idle for {} s |",
            c.per_member, c.per_node, c.members, c.idle_secs)?;
        writeln!(w, "| Redis bytes per member (its workspace's keys) | {:.0} | cluster scenario, `MEMORY USAGE` |", c.key_bytes)?;
    } else {
        writeln!(w, "| Redis per cross-node message and per idle member | - | not in this run (cluster scenario): the table has one node only |")?;
    }
    assumptions(w, cl.as_ref())?;
    table(w, member.as_ref(), cpu.as_ref(), cl.as_ref())
}

fn assumptions(w: &mut String, cl: Option<&Cluster>) -> Result {
    let ram = HOST_GIB * RAM_SHARE;
    let cores = HOST_CORES * CPU_EFFICIENCY;
    writeln!(w, "\nAssumptions:\n")?;
    writeln!(w, "- A host has {HOST_CORES:.0} cores and {HOST_GIB:.0} GiB of memory, and runs one Switchboard node \
with a worker per core (Switchboard's default).")?;
    writeln!(w, "- Memory: {:.0} % of it ({ram:.1} GiB) goes to members, each costing the RSS per idle member above \
(measured as a slope: RSS growth over members); the rest is left to the system, including the kernel's memory per \
socket, which RSS does not count. The descriptor limit is raised to match.", RAM_SHARE * 100.0)?;
    writeln!(w, "- CPU: the CPU per relayed message above, on {HOST_CORES:.0} cores at {:.0} % of linear scaling \
({cores:.1} cores' worth), spent on relaying alone. The measure ran on 2 cores shared with the load generator; the \
server's own CPU time (utime + stime) is what is counted.", CPU_EFFICIENCY * 100.0)?;
    writeln!(w, "- Idle members and relayed messages are two separate ceilings: a node full of idle members is \
assumed to have its CPU free (their pings are not counted), and a node relaying at its CPU limit to hold the members \
that do it. Joins, leaves and reconnects are not modelled.")?;
    if let Some(c) = cl {
        writeln!(w, "- Cluster of N nodes, one per host: members are placed on nodes at random, so that a message's two \
ends are on different nodes with probability (N − 1)/N; such a message costs the nodes {:.2} times the CPU of a \
same-node one (measured above) and {:.2} Redis commands (a PUBLISH).", c.cross_cpu, c.commands_per_cross)?;
        writeln!(w, "- One Redis for the cluster, with a ceiling of {} commands/s (an assumed figure for one \
instance, not measured here). At rest its load is N × {:.1} commands/s: the commands counted at rest ({} in {} s) \
are the nodes' heartbeats (one EVALSHA every {} s, its script's commands counted each, and a PING per bus \
connection), which do not grow with members; taken as {:.4} per member instead, see below the table. What is left \
of the ceiling goes to cross-node messages.",
            approx(REDIS_CEILING), c.per_node, c.calls, c.idle_secs, c.heartbeat_secs, c.per_member)?;
        writeln!(w, "- Redis memory: {:.0} bytes per member (its workspace's keys), shown, not taken as a ceiling.", c.key_bytes)?;
    }
    Ok(())
}

fn table(
    w: &mut String,
    member: Option<&Figure>,
    cpu: Option<&Figure>,
    cl: Option<&Cluster>,
) -> Result {
    let node_members = member.map_or(f64::NAN, |m| {
        HOST_GIB * RAM_SHARE * 1024.0 * 1024.0 / m.value
    });
    let node_msgs = cpu.map_or(f64::NAN, |c| HOST_CORES * CPU_EFFICIENCY * 1e6 / c.value);
    writeln!(w, "\n| nodes | idle members | Redis memory for them, GiB | Redis commands/s at rest | relayed msgs/s: CPU limit | share of messages crossing nodes | relayed msgs/s: Redis limit | relayed msgs/s | limit that binds |\n|---|---|---|---|---|---|---|---|---|")?;
    let mut largest = None;
    for n in NODES {
        let nodes = f64::from(n);
        if n == 1 {
            let binds = if node_msgs.is_finite() { "CPU" } else { "-" };
            writeln!(
                w,
                "| 1 (alone, no Redis) | {} | - | - | {} | 0 % | - | {} | {binds} |",
                approx(node_members),
                approx(node_msgs),
                approx(node_msgs)
            )?;
            continue;
        }
        let Some(c) = cl else { continue };
        let members = nodes * node_members;
        let crossing = (nodes - 1.0) / nodes;
        let at_rest = nodes * c.per_node;
        let cpu_limit = nodes * node_msgs / (1.0 + crossing * (c.cross_cpu - 1.0));
        let redis_limit = (REDIS_CEILING - at_rest).max(0.0) / (crossing * c.commands_per_cross);
        let msgs = if cpu_limit.is_finite() {
            cpu_limit.min(redis_limit)
        } else {
            f64::NAN
        };
        let binds = match (cpu_limit.is_finite(), redis_limit < cpu_limit) {
            (false, _) => "-",
            (true, true) => "Redis",
            (true, false) => "CPU",
        };
        writeln!(
            w,
            "| {n} | {} | {:.1} | {} | {} | {:.0} % | {} | {} | {binds} |",
            approx(members),
            members * c.key_bytes / (1u64 << 30) as f64,
            approx(at_rest),
            approx(cpu_limit),
            crossing * 100.0,
            approx(redis_limit),
            approx(msgs)
        )?;
        largest = Some((n, members, c));
    }
    if cl.is_none() {
        writeln!(w, "\nThe rows for 3 and 10 nodes need the cluster scenario's Redis figures (cluster.json), which this run does not have.")?;
    }
    if let Some((n, members, c)) = largest {
        let load = members * c.per_member;
        writeln!(w, "\nTaking the commands at rest as {:.4} per member per second instead of per node, {n} nodes' {} \
idle members would cost Redis {} commands/s, {:.0} % of its assumed ceiling.",
            c.per_member, approx(members), approx(load), load / REDIS_CEILING * 100.0)?;
        let (by_cpu, by_ceiling) = (1e6 / c.redis_cpu_us, REDIS_CEILING / c.commands_per_cross);
        if by_cpu.is_finite() {
            let then = if by_cpu < by_ceiling {
                format!("below the {} that the assumed ceiling allows: if Redis's CPU per message holds on the host, \
the Redis limits above are {:.1} times too high", approx(by_ceiling), by_ceiling / by_cpu)
            } else {
                format!(
                    "above the {} that the assumed ceiling allows",
                    approx(by_ceiling)
                )
            };
            writeln!(w, "\nRedis's CPU per cross-node message measured here ({:.2} µs, on these shared cores) would \
saturate its one command thread at about {} cross-node messages/s, {then}.", c.redis_cpu_us, approx(by_cpu))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::approx;

    #[test]
    fn approx_keeps_three_digits() {
        assert_eq!(approx(2_661_234.0), "2,660,000");
        assert_eq!(approx(987.6), "988");
        assert_eq!(approx(12.0), "12");
        assert_eq!(approx(1_000_000.0), "1,000,000");
        assert_eq!(approx(f64::NAN), "-");
    }
}
