//! Attacks: what one hostile client costs a Switchboard binary in memory, and whether
//! the server ends its connection. Each attack (hostile.rs) runs against a fresh server
//! process, so that its peak RSS (VmHWM) is the attack's own; the server's RSS is
//! sampled throughout, and read again a while after the attacker has gone. A server
//! whose RSS passes the cap is killed, so that a binary without defences cannot take
//! the machine down; its peak is then reported as over the cap.

use crate::common::{rss_of, write_json, ServerProcess};
use crate::hostile::{self, Attack};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Options {
    /// A Switchboard binary to attack, as NAME=PATH (e.g. after=target/release/switchboard);
    /// repeat for several, in the order of the report's columns.
    #[arg(long = "binary", value_parser = binary, required = true)]
    binaries: Vec<(String, PathBuf)>,
    /// Attacks to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "huge-frame,ping-flood,continuations,pongs,slow-target"
    )]
    attacks: Vec<Attack>,
    /// Seconds each attack lasts, unless the server ends the attacker's connection first.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds after the attacker has gone before the server's RSS is read again.
    #[arg(long, default_value_t = 2.0)]
    after: f64,
    /// The server is killed once its RSS passes this many MiB.
    #[arg(long, default_value_t = 2048)]
    cap_mib: u64,
    /// Writes the figures here as JSON (for `report`).
    #[arg(long)]
    json: Option<PathBuf>,
}

fn binary(arg: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = arg.split_once('=').ok_or("expected NAME=PATH")?;
    Ok((name.to_string(), PathBuf::from(path)))
}

/// Every limit at its default, as an operator runs it, with memory storage. For the slow
/// target the request rate is lifted: what should stop its sender is the target's queue,
/// not the sender's own rate.
fn config(attack: Attack) -> String {
    let mut config = String::from(
        "[server]\nhost = \"127.0.0.1\"\nport = 0\ndevelopment = true\n\n\
         [storage]\nbackend = \"memory\"\n",
    );
    if attack == Attack::SlowTarget {
        config.push_str("\n[limits]\nrequests_per_second = 1000000\nrequest_burst = 1000000\n");
    }
    config
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    println!(
        "attacks: {:.1} s each, RSS again {:.1} s after the attacker has gone, cap {} MiB",
        options.duration, options.after, options.cap_mib
    );
    println!("| attack | binary | peak RSS MiB | RSS after MiB | ended by the server |\n|---|---|---|---|---|");
    let mut results = Vec::new();
    for &attack in &options.attacks {
        for (name, path) in &options.binaries {
            let mut result = attack_once(&options, attack, path).await?;
            print_row(attack, name, &result);
            result["attack"] = json!(attack.name());
            result["binary"] = json!(name);
            results.push(result);
        }
    }
    let binaries: Vec<_> = options
        .binaries
        .iter()
        .map(|(name, path)| json!({"name": name, "path": path}))
        .collect();
    write_json(
        options.json.as_deref(),
        &json!({"duration": options.duration, "after": options.after,
                "cap_mib": options.cap_mib, "binaries": binaries, "results": results}),
    )
}

/// One attack on a fresh server from `bin`.
async fn attack_once(options: &Options, attack: Attack, bin: &Path) -> anyhow::Result<Value> {
    let mut server = ServerProcess::switchboard(bin, &config(attack))?;
    let idle = server.rss()?;
    let sampler = Sampler::start(server.pid(), options.cap_mib * 1024 * 1024);
    let duration = Duration::from_secs_f64(options.duration);
    let outcome = hostile::run(attack, server.addr, duration).await;
    tokio::time::sleep(Duration::from_secs_f64(options.after)).await;
    let (after, hwm) = (server.rss().ok(), server.peak_rss().ok());
    let (sampled, capped_after) = sampler.stop();
    let capped = capped_after.is_some();
    let exited = server.check_alive().err().map(|e| e.to_string());
    // An attack that fails because the bench killed the server is the figure itself.
    let outcome = match (outcome, capped) {
        (Ok(outcome), false) => Some(outcome),
        (Err(e), false) => {
            return Err(e.context(format!("{} against {}", attack.name(), bin.display())))
        }
        (_, true) => None,
    };
    Ok(json!({
        "idle_rss": idle,
        "peak_rss": hwm.unwrap_or(0).max(sampled),
        "after_rss": if capped { None } else { after },
        "capped": capped,
        "capped_after": capped_after.map(|d| d.as_secs_f64()),
        "exited": if capped { None } else { exited },
        "ended_after": outcome.as_ref().and_then(|o| o.ended).map(|d| d.as_secs_f64()),
        "detail": outcome.map_or(Value::Null, |o| o.detail),
    }))
}

fn print_row(attack: Attack, binary: &str, result: &Value) {
    let mib = |v: &Value| {
        v.as_f64()
            .map_or("-".into(), |b| format!("{:.1}", b / 1048576.0))
    };
    let peak = if result["capped"] == true {
        format!("> cap ({})", mib(&result["peak_rss"]))
    } else {
        mib(&result["peak_rss"])
    };
    let ended = match (&result["ended_after"], result["capped"] == true) {
        (_, true) => format!(
            "killed at the cap after {:.2} s",
            result["capped_after"].as_f64().unwrap_or(f64::NAN)
        ),
        (Value::Null, _) => "no".to_string(),
        (secs, _) => format!("yes, after {:.2} s", secs.as_f64().unwrap_or(f64::NAN)),
    };
    println!(
        "| {} | {binary} | {peak} | {} | {ended} | {}",
        attack.name(),
        mib(&result["after_rss"]),
        result["detail"]
    );
}

/// Samples a process's VmRSS every 10 ms on its own thread (the attack keeps the
/// runtime's threads busy), keeping the highest, and kills the process past `cap`.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, Option<Duration>)>,
}

impl Sampler {
    fn start(pid: u32, cap: u64) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let started = std::time::Instant::now();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopped.load(Ordering::Relaxed) {
                let Ok(rss) = rss_of(pid) else { break };
                peak = peak.max(rss);
                if rss > cap {
                    // SAFETY: kill(2) on our own child, which has not been waited for.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                    return (peak, Some(started.elapsed()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (peak, None)
        });
        Sampler { stop, thread }
    }

    /// The highest RSS seen, and when the process was killed for passing the cap (from
    /// the sampler's start), if it was.
    fn stop(self) -> (u64, Option<Duration>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, None))
    }
}
