//! The "Attacks" section of BENCHMARKS.md, from attacks.json: one row per attack, one
//! group of columns per binary attacked.

use serde_json::Value;
use std::fmt::{Result, Write as _};

const ATTACKS: [(&str, &str); 5] = [
    ("huge-frame", "a. a text frame header declaring 2^62 bytes, then bytes as fast as they go"),
    ("ping-flood", "b. 125-byte pings, continuously, never reading (SO_RCVBUF 4 KiB)"),
    ("continuations", "c. a fragmented text message opened, then empty continuation frames, endlessly"),
    ("pongs", "d. unsolicited 125-byte pongs, continuously"),
    ("slow-target", "e. a member that never reads (SO_RCVBUF 4 KiB) while another member relays 60 KiB `icecandidate`s to it, \
8 outstanding, a new one as each reply comes back, whatever the reply"),
];

pub fn section(w: &mut String, attacks: &Value, commands: &str) -> Result {
    let names: Vec<&str> = attacks["binaries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["name"].as_str())
        .collect();
    writeln!(w, "\n## Attacks\n")?;
    writeln!(w, "One hostile client, written frame by frame (masked client frames, RFC 6455 §5.2), against a fresh \
Switchboard process per attack and binary: memory storage, every limit at its default, except that for e the request \
rate is lifted, so that what stops the sender is the target's queue and not the sender's own rate. Each attack lasts \
{} s, or until the server ends the attacker's TCP connection. Peak RSS: the highest of VmHWM and of VmRSS sampled every \
10 ms (/proc/<pid>/status); RSS after: VmRSS {} s after the attacker has gone; a server past {} MiB is killed by the \
bench (\"> {} MiB\"). Ended by the server: the attacker's socket left ESTABLISHED (the server's FIN or RST, seen \
without reading) or a write failed; the time counts from the first attacking byte. For e, that is the connection of \
the member that does not read.\n", attacks["duration"], attacks["after"], attacks["cap_mib"], attacks["cap_mib"])?;
    for (_, what) in ATTACKS {
        writeln!(w, "- {what}")?;
    }
    write!(w, "\n| attack |")?;
    for name in &names {
        write!(
            w,
            " {name}: peak RSS MiB | {name}: RSS after MiB | {name}: ended by the server |"
        )?;
    }
    writeln!(w, "\n|---|{}", "---|---|---|".repeat(names.len()))?;
    for (attack, _) in ATTACKS {
        write!(w, "| {attack} |")?;
        for name in &names {
            let cells = result(attacks, attack, name).map_or_else(
                || [""; 3].map(String::from),
                |r| cells(r, &attacks["cap_mib"]),
            );
            write!(w, " {} | {} | {} |", cells[0], cells[1], cells[2])?;
        }
        writeln!(w)?;
    }
    slow_target(w, attacks, &names)?;
    binaries(w, attacks, commands)
}

fn result<'a>(attacks: &'a Value, attack: &str, binary: &str) -> Option<&'a Value> {
    attacks["results"]
        .as_array()?
        .iter()
        .find(|r| r["attack"] == attack && r["binary"] == binary)
}

/// Peak RSS, RSS after, ended by the server.
fn cells(r: &Value, cap_mib: &Value) -> [String; 3] {
    let mib = |v: &Value| {
        v.as_f64()
            .map_or("-".into(), |b| format!("{:.1}", b / 1048576.0))
    };
    if r["capped"] == true {
        let when = r["capped_after"].as_f64().unwrap_or(f64::NAN);
        return [
            format!("> {cap_mib} (cap reached after {when:.2} s)"),
            "- (killed)".into(),
            "- (killed by the bench)".into(),
        ];
    }
    // The attacker looks every 10 ms (and at every write): no finer than that.
    let ended = match r["ended_after"].as_f64() {
        Some(secs) if secs < 0.01 => "yes, < 0.01 s".into(),
        Some(secs) => format!("yes, {secs:.2} s"),
        None => "no".into(),
    };
    let ended = match r["exited"].as_str() {
        Some(status) => format!("{ended} (server exited: {status})"),
        None => ended,
    };
    [mib(&r["peak_rss"]), mib(&r["after_rss"]), ended]
}

/// What e's sender was told, per binary.
fn slow_target(w: &mut String, attacks: &Value, names: &[&str]) -> Result {
    writeln!(w, "\ne, the sender's side: replies to its relays, and whether the server ended the sender's connection.\n")?;
    writeln!(w, "| binary | `sent` | `rate_limited` | other alerts | sender's connection ended |\n|---|---|---|---|---|")?;
    for name in names {
        let Some(d) = result(attacks, "slow-target", name).map(|r| &r["detail"]) else {
            continue;
        };
        if d.is_null() {
            writeln!(w, "| {name} | - | - | - | - (server killed by the bench) |")?;
            continue;
        }
        let ended = d["sender_ended_after"]
            .as_f64()
            .map_or("no".into(), |s| format!("yes, {s:.2} s"));
        // The first alert other than `rate_limited`, by its code.
        let first: Value = serde_json::from_str(d["first_other_alert"].as_str().unwrap_or("null"))
            .unwrap_or_default();
        let other = match first["data"]["code"].as_str() {
            Some(code) => format!("{} (the first: `{code}`)", d["other_alerts"]),
            None => d["other_alerts"].to_string(),
        };
        writeln!(
            w,
            "| {name} | {} | {} | {other} | {ended} |",
            d["sent"], d["rate_limited"]
        )?;
    }
    Ok(())
}

/// Which binary each column is, and the commands that attacked them.
fn binaries(w: &mut String, attacks: &Value, commands: &str) -> Result {
    writeln!(w, "\nBinaries:\n")?;
    for b in attacks["binaries"].as_array().into_iter().flatten() {
        writeln!(
            w,
            "- {}: `{}`",
            b["name"].as_str().unwrap_or("?"),
            b["path"].as_str().unwrap_or("?")
        )?;
    }
    writeln!(w, "\n`bench/run` attacks its own build as `after`; with `SWITCHBOARD_BEFORE=<path>` it also attacks that \
binary as `before` (e.g. a release build of ba69144, the last commit before the transport hardening; see bench/run). \
Commands:\n\n```sh")?;
    for line in commands.lines().filter(|l| l.contains(" attacks ")) {
        writeln!(w, "{line}")?;
    }
    writeln!(w, "```")
}
