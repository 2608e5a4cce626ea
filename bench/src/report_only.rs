//! `report --only`: one scenario's section (signal-fire, socketio, cluster or foglet) put into an
//! existing BENCHMARKS.md in place, so that it can be measured again without the whole
//! suite; the other sections keep the figures of their last run. The charts that set
//! several scenarios side by side (memory-per-member.png, peers.png) and the "Scale on
//! paper" section are the full suite's: a run of one scenario has only its own JSON, and
//! redrawing them from it would drop the others' figures, so they stay as the last full
//! run left them (the signal-fire section still shows peers.png, when there is one).

use crate::report::{load, Options};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// One scenario's section alone (signal-fire, socketio, cluster or foglet), into the existing
/// markdown.
pub fn run(options: &Options, scenario: &str) -> anyhow::Result<()> {
    let results = load(&options.results, &format!("{scenario}.json"))?;
    let commands = std::fs::read_to_string(&options.commands)?;
    let (date, note) = (&options.date, &options.note);
    let mut section = String::new();
    let heading = match scenario {
        "signal-fire" => {
            crate::report_signal_fire::section(&mut section, &results, &commands, date, note)?;
            let peers = crate::report_charts::PEERS;
            if options.charts.join(peers).exists() {
                writeln!(section, "\n{} (Drawn by the last full run of `bench/run`, not by this one.)\n\n![peers]({}/{peers})",
                    crate::report::PEERS_TEXT, options.charts_link)?;
            }
            crate::report_signal_fire::HEADING
        }
        "socketio" => {
            crate::report_socketio::section(&mut section, &results, &commands, date, note)?;
            crate::report_socketio::HEADING
        }
        "foglet" => {
            crate::report_foglet::section(&mut section, &results, &commands, date, note)?;
            crate::report_foglet::HEADING
        }
        "cluster" => return only_cluster(options, &results, &commands),
        _ => anyhow::bail!("report --only takes signal-fire, socketio, cluster or foglet"),
    };
    update(&options.out, heading, &section)?;
    println!(
        "updated the {scenario} section of {}",
        options.out.display()
    );
    Ok(())
}

/// The cluster's section and its rows of the summary, into the existing markdown; its
/// charts.
fn only_cluster(options: &Options, cluster: &Value, commands: &str) -> anyhow::Result<()> {
    use crate::report_cluster as rc;
    crate::charts::with_font(&options.charts, |dir| rc::charts(cluster, dir))?;
    let mut section = String::new();
    let (date, note, link) = (&options.date, &options.note, &options.charts_link);
    rc::section(&mut section, cluster, commands, date, note, link)?;
    update(&options.out, rc::HEADING, &section)?;
    let mut rows = String::new();
    crate::report_cluster_summary::rows(&mut rows, cluster, date)?;
    let md = std::fs::read_to_string(&options.out)?;
    let md = crate::report_cluster_summary::update_summary(&md, &rows);
    std::fs::write(&options.out, md)?;
    println!(
        "updated the cluster section and summary rows of {}",
        options.out.display()
    );
    Ok(())
}

/// Replaces the section under `heading` of the markdown at `out` with `section` (or puts
/// it before the commands, when the file has none yet).
fn update(out: &Path, heading: &str, section: &str) -> anyhow::Result<()> {
    let md = std::fs::read_to_string(out)?;
    let heading = format!("\n{heading}\n");
    let (before, after) = match md.find(&heading) {
        Some(at) => {
            let rest = &md[at + heading.len()..];
            let end = rest
                .find("\n## ")
                .map_or(md.len(), |n| at + heading.len() + n);
            (&md[..at], &md[end..])
        }
        None => {
            let at = md.find("\n## Commands").unwrap_or(md.len());
            (&md[..at], &md[at..])
        }
    };
    std::fs::write(out, format!("{before}{section}{after}"))?;
    Ok(())
}
