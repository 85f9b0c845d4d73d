//! The report's pictures: SVG charts drawn with plotters, written next to the
//! report and embedded in it.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One line of a line chart: a name, its (x, y) points, and a note written
/// beside each point (empty: none), e.g. how many of its claims failed.
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) notes: Vec<String>,
}

const SIZE: (u32, u32) = (720, 420);

/// Distinct colours that stay readable when printed in grey.
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// Draws the legend at `position` and writes the file.
fn finish<'a, CT: CoordTranslate>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(draw_err)?;
    root.present().map_err(draw_err)
}

/// Lines over an x axis in log scale (e.g. concurrency 1, 8, 32, 60), so
/// equal ratios get equal distances; the axis is labelled exactly at the
/// measured x values, and nowhere else.
pub(crate) fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[Line],
) -> Result<()> {
    let mut xs: Vec<f64> = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|&(x, _)| x))
        .filter(|x| *x > 0.0)
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let (Some(&x_min), Some(&x_max)) = (xs.first(), xs.last()) else {
        return Err(anyhow!("chart {title}: no points"));
    };
    let y_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|&(_, y)| y))
        .fold(0.0, f64::max)
        * 1.15;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    // A little room left and right of the outermost points, in log terms.
    let x_range = (x_min / 1.4..x_max * 1.4)
        .log_scale()
        .with_key_points(xs.clone());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, 0.0..y_max.max(1.0))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{x}"))
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(draw_err)?;
    let note_style =
        TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    for (i, line) in lines.iter().enumerate() {
        let c = colour(i);
        let points: Vec<(f64, f64)> = line.points.iter().copied().filter(|p| p.0 > 0.0).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(draw_err)?
            .label(line.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))
            .map_err(draw_err)?;
        let notes = points
            .iter()
            .zip(&line.notes)
            .filter(|(_, n)| !n.is_empty())
            .map(|(&p, n)| Text::new(n.clone(), p, note_style.clone().color(&c)));
        chart.draw_series(notes).map_err(draw_err)?;
    }
    finish(&root, &mut chart, SeriesLabelPosition::UpperLeft)
}

/// Grouped bars: for each group (e.g. apply, plan, destroy) one bar per series
/// (e.g. one by one, coalesced), with its value written above it.
pub(crate) fn grouped_bars(
    path: &Path,
    title: &str,
    y_label: &str,
    groups: &[&str],
    series: &[(&str, Vec<f64>)],
) -> Result<()> {
    let y_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max)
        * 1.45; // room for the value labels and the legend above the bars
                // Group g is centred on x = g and one unit wide: one slot per series plus one
                // slot of gap, half on each side.
    let slot = 1.0 / (series.len() as f64 + 1.0);
    let left = |g: usize, s: usize| g as f64 - 0.5 + slot * (s as f64 + 0.5);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..groups.len() as f64 - 0.5, 0.0..y_max.max(0.1))
        .map_err(draw_err)?;
    let names = groups.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len())
        .x_label_formatter(&move |x| {
            let g = x.round();
            if (x - g).abs() < 0.01 && g >= 0.0 {
                names
                    .get(g as usize)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .draw()
        .map_err(draw_err)?;
    let label_style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (s, (name, values)) in series.iter().enumerate() {
        let c = colour(s);
        let bars = values.iter().enumerate().map(|(g, &v)| {
            let x0 = left(g, s);
            Rectangle::new([(x0, 0.0), (x0 + slot * 0.9, v)], c.filled())
        });
        chart
            .draw_series(bars)
            .map_err(draw_err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        let labels = values.iter().enumerate().map(|(g, &v)| {
            let centre = left(g, s) + slot * 0.45;
            Text::new(format!("{v:.2}"), (centre, v), label_style.clone())
        });
        chart.draw_series(labels).map_err(draw_err)?;
    }
    finish(&root, &mut chart, SeriesLabelPosition::UpperRight)
}
