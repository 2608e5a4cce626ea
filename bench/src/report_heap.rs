//! The "Heap per idle member" section of BENCHMARKS.md, from heap.json (and
//! connections.json for the RSS beside it): the bytes per idle native member by what
//! holds them, the difference of two heaptrack runs over the difference of their member
//! counts, and the total beside the RSS per member the connections scenario measured.
//! `report --only heap` puts a fresh section into an existing BENCHMARKS.md.

use crate::heap_sites::{HOLDERS, REST};
use serde_json::Value;
use std::fmt::{Result, Write as _};

pub const HEADING: &str = "## Heap per idle member";

/// The sites named per holder, at most, and the least bytes per member a named site has.
const SITES: usize = 3;
const SITE_BYTES: f64 = 8.0;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// `x` to `decimals` places, a difference that rounds to nothing shown as 0, not -0.
fn fixed(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

fn label(key: &str) -> &'static str {
    HOLDERS
        .iter()
        .find(|h| h.key == key)
        .map_or(REST.1, |h| h.label)
}

/// One holder's bytes per member, and its sites' (most first, those with at least
/// `SITE_BYTES`).
struct PerMember {
    key: String,
    bytes: f64,
    sites: Vec<(String, f64)>,
}

/// Each holder's bytes per member: its bytes at the larger count less at the smaller,
/// over the difference of the counts.
fn per_member(heap: &Value) -> Vec<PerMember> {
    let (small, large) = (&heap["steps"][0], &heap["steps"][1]);
    let members = f(&large["n"]) - f(&small["n"]);
    let holders = |step: &Value| step["holders"].as_array().cloned().unwrap_or_default();
    let before = holders(small);
    holders(large)
        .iter()
        .map(|holder| {
            let key = holder["key"].as_str().unwrap_or("").to_string();
            let was = before
                .iter()
                .find(|h| h["key"].as_str() == Some(key.as_str()));
            let site_bytes = |h: Option<&Value>, site: &str| {
                h.and_then(|h| h["sites"].as_array())
                    .and_then(|sites| sites.iter().find(|s| s[0].as_str() == Some(site)))
                    .map_or(0.0, |s| f(&s[1]))
            };
            let mut sites: Vec<(String, f64)> = holder["sites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| {
                    let site = s[0].as_str()?;
                    let per = (f(&s[1]) - site_bytes(was, site)) / members;
                    (per >= SITE_BYTES).then(|| (site.to_string(), per))
                })
                .collect();
            sites.sort_by(|a, b| b.1.total_cmp(&a.1));
            sites.truncate(SITES);
            let bytes = (f(&holder["bytes"]) - was.map_or(0.0, |h| f(&h["bytes"]))) / members;
            PerMember { key, bytes, sites }
        })
        .collect()
}

/// The connections scenario's step to set beside: the one with as many attendees as the
/// larger heap run, else its largest. (attendees, KiB of RSS per attendee.)
fn rss(conns: Option<&Value>, n: &Value) -> Option<(u64, f64)> {
    let steps = conns?["steps"].as_array()?;
    let step = steps.iter().find(|s| &s["n"] == n).or(steps.last())?;
    Some((
        step["n"].as_u64()?,
        f(&step["switchboard"]["per_connection"]) / 1024.0,
    ))
}

pub fn section(
    w: &mut String,
    heap: &Value,
    conns: Option<&Value>,
    commands: &str,
    date: &str,
    note: &str,
) -> Result {
    crate::report_only::heading(w, HEADING, date, note)?;
    let (small, large) = (&heap["steps"][0], &heap["steps"][1]);
    let (n1, n2) = (&small["n"], &large["n"]);
    writeln!(w, "\nWhere an idle native member's heap bytes go. Switchboard built with the `system-allocator` feature \
(glibc's malloc, which heaptrack watches, in place of jemalloc) and line tables, so that frames inlined into others \
keep their files (`CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p switchboard --features \
system-allocator`, into a target directory of its own), run under {} with the config of the other scenarios \
(memory storage, limits lifted, default workers): {n1} attendees in workspaces of {}, as in \"Idle connections\", \
then, in a fresh process, {n2}. {} s after the last has joined (time for heaptrack's recorder to write out all it \
buffered), the server is killed (SIGKILL): a server that stops on its own first frees its members, so what heaptrack \
records as never freed is what was live with every member connected and idle.\n",
        heap["heaptrack"].as_str().filter(|v| !v.is_empty()).unwrap_or("heaptrack"),
        heap["capacity"], heap["settle"])?;
    writeln!(w, "`heaptrack_print --print-leaks --merge-backtraces 0` lists those bytes by backtrace. Each backtrace \
goes to the holder of its innermost frame in one of the holders' source files (bench/src/heap_sites.rs): the code \
that asked for the bytes says what they are for, so the cell tokio boxes a spawned future in is the task's whichever \
function spawned it, and an outbox made while a member attends is the outbox's, not the workspace's. Per member: \
(bytes at {n2} − bytes at {n1}) / ({n2} − {n1}), so what the process holds whatever its members (its runtimes, the \
log writer's queue: \"the rest\") drops out, and a map grown to twice the members counts for what it costs them. \
The bytes are those asked of malloc, without the allocator's rounding and bookkeeping; heaptrack_print rounds each \
backtrace's to two decimals of its unit (K, M), under 0.01 KiB per member here. A holder a few bytes either side \
of 0 holds nothing per member: what it holds differs that little between the two processes. The sites are the \
frames that decided, each with its bytes per member (8 or more).\n")?;
    let holders = per_member(heap);
    let total: f64 = holders.iter().map(|h| h.bytes).sum();
    writeln!(w, "| holder | bytes per member | share | largest sites, bytes per member |\n|---|---|---|---|")?;
    for h in &holders {
        let sites: Vec<String> = h
            .sites
            .iter()
            .map(|(site, bytes)| format!("`{site}` {bytes:.0}"))
            .collect();
        writeln!(
            w,
            "| {} | {} | {} % | {} |",
            label(&h.key),
            fixed(h.bytes, 0),
            fixed(h.bytes / total * 100.0, 1),
            if sites.is_empty() {
                "-".to_string()
            } else {
                sites.join("; ")
            }
        )?;
    }
    writeln!(
        w,
        "| **heap per member** | **{total:.0}** ({:.2} KiB) | 100 % | |",
        total / 1024.0
    )?;
    writeln!(w, "\n| attendees | heap live MiB | backtraces | seconds (under heaptrack, then heaptrack_print) |\n|---|---|---|---|")?;
    for step in [small, large] {
        writeln!(
            w,
            "| {} | {:.1} | {} | {:.1} |",
            step["n"],
            f(&step["bytes"]) / 1048576.0,
            step["backtraces"],
            f(&step["seconds"])
        )?;
    }
    if let Some((n, kib)) = rss(conns, n2) {
        writeln!(w, "\nBeside the RSS per member the connections scenario measured in this run (Switchboard's release \
build, jemalloc; \"Idle connections\"): what RSS holds beyond the heap is the allocator's (size classes, partly \
filled pages, its metadata) and whatever else resident grows with the members; the kernel's socket buffers are in \
neither.\n")?;
        writeln!(w, "| figure | KiB per idle member |\n|---|---|")?;
        writeln!(
            w,
            "| heap, heaptrack, {n1} → {n2} attendees (glibc's malloc) | {:.2} |",
            total / 1024.0
        )?;
        writeln!(w, "| RSS at {n} attendees (jemalloc) | {kib:.2} |")?;
        writeln!(w, "| RSS − heap | {:.2} |", kib - total / 1024.0)?;
    }
    writeln!(w, "\nCommand:\n\n```sh")?;
    for line in commands
        .lines()
        .filter(|l| l.contains(" heap ") || l.contains(" connections "))
    {
        writeln!(w, "{line}")?;
    }
    writeln!(w, "```")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Two runs: 1000 bytes of the process's own in both (less a rounding of
    /// heaptrack_print's at the larger), 300 per member in the task, 20 per member at one
    /// site of the outbox and 2 at another (too few to be named).
    fn heap() -> Value {
        let step = |n: u64| {
            let m = n as f64;
            json!({"n": n, "bytes": 1000.0 + 321.875 * m, "backtraces": 3, "seconds": 1.0,
                   "holders": [
                       {"key": "task", "bytes": 300.0 * m, "sites": [["core.rs:261", 300.0 * m]]},
                       {"key": "outbox", "bytes": 22.0 * m,
                        "sites": [["outbox.rs:166", 20.0 * m], ["outbox.rs:213", 2.0 * m]]},
                       {"key": "rest", "bytes": 1000.0 - m / 8.0,
                        "sites": [["array.rs:135", 1000.0]]}]})
        };
        json!({"capacity": 5, "settle": 1.0, "heaptrack": "heaptrack 1.4.0",
               "steps": [step(100), step(300)]})
    }

    #[test]
    fn per_member_is_the_difference_over_the_members_added() {
        let per = per_member(&heap());
        let figures: Vec<(&str, f64)> = per.iter().map(|h| (h.key.as_str(), h.bytes)).collect();
        assert_eq!(
            figures,
            [("task", 300.0), ("outbox", 22.0), ("rest", -0.125)]
        );
        assert_eq!(per[1].sites, [("outbox.rs:166".to_string(), 20.0)]);
        assert!(per[2].sites.is_empty());
    }

    #[test]
    fn sets_the_total_beside_the_rss_at_the_same_count() {
        let conns = json!({"steps": [
            {"n": 300, "switchboard": {"per_connection": 512.0}},
            {"n": 1000, "switchboard": {"per_connection": 1024.0}}]});
        let mut md = String::new();
        section(&mut md, &heap(), Some(&conns), "", "", "").unwrap();
        for row in [
            "| the rest | 0 | 0.0 % | - |",
            "| **heap per member** | **322** (0.31 KiB) | 100 % | |",
            "| RSS at 300 attendees (jemalloc) | 0.50 |",
            "| RSS − heap | 0.19 |",
        ] {
            assert!(md.contains(row), "no {row:?} in {md}");
        }
    }
}
