//! The "Switchboard against foglet-signaling-server 1.0.3" section of BENCHMARKS.md, from
//! foglet.json: the ratios against the goals of issue 15 (CPU per forwarded message and
//! RSS per idle socket, each at most a fifth of the original's), then each step's
//! figures. `report --only foglet` puts a fresh section into an existing BENCHMARKS.md.

use crate::report_signal_fire::met;
use serde_json::Value;
use std::fmt::{Result, Write as _};

pub const HEADING: &str = "## Switchboard against foglet-signaling-server 1.0.3";

/// The servers as foglet.json names them, and as the tables do.
const SERVERS: [(&str, &str); 2] = [
    ("switchboard", "Switchboard"),
    ("foglet-signaling-server", "foglet-signaling-server 1.0.3"),
];
const ORIGINAL: &str = SERVERS[1].0;

/// Switchboard's figure against the original's, at most.
const GOAL: f64 = 0.2;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn steps(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// "1 pair", "8 pairs".
fn pairs(count: &Value) -> String {
    match count.as_u64() {
        Some(1) => "1 pair".into(),
        _ => format!("{count} pairs"),
    }
}

pub fn section(w: &mut String, fg: &Value, commands: &str, date: &str, note: &str) -> Result {
    crate::report_only::heading(w, HEADING, date, note)?;
    let bytes = &fg["frame_bytes"];
    writeln!(w, "\nThe same work against two servers, each its own process: Switchboard's Socket.IO endpoint with the \
foglet entrance events on (`[compat.socketio] enabled = true`, `[compat.entrance] enabled = true`, `/socket.io/`, \
memory storage, limits lifted) and the original `foglet-signaling-server@1.0.3` under Node.js {} (installed by \
`npm ci` in bench/oracles; its module src/signaling-server.js, unmodified, started by \
bench/oracles/foglet-signaling-server.js as tests/entrance/oracle.js starts it: an http.Server on 127.0.0.1, the \
start script's Socket.IO options, its debug log off as the start script leaves it). The clients speak Socket.IO v2 \
over the WebSocket transport from the start (`GET /socket.io/?EIO=3&transport=websocket`, the open packet `0{{…}}` \
and `40`, then events `42[name, data]`), as socket.io-client does with `transports: ['websocket']`, and send the \
Engine.IO ping (`2`) every 25 s. The bench reports; it asserts no timing.\n", fg["node"].as_str().unwrap_or(""))?;
    writeln!(w, "Each pair is a room of its own. Its first socket `joinRoom`s `{{id, room}}` alone and is the room's \
connected member (`joinedRoom {{room, connected: true}}`); the second joins after it (`connected: false`) and sends \
`new {{id, tid, offer, room}}` with an offer under a tid of the pair, which the server, knowing no such tid, forwards \
to the room's connected member as `new_spray <offer>`, remembering tid → (sender, chosen); the pair is set up once \
that has arrived. Then both send at once: the newcomer `new` under that tid, which both servers forward to the \
remembered member as `new_spray <offer>` (the newcomer is not connected), and the connected member `accept {{id, \
offer, room}}` under the same tid, which both forward to the offer's sender as `accept_spray <offer>`. Every message \
sent is one message forwarded to the other socket of the pair, and nothing else. The offers are neighborhood-wrtc's \
`MRequest` / `MResponse` (`{{tid, peer, pid, offer, type, offerType}}`, as spray-wrtc hands them to foglet-core's \
signaling) around a trickled candidate (~250 bytes, the send time in it): {} bytes per `new` packet, {} per \
`accept`. Server CPU: utime + stime of /proc/<pid>/stat, all threads, read when the measured window opens and when \
it closes, divided by the messages forwarded within it.\n", bytes["new"], bytes["accept"])?;
    goals(w, fg)?;
    closed(w, fg)?;
    idle(w, fg)?;
    let alerts = &fg["switchboard_alerts"]["count"];
    if !alerts.is_null() {
        writeln!(w, "\nLog lines at WARN or ERROR over the run (Switchboard's stdout, `RUST_LOG=info`): {alerts}.")?;
    }
    writeln!(w, "\nCommand:\n\n```sh")?;
    for line in commands.lines().filter(|l| l.contains(" foglet ")) {
        writeln!(w, "{line}")?;
    }
    writeln!(w, "```")
}

/// The goals of issue 15, reported against (not asserted).
fn goals(w: &mut String, fg: &Value) -> Result {
    writeln!(
        w,
        "Against the goals of issue 15 (reported, not asserted):\n"
    )?;
    writeln!(w, "| figure | Switchboard | foglet-signaling-server 1.0.3 | Switchboard / original | goal | met |\n|---|---|---|---|---|---|")?;
    for step in steps(&fg["closed"]) {
        let (s, o) = (
            f(&step["switchboard"]["cpu_us_per_msg"]),
            f(&step[ORIGINAL]["cpu_us_per_msg"]),
        );
        writeln!(w, "| server CPU per forwarded message, {} (closed loop), µs | {s:.2} | {o:.2} | {:.2} | ≤ {GOAL:.2} | {} |",
            pairs(&step["pairs"]), s / o, met(s / o, GOAL, false))?;
    }
    let idle = &fg["idle"];
    let (s, o) = (
        f(&idle["switchboard"]["per_socket"]) / 1024.0,
        f(&idle[ORIGINAL]["per_socket"]) / 1024.0,
    );
    writeln!(w, "| server RSS per idle socket at {} sockets, KiB | {s:.1} | {o:.1} | {:.3} | ≤ {GOAL:.2} | {} |",
        idle["sockets"], s / o, met(s / o, GOAL, false))
}

fn closed(w: &mut String, fg: &Value) -> Result {
    writeln!(w, "\nClosed loop: {} messages in flight per direction (a sender sends the next as one of its own \
arrives at the other socket), {} s per step (after a warm-up of a fifth of it), each step on fresh pairs. \
Forwarded msgs/s (`new_spray` and `accept_spray` together), and server CPU µs per forwarded message.\n",
        fg["window"], fg["duration"])?;
    write!(w, "| pairs |")?;
    for (_, label) in SERVERS {
        write!(w, " {label} msgs/s |")?;
    }
    for (_, label) in SERVERS {
        write!(w, " {label} CPU µs/msg |")?;
    }
    writeln!(
        w,
        " msgs/s Switchboard / original | CPU Switchboard / original |\n|---|{}",
        "---|".repeat(6)
    )?;
    for step in steps(&fg["closed"]) {
        let q = |name: &str, key: &str| f(&step[name][key]);
        write!(w, "| {} |", step["pairs"])?;
        for (name, _) in SERVERS {
            write!(w, " {:.0} |", q(name, "rate"))?;
        }
        for (name, _) in SERVERS {
            write!(w, " {:.2} |", q(name, "cpu_us_per_msg"))?;
        }
        writeln!(
            w,
            " {:.2} | {:.2} |",
            q("switchboard", "rate") / q(ORIGINAL, "rate"),
            q("switchboard", "cpu_us_per_msg") / q(ORIGINAL, "cpu_us_per_msg")
        )?;
    }
    Ok(())
}

fn idle(w: &mut String, fg: &Value) -> Result {
    let idle = &fg["idle"];
    writeln!(w, "\nIdle sockets: {} sockets to a fresh server of each kind, in rooms of {} (each socket `joinRoom`s and \
waits for its `joinedRoom`; the first of a room is its connected member), then idle, sending the Engine.IO ping every \
25 s and reading what comes. RSS: VmRSS of /proc/<pid>/status {} s after the last socket joined; per socket = \
(RSS − RSS before the first connection) / sockets.\n", idle["sockets"], idle["room"], idle["settle"])?;
    writeln!(
        w,
        "| server | RSS before MiB | RSS MiB | KiB/socket | setup s |\n|---|---|---|---|---|"
    )?;
    for (name, label) in SERVERS {
        let o = &idle[name];
        writeln!(
            w,
            "| {label} | {:.1} | {:.1} | {:.1} | {:.1} |",
            f(&o["base"]) / 1048576.0,
            f(&o["rss"]) / 1048576.0,
            f(&o["per_socket"]) / 1024.0,
            f(&o["setup_seconds"])
        )?;
    }
    Ok(())
}
