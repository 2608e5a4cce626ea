//! Grouped bar charts for BENCHMARKS.md (memory-per-member.png, peers.png): groups along
//! the x axis, in each the bars of the servers measured there, side by side, each with
//! its value written above it, so that a short bar beside a tall one still reads.
//! plotters has no grouped bars of its own: the bars are rectangles on an x axis of one
//! unit per group, and the group names are drawn under the axis by hand.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One group of bars: its name under the axis (one line per entry), and its bars as
/// (index into the chart's series, value). Missing and NaN values draw no bar.
pub struct Group {
    pub label: Vec<String>,
    pub bars: Vec<(usize, f64)>,
}

/// The chart's series: name in the legend and colour.
pub type Legend = (&'static str, RGBColor);

/// The highest bar of `groups` (0 when none).
pub fn top(groups: &[Group]) -> f64 {
    groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|b| b.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Draws `groups` on `area`, under `title`, the y axis running to `ymax` and above it
/// the room that the values over the bars and the legend take; values written with
/// `decimals` places.
pub fn grouped_bars(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    y_desc: &str,
    series: &[Legend],
    groups: &[Group],
    ymax: f64,
    decimals: usize,
) -> anyhow::Result<()> {
    let groups: Vec<Group> = groups
        .iter()
        .map(|g| Group {
            label: g.label.clone(),
            bars: g.bars.iter().copied().filter(|b| b.1.is_finite()).collect(),
        })
        .collect();
    let widest = groups
        .iter()
        .map(|g| g.bars.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let width = 0.8 / widest as f64;
    let lines = groups.iter().map(|g| g.label.len()).max().unwrap_or(1) as u32;
    // Room above the bars for their values and for the legend (a line per series shown),
    // so that neither covers a bar.
    let shown = (0..series.len())
        .filter(|s| groups.iter().any(|g| g.bars.iter().any(|b| b.0 == *s)))
        .count();
    let x_area = 12 + 18 * lines;
    let plot_px = f64::from(area.dim_in_pixel().1) - 70.0 - f64::from(x_area);
    let legend_px = 22.0 * shown as f64 + 30.0;
    let ceiling = ymax.max(1e-9) / (1.0 - (legend_px / plot_px).min(0.6)) * 1.05;
    // One group or two would make bars as wide as the chart: the axis has room for three.
    let pad = 3usize.saturating_sub(groups.len()) as f64 / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(x_area)
        .y_label_area_size(65)
        .build_cartesian_2d(-pad..groups.len().max(1) as f64 + pad, 0f64..ceiling)?;
    let decimals_y = if ceiling >= 20.0 { 0 } else { 1 };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|y| format!("{y:.decimals_y$}"))
        .y_desc(y_desc)
        .label_style(("sans-serif", 15))
        .draw()?;
    // Each bar's x range: the group's bars side by side, centred in the group.
    let placed = |g: usize, k: usize, n: usize| {
        let left = g as f64 + 0.5 - n as f64 * width / 2.0 + k as f64 * width;
        (left + width * 0.05, left + width * 0.95)
    };
    for (s, &(name, colour)) in series.iter().enumerate() {
        let mut bars = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let n = group.bars.len();
            for (k, &(_, value)) in group.bars.iter().enumerate().filter(|b| b.1 .0 == s) {
                bars.push((placed(g, k, n), value));
            }
        }
        if bars.is_empty() {
            continue;
        }
        chart
            .draw_series(
                bars.iter()
                    .map(|&((x0, x1), v)| Rectangle::new([(x0, 0.0), (x1, v)], colour.filled())),
            )?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        let above = TextStyle::from(("sans-serif", 13).into_font())
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(bars.iter().map(|&((x0, x1), v)| {
            EmptyElement::at(((x0 + x1) / 2.0, v))
                + Text::new(format!("{v:.decimals$}"), (0, -3), above.clone())
        }))?;
    }
    let under =
        TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (g, group) in groups.iter().enumerate() {
        for (line, text) in group.label.iter().enumerate() {
            chart.plotting_area().draw(
                &(EmptyElement::at((g as f64 + 0.5, 0.0))
                    + Text::new(text.clone(), (0, 6 + 18 * line as i32), under.clone())),
            )?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}
