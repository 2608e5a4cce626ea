//! The charts of BENCHMARKS.md, from the scenarios' JSON: Switchboard and the bare
//! relay as two series on each of the relay's and the connections' (the connections'
//! also the actix-ws echo server), the layouts of the cluster's relay (one node, same
//! node, cross node) on the cluster's.

use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub const SWITCHBOARD: RGBColor = RGBColor(200, 60, 40);
pub const BARE: RGBColor = RGBColor(40, 90, 180);
pub const THIRD: RGBColor = RGBColor(40, 150, 70);

pub fn points(v: &Value) -> Vec<(f64, f64)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| (f(&p[0]), f(&p[1])))
        .collect()
}

/// Runs `draw` on `dir` (made if missing), with the font every chart uses registered.
pub fn with_font(dir: &Path, draw: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let font: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
    let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, font);
    draw(dir)
}

pub fn latency_chart(relay: &Value, path: &Path) -> anyhow::Result<()> {
    let open = &relay["open"];
    let title = format!(
        "Relay latency at {:.0} msgs/s, {} pairs (open loop)",
        f(&open["rate"]),
        open["pairs"]
    );
    let series = [
        (
            "Switchboard",
            points(&open["switchboard"]["curve"]),
            SWITCHBOARD,
        ),
        ("bare relay", points(&open["bare"]["curve"]), BARE),
    ];
    percentile_chart(&title, series.to_vec(), path)
}

/// A series: its name in the legend, its points, its colour.
pub type Series = (&'static str, Vec<(f64, f64)>, RGBColor);

/// Latency curves (ms, log scale) against "nines" (1 is p90, 2 is p99, 3 is p99.9).
pub fn percentile_chart(title: &str, series: Vec<Series>, path: &Path) -> anyhow::Result<()> {
    let top = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(0.01, f64::max)
        * 1.1;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..4f64, (0.001f64..top).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, ms (log)")
        .x_label_formatter(&|x| match (*x * 100.0).round() as i64 {
            0 => "p0".into(),
            100 => "p90".into(),
            200 => "p99".into(),
            300 => "p99.9".into(),
            400 => "p99.99".into(),
            _ => String::new(),
        })
        .x_labels(5)
        .label_style(("sans-serif", 15))
        .draw()?;
    // A log axis has no zero: the fastest samples sit on its floor.
    let floor = |v: Vec<(f64, f64)>| v.into_iter().map(|(x, y)| (x, y.max(0.001))).collect();
    let series = series
        .into_iter()
        .map(|(n, v, c)| (n, floor(v), c))
        .collect();
    draw_lines(&mut chart, series, false, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

pub fn throughput_chart(relay: &Value, path: &Path) -> anyhow::Result<()> {
    let steps: Vec<_> = relay["closed"].as_array().cloned().unwrap_or_default();
    let series = |t: &str| -> Vec<(f64, f64)> {
        steps
            .iter()
            .map(|s| (f(&s["pairs"]).max(1.0), f(&s[t])))
            .collect()
    };
    let title = format!(
        "Relay throughput, closed loop ({} in flight per direction)",
        relay["window"]
    );
    let series = vec![
        ("Switchboard", series("switchboard"), SWITCHBOARD),
        ("bare relay", series("bare"), BARE),
    ];
    pairs_chart(&title, series, path)
}

/// Messages per second against pairs (log scale), a dot at each measured point.
pub fn pairs_chart(title: &str, series: Vec<Series>, path: &Path) -> anyhow::Result<()> {
    let all = || series.iter().flat_map(|s| s.1.iter());
    let xmax = all().map(|p| p.0).fold(2.0, f64::max) * 1.5;
    let ymax = all().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d((0.8f64..xmax).log_scale(), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("pairs (log)")
        .y_desc("messages/s")
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    draw_lines(&mut chart, series, true, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

pub fn rss_chart(conns: &Value, path: &Path) -> anyhow::Result<()> {
    let steps: Vec<_> = conns["steps"].as_array().cloned().unwrap_or_default();
    let series = |t: &str| -> Vec<(f64, f64)> {
        let mut v = vec![(
            0.0,
            steps.first().map_or(0.0, |s| f(&s[t]["base"]) / 1048576.0),
        )];
        v.extend(
            steps
                .iter()
                .map(|s| (f(&s["n"]), f(&s[t]["rss"]) / 1048576.0)),
        );
        v
    };
    let mut lines = vec![
        ("Switchboard", series("switchboard"), SWITCHBOARD),
        ("bare relay", series("bare"), BARE),
    ];
    // The actix-ws echo server, in the runs that measured it.
    if steps.iter().all(|s| s["actix-echo"].is_object()) {
        lines.push(("actix-ws echo", series("actix-echo"), THIRD));
    }
    let all = || lines.iter().flat_map(|l| l.1.iter());
    let xmax = all().map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let ymax = all().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Server RSS against idle connections", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("idle attendees (bare relay, actix-ws echo: connections)")
        .y_desc("VmRSS, MiB")
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    draw_lines(&mut chart, lines, true, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// Each series as a line (with dots at the measured points when `dots`), and the
/// legend naming them.
fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    series: Vec<Series>,
    dots: bool,
    legend: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (name, data, color) in series {
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if dots {
            chart.draw_series(data.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(legend)
        .draw()?;
    Ok(())
}
