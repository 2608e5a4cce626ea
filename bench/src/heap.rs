//! Where an idle member's heap bytes go: Switchboard under heaptrack, N idle attendees
//! in workspaces of K (connections.rs's members), then the server killed while they are
//! connected, so that what heaptrack records as never freed is exactly what was live at
//! that moment; `heaptrack_print` lists it by backtrace, heap_sites.rs says which holder
//! each backtrace's bytes are. Twice, at two counts of members: the figures per member
//! are the difference of the two over the difference of the counts, so that what the
//! process holds whatever its members (its runtime, the log writer's queue, the config)
//! falls out, and a map grown to twice the members is counted as what it costs them.
//!
//! heaptrack watches malloc: the binary must be built with the `system-allocator`
//! feature (glibc's malloc, not jemalloc), and line tables let it name the frames
//! inlined into others (bench/run builds it so, into its own target directory).

use crate::common::{max_connections, switchboard_config, write_json, Common, ServerProcess};
use crate::heap_sites::{by_holder, parse, total};
use crate::relay_load::Wire;
use anyhow::Context;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// The two attendee counts, the smaller first.
    #[arg(long, value_delimiter = ',', default_value = "5000,10000")]
    attendees: Vec<usize>,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds between the last member's joining and the kill. heaptrack's recorder
    /// writes to its pipe only a full buffer (4 KiB), and when idle fills it with a line of
    /// time and one of RSS every 10 ms (about 1.5 KiB a second): 4 s of idling push the
    /// last of the setup's allocations and frees out of the buffer a kill would lose.
    #[arg(long, default_value_t = 4.0)]
    settle: f64,
    /// heaptrack, which runs the server.
    #[arg(long, default_value = "heaptrack")]
    heaptrack: PathBuf,
    /// heaptrack_print, which lists what it recorded.
    #[arg(long, default_value = "heaptrack_print")]
    heaptrack_print: PathBuf,
    /// Where heaptrack's files go (kept, for `heaptrack --analyze`); a temporary
    /// directory when not given.
    #[arg(long)]
    traces: Option<PathBuf>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let k = options.common.capacity.max(2);
    let limit = max_connections();
    anyhow::ensure!(
        options.attendees.len() == 2 && options.attendees[0] < options.attendees[1],
        "heap: --attendees takes two counts, the smaller first"
    );
    let scratch = tempfile::tempdir()?;
    let traces = options
        .traces
        .clone()
        .unwrap_or(scratch.path().to_path_buf());
    std::fs::create_dir_all(&traces)?;
    println!("heap: idle attendees in workspaces of {k} under heaptrack; bytes live by holder");
    let mut steps = Vec::new();
    for &asked in &options.attendees {
        let n = (asked.min(limit) / k * k).max(k);
        if n < asked {
            println!("heap: {asked} attendees asked, {n} measured: RLIMIT_NOFILE allows {} descriptors per process (hard limit)", limit + 512);
        }
        steps.push(step(&options, n, asked, &traces.join(format!("switchboard-{n}"))).await?);
    }
    let counts = [&steps[0]["n"], &steps[1]["n"]].map(|n| n.as_f64().unwrap_or(0.0));
    anyhow::ensure!(
        counts[0] < counts[1],
        "heap: both counts capped to {}",
        counts[0]
    );
    let per = |step: &Value| step["bytes"].as_f64().unwrap_or(0.0);
    let total = (per(&steps[1]) - per(&steps[0])) / (counts[1] - counts[0]);
    // jemalloc's symbols are its own (tikv-jemallocator prefixes them): heaptrack sees
    // next to nothing of a default build.
    anyhow::ensure!(
        total >= 100.0,
        "heap: {total:.0} bytes per member; is {} built with --features system-allocator?",
        options.common.switchboard_bin.display()
    );
    println!(
        "| holder | KiB at {} | KiB at {} | bytes per member |\n|---|---|---|---|",
        counts[0], counts[1]
    );
    for (i, holder) in steps[0]["holders"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let bytes = |s: &Value| s["holders"][i]["bytes"].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} |",
            holder["key"].as_str().unwrap_or(""),
            bytes(&steps[0]) / 1024.0,
            bytes(&steps[1]) / 1024.0,
            (bytes(&steps[1]) - bytes(&steps[0])) / (counts[1] - counts[0])
        );
    }
    println!(
        "| total | {:.0} | {:.0} | {total:.0} |",
        per(&steps[0]) / 1024.0,
        per(&steps[1]) / 1024.0
    );
    write_json(
        options.common.json.as_deref(),
        &json!({"capacity": k, "settle": options.settle, "heaptrack": version(&options.heaptrack)?,
                "steps": steps}),
    )
}

/// One server under heaptrack with `n` idle members, killed; what it held, by holder.
async fn step(options: &Options, n: usize, asked: usize, trace: &Path) -> anyhow::Result<Value> {
    let started = Instant::now();
    let bin = &options.common.switchboard_bin;
    let launcher: Vec<OsString> = vec![options.heaptrack.clone().into(), "-o".into(), trace.into()];
    let config = switchboard_config(options.common.capacity);
    let mut server = ServerProcess::switchboard_under(&launcher, bin, &config)?;
    let held = crate::connections::open(
        Wire::Native,
        server.addr,
        n,
        options.common.capacity.max(2),
        options.concurrency,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs_f64(options.settle)).await;
    server.check_alive()?;
    // heaptrack is a shell script; the server is its child. SIGKILL: a server that
    // stops on its own frees its members first.
    let pid = child_running(server.pid(), bin)
        .with_context(|| format!("no {} running under heaptrack", bin.display()))?;
    // SAFETY: kill only sends a signal, to the server this step started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    for task in &held {
        task.abort();
    }
    // heaptrack then writes out what it recorded.
    server.wait_exit(Duration::from_secs(120)).await?;
    let file = written(trace)?;
    let output = Command::new(&options.heaptrack_print)
        .args([
            "--merge-backtraces",
            "0",
            "--print-leaks",
            "1",
            "--print-peaks",
            "0",
        ])
        .args([
            "--print-allocators",
            "0",
            "--print-temporary",
            "0",
            "--peak-limit",
            "1000000",
        ])
        .arg("--disable-builtin-suppressions")
        .arg("--file")
        .arg(&file)
        .output()
        .with_context(|| format!("cannot run {}", options.heaptrack_print.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "heaptrack_print failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = String::from_utf8_lossy(&output.stdout);
    let backtraces = parse(&listing)?;
    let listed: f64 = backtraces.iter().map(|b| b.bytes).sum();
    let holders: Vec<Value> = by_holder(&backtraces)
        .into_iter()
        .map(|h| json!({"key": h.key, "bytes": h.bytes, "sites": h.sites}))
        .collect();
    Ok(
        json!({"asked": asked, "n": n, "bytes": listed, "stated": total(&listing),
              "backtraces": backtraces.len(), "holders": holders,
              "seconds": started.elapsed().as_secs_f64()}),
    )
}

/// The child of `parent` running `bin`, by /proc/<pid>/stat (its parent) and
/// /proc/<pid>/exe.
fn child_running(parent: u32, bin: &Path) -> Option<u32> {
    let bin = std::fs::canonicalize(bin).ok()?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // After the command name (which may hold spaces and parentheses): state, ppid.
            let ppid: u32 = stat[stat.rfind(')')? + 2..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            (ppid == parent && exe == bin).then_some(pid)
        })
}

/// The file heaptrack wrote for `-o trace`: `trace` plus its compressor's extension.
fn written(trace: &Path) -> anyhow::Result<PathBuf> {
    let name = trace
        .file_name()
        .context("trace file name")?
        .to_string_lossy()
        .into_owned();
    let dir = trace.parent().context("trace directory")?;
    std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&format!("{name}.")))
        })
        .with_context(|| format!("heaptrack wrote no {}.*", trace.display()))
}

/// `heaptrack --version`'s line.
fn version(heaptrack: &Path) -> anyhow::Result<String> {
    let output = Command::new(heaptrack).arg("--version").output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
