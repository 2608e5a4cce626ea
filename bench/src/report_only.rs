//! `report --only`: one scenario's section (signal-fire, socketio, cluster, foglet or
//! heap) put into an existing BENCHMARKS.md in place, so that it can be measured again
//! without the whole suite; the other sections keep the figures of their last run. The
//! charts that set several scenarios side by side (memory-per-member.png, peers.png) and
//! the "Scale on paper" section are the full suite's: a run of one scenario has only its
//! own JSON, and redrawing them from it would drop the others' figures, so they stay as
//! the last full run left them (the signal-fire section still shows peers.png, when there
//! is one).

use crate::report::{load, Options};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The top of a section `--only` can write alone: its heading, then the date it was
/// measured and the run's note (both empty in the full suite, whose header has them).
pub fn heading(w: &mut String, heading: &str, date: &str, note: &str) -> std::fmt::Result {
    writeln!(w, "\n{heading}\n")?;
    if !date.is_empty() {
        writeln!(w, "Measured on {date}.")?;
    }
    if !note.is_empty() {
        writeln!(w, "**{note}**")?;
    }
    Ok(())
}

/// One scenario's section alone (signal-fire, socketio, cluster, foglet or heap), into the
/// existing markdown.
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
        "heap" => {
            // bench/run --only heap measures the RSS it is set beside in the same run.
            let conns = crate::report::load_optional(&options.results, "connections.json")?;
            crate::report_heap::section(
                &mut section,
                &results,
                conns.as_ref(),
                &commands,
                date,
                note,
            )?;
            // A first heap section goes after the idle connections', as in the full report.
            return update(
                &options.out,
                crate::report_heap::HEADING,
                &section,
                Some(IDLE),
            )
            .map(|()| println!("updated the heap section of {}", options.out.display()));
        }
        "cluster" => return only_cluster(options, &results, &commands),
        _ => anyhow::bail!("report --only takes signal-fire, socketio, cluster, foglet or heap"),
    };
    update(&options.out, heading, &section, None)?;
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
    update(&options.out, rc::HEADING, &section, None)?;
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

/// The section a first heap section follows.
const IDLE: &str = "## Idle connections";

/// Replaces the section under `heading` of the markdown at `out` with `section`; when the
/// file has none yet, puts it after the section under `after` (when given and there), else
/// before the commands.
fn update(out: &Path, heading: &str, section: &str, after: Option<&str>) -> anyhow::Result<()> {
    let md = std::fs::read_to_string(out)?;
    // Where the section under `heading` starts and where the next one does.
    let bounds = |heading: &str| {
        let heading = format!("\n{heading}\n");
        md.find(&heading).map(|at| {
            let rest = &md[at + heading.len()..];
            let end = rest
                .find("\n## ")
                .map_or(md.len(), |n| at + heading.len() + n);
            (at, end)
        })
    };
    let (before, after) = match (bounds(heading), after.and_then(bounds)) {
        (Some((at, end)), _) => (&md[..at], &md[end..]),
        (None, Some((_, end))) => (&md[..end], &md[end..]),
        (None, None) => {
            let at = md.find("\n## Commands").unwrap_or(md.len());
            (&md[..at], &md[at..])
        }
    };
    std::fs::write(out, format!("{before}{section}{after}"))?;
    Ok(())
}
