//! The "Socket.IO endpoint against the native protocol" section of BENCHMARKS.md, from
//! socketio.json: the ratios Socket.IO / native first, then each step's figures.

use crate::report::latency_cells;
use serde_json::Value;
use std::fmt::{Result, Write as _};

pub const HEADING: &str = "## Socket.IO endpoint against the native protocol";

/// The protocols as socketio.json names them, and as the tables do.
const PROTOCOLS: [(&str, &str); 2] = [("native", "native `/ws`"), ("socketio", "Socket.IO")];

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn steps(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn pairs(count: &Value) -> String {
    match count.as_u64() {
        Some(1) => "1 pair".into(),
        _ => format!("{count} pairs"),
    }
}

pub fn section(w: &mut String, sio: &Value, commands: &str, date: &str, note: &str) -> Result {
    crate::report_only::heading(w, HEADING, date, note)?;
    writeln!(w, "\nThe same work against one Switchboard (memory storage, limits lifted), over its two protocols: \
the native one at `/ws` and the Socket.IO v2 endpoint at `/socket.io/` (Engine.IO 3, the WebSocket transport \
from the start: `GET /socket.io/?EIO=3&transport=websocket`, the open packet `0{{…}}` and `40`, then the \
webRTCWorkspaces events). Each pair is two members of one workspace (one `create`s, the other `attend`s with its \
invite) sending each other `icecandidate`s both ways at once, the same ~250-byte candidate with the send time \
inside it; latency is taken where it arrives. Native: `{{\"event\":\"icecandidate\",\"data\":{{\"to\",\"candidate\"}}}}`, \
answered to the sender with `sent {{}}`. Socket.IO: `42[\"icecandidate\",{{attendee:{{id}},broadcaster:{{id}},workspace:{{id}},accessToken,candidate}}]`, \
which Switchboard authenticates on every event (token signature, expiry, membership, sender id) and does not \
answer; the target gets `42[\"icecandidate\",{{attendee,broadcaster,candidate}}]`. Socket.IO clients send the \
Engine.IO ping (`2`) every 25 s, as socket.io-client does. Server CPU: utime + stime of /proc/<pid>/stat over \
the measured window, divided by the messages relayed within it. The bench reports; it asserts no timing.\n")?;
    summary(w, sio)?;
    closed(w, sio)?;
    open(w, sio)?;
    idle(w, sio)?;
    writeln!(w, "\nCommand:\n\n```sh")?;
    for line in commands.lines().filter(|l| l.contains(" socketio ")) {
        writeln!(w, "{line}")?;
    }
    writeln!(w, "```")
}

fn summary(w: &mut String, sio: &Value) -> Result {
    writeln!(
        w,
        "| figure | native | Socket.IO | Socket.IO / native |\n|---|---|---|---|"
    )?;
    let row = |w: &mut String, what: String, n: f64, s: f64, decimals: usize| {
        writeln!(
            w,
            "| {what} | {n:.decimals$} | {s:.decimals$} | {:.2} |",
            s / n
        )
    };
    for step in steps(&sio["closed"]) {
        let q = |name: &str, key: &str| f(&step[name][key]);
        let what = format!("relayed msgs/s, {} (closed loop)", pairs(&step["pairs"]));
        row(
            w,
            what,
            q("native", "achieved"),
            q("socketio", "achieved"),
            0,
        )?;
    }
    for step in steps(&sio["closed"]) {
        let q = |name: &str| f(&step[name]["cpu_us_per_msg"]);
        let what = format!(
            "server CPU per relayed message, {} (closed loop), µs",
            pairs(&step["pairs"])
        );
        row(w, what, q("native"), q("socketio"), 2)?;
    }
    let open = &sio["open"];
    for (label, key) in [("p50", "p50"), ("p99", "p99")] {
        let what = format!(
            "relay latency {label} at {:.0} msgs/s, {} (open loop), ms",
            f(&open["rate"]),
            pairs(&open["pairs"])
        );
        row(
            w,
            what,
            f(&open["native"][key]),
            f(&open["socketio"][key]),
            2,
        )?;
    }
    let idle = &sio["idle"];
    let what = format!(
        "server RSS per idle member at {} members, KiB",
        idle["members"]
    );
    let per = |name: &str| f(&idle[name]["per_member"]) / 1024.0;
    row(w, what, per("native"), per("socketio"), 1)
}

fn closed(w: &mut String, sio: &Value) -> Result {
    writeln!(w, "\nClosed loop: {} messages in flight per direction, {} s per step (after a warm-up of a fifth of it), \
native then Socket.IO at each pair count, on the same server process.\n", sio["window"], sio["duration"])?;
    writeln!(w, "| pairs | native msgs/s | Socket.IO msgs/s | Socket.IO / native | native CPU µs/msg | Socket.IO CPU µs/msg | CPU Socket.IO / native |\n|---|---|---|---|---|---|---|")?;
    for step in steps(&sio["closed"]) {
        let q = |name: &str, key: &str| f(&step[name][key]);
        let (rn, rs) = (q("native", "achieved"), q("socketio", "achieved"));
        let (cn, cs) = (
            q("native", "cpu_us_per_msg"),
            q("socketio", "cpu_us_per_msg"),
        );
        writeln!(
            w,
            "| {} | {rn:.0} | {rs:.0} | {:.2} | {cn:.2} | {cs:.2} | {:.2} |",
            step["pairs"],
            rs / rn,
            cs / cn
        )?;
    }
    Ok(())
}

fn open(w: &mut String, sio: &Value) -> Result {
    let open = &sio["open"];
    let how = if open["asked_rate"].is_number() {
        "the rate asked with `--rate`".to_string()
    } else if open["closed_at_pairs"] == true {
        format!(
            "{:.0} % of the lower of the two protocols' closed-loop rates at {}",
            f(&open["open_load"]) * 100.0,
            pairs(&open["pairs"])
        )
    } else {
        format!(
            "{:.0} % of the lower of the two protocols' best closed-loop rates",
            f(&open["open_load"]) * 100.0
        )
    };
    writeln!(w, "\nOpen loop: {:.0} msgs/s in total ({how}) over {} pairs for {} s, on a fixed schedule; latency from the \
scheduled send to the arrival, so that a stall is not hidden.\n", f(&open["rate"]), open["pairs"], open["duration"])?;
    writeln!(w, "| protocol | achieved msgs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|")?;
    for (name, label) in PROTOCOLS {
        writeln!(w, "| {label} | {} |", latency_cells(&open[name], 2))?;
    }
    Ok(())
}

fn idle(w: &mut String, sio: &Value) -> Result {
    let idle = &sio["idle"];
    writeln!(w, "\nIdle members: {} members in workspaces of {} (one `create`s, the others `attend`), then idle, on a fresh \
server per protocol; native members answer the server's WebSocket pings, Socket.IO members also send the Engine.IO \
ping every 25 s. RSS: VmRSS of /proc/<pid>/status after a settle time; per member = (RSS − RSS before the first \
connection) / members.\n", idle["members"], idle["capacity"])?;
    if idle["asked"] != idle["members"] {
        writeln!(w, "{} members were asked; RLIMIT_NOFILE (hard limit {} here) caps what one process holds.\n",
            idle["asked"], idle["nofile"])?;
    }
    writeln!(
        w,
        "| protocol | RSS before MiB | RSS MiB | KiB/member | setup s |\n|---|---|---|---|---|"
    )?;
    for (name, label) in PROTOCOLS {
        let o = &idle[name];
        writeln!(
            w,
            "| {label} | {:.1} | {:.1} | {:.1} | {:.1} |",
            f(&o["base"]) / 1048576.0,
            f(&o["rss"]) / 1048576.0,
            f(&o["per_member"]) / 1024.0,
            f(&o["setup_seconds"])
        )?;
    }
    Ok(())
}
