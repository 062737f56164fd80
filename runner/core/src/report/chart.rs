//! SVG charts of `report.html`, drawn with plotters' SVG backend.
//!
//! Each chart is an inline `<svg>` element (the `xmlns` attribute dropped:
//! HTML parsers place `<svg>` in the SVG namespace themselves, and the
//! page names no URL). The same data draws the same bytes.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::ErrorClass;

/// Width and height of every chart, pixels.
const SIZE: (u32, u32) = (600, 320);
/// The first series' colour, and the colour of `ok` completions.
pub const BLUE: RGBColor = RGBColor(0x1f, 0x6f, 0xb4);
/// The second series' colour.
pub const ORANGE: RGBColor = RGBColor(0xe0, 0x7b, 0x0f);
/// Errors.
const RED: RGBColor = RGBColor(0xc6, 0x28, 0x28);
/// Output tokens, on a secondary axis.
const GREEN: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
/// Text and axes.
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Font of captions, tick labels and axis descriptions, pixels.
const CAPTION_PX: u32 = 20;
const LABEL_PX: u32 = 15;
const DESC_PX: u32 = 16;
/// Radius of the marker of a one-point series, pixels.
const MARKER_PX: u32 = 4;

/// A chart that could not be drawn: the backend's message.
pub type ChartResult = Result<String, String>;

/// A named line through points, in the order given.
pub struct Line {
    /// Its legend entry.
    pub label: String,
    /// Its colour.
    pub colour: RGBColor,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// A histogram bar: `[low, high)` on x, a count on y.
pub(super) struct Bar {
    /// Lower edge.
    pub low: f64,
    /// Upper edge.
    pub high: f64,
    /// Samples in it.
    pub count: u64,
}

/// One interval of a timeline.
pub(super) struct Interval {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Completions of each class, in [`ErrorClass::ALL`] order.
    pub by_class: [u64; 7],
    /// Output tokens per second of its `ok` completions.
    pub tokens_per_s: f64,
}

/// Renders with `draw` onto a fresh white SVG canvas.
fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> ChartResult {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
}

/// `0..max` padded by a tenth, never empty.
fn upto(max: f64) -> Range<f64> {
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    0.0..top
}

/// An axis label: few digits, trailing zeros cut.
fn tick(v: &f64) -> String {
    let text = match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `0..max` padded by `extra` per mille (room for a legend), never empty.
fn counts_upto(max: u64, extra: u64) -> Range<u64> {
    0..(max + max * extra / 1000).max(max + 1)
}

/// Lines on shared axes (CDFs: x a latency, y a share from 0 to 1). A
/// series of one point is drawn as a marker.
pub fn lines(title: &str, x_desc: &str, y_desc: &str, series: &[Line]) -> ChartResult {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    svg(|root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", CAPTION_PX).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(upto(x_max), 0.0..y_max.max(1.0))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .max_light_lines(1)
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", DESC_PX))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()
            .map_err(|e| err(&e))?;
        for line in series {
            let colour = line.colour;
            let drawn = if let [point] = line.points.as_slice() {
                // A line through one point draws nothing: a marker shows it.
                chart.draw_series(std::iter::once(Circle::new(
                    *point,
                    MARKER_PX,
                    colour.filled(),
                )))
            } else {
                chart.draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    colour.stroke_width(2),
                ))
            };
            drawn
                .map_err(|e| err(&e))?
                .label(line.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .label_font(("sans-serif", LABEL_PX))
            .draw()
            .map_err(|e| err(&e))?;
        Ok(())
    })
}

/// A histogram.
pub(super) fn histogram(title: &str, x_desc: &str, bars: &[Bar]) -> ChartResult {
    let x_min = bars.iter().map(|b| b.low).fold(f64::INFINITY, f64::min);
    let x_max = bars.iter().map(|b| b.high).fold(0.0, f64::max);
    let x_min = if x_min.is_finite() { x_min } else { 0.0 };
    // A single-valued histogram has a bar of width 0: widen the axis.
    let x_range = if x_max > x_min {
        x_min..x_max
    } else {
        (x_min - 0.5).max(0.0)..x_min + 0.5
    };
    let y_max = bars.iter().map(|b| b.count).max().unwrap_or(0);
    svg(|root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", CAPTION_PX).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range, counts_upto(y_max, 100))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .max_light_lines(1)
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", DESC_PX))
            .x_desc(x_desc)
            .y_desc("samples")
            .x_label_formatter(&tick)
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(bars.iter().map(|b| {
                let high = if b.high > b.low { b.high } else { b.low + 0.5 };
                Rectangle::new([(b.low, 0), (high, b.count)], BLUE.filled())
            }))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(
                bars.iter().map(|b| {
                    Rectangle::new([(b.low, 0), (b.high, b.count)], WHITE.stroke_width(1))
                }),
            )
            .map_err(|e| err(&e))?;
        Ok(())
    })
}

/// The colour of each class in [`ErrorClass::ALL`] order: `ok` blue, the
/// error classes warm or dark so that they stand out.
const CLASS_COLOURS: [RGBColor; 7] = [
    BLUE,
    RGBColor(255, 140, 0),
    MAGENTA,
    RED,
    BLACK,
    RGBColor(0, 150, 150),
    RGBColor(150, 110, 0),
];

/// Completions per interval stacked by class (`ok` and each error class)
/// with output tokens per second on a secondary axis.
pub(super) fn timeline(intervals: &[Interval]) -> ChartResult {
    let x_max = intervals.iter().map(|i| i.end).fold(0.0, f64::max);
    let total = |i: &Interval| i.by_class.iter().sum::<u64>();
    let y_max = intervals.iter().map(total).max().unwrap_or(0);
    let tokens_max = intervals.iter().map(|i| i.tokens_per_s).fold(0.0, f64::max);
    svg(|root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Completions by class over time",
                ("sans-serif", CAPTION_PX).into_font().color(&INK),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .right_y_label_area_size(64)
            .build_cartesian_2d(upto(x_max), counts_upto(y_max, 700))
            .map_err(|e| err(&e))?
            .set_secondary_coord(upto(x_max), 0.0..tokens_max.max(1.0) * 1.7);
        chart
            .configure_mesh()
            .max_light_lines(1)
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", DESC_PX))
            .x_desc("seconds since the first send")
            .y_desc("requests ended")
            .x_label_formatter(&tick)
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .configure_secondary_axes()
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", DESC_PX))
            .y_desc("output tokens/s")
            .y_label_formatter(&tick)
            .draw()
            .map_err(|e| err(&e))?;
        for (k, (class, colour)) in ErrorClass::ALL.iter().zip(CLASS_COLOURS).enumerate() {
            if intervals.iter().all(|i| i.by_class[k] == 0) {
                continue;
            }
            let below = |i: &Interval| i.by_class[..k].iter().sum::<u64>();
            chart
                .draw_series(intervals.iter().map(|i| {
                    Rectangle::new(
                        [(i.start, below(i)), (i.end, below(i) + i.by_class[k])],
                        colour.filled(),
                    )
                }))
                .map_err(|e| err(&e))?
                .label(class.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        chart
            .draw_series(
                intervals
                    .iter()
                    .map(|i| Rectangle::new([(i.start, 0), (i.end, total(i))], WHITE)),
            )
            .map_err(|e| err(&e))?;
        chart
            .draw_secondary_series(LineSeries::new(
                intervals
                    .iter()
                    .map(|i| ((i.start + i.end) / 2.0, i.tokens_per_s)),
                GREEN.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label("output tokens/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], GREEN.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .label_font(("sans-serif", LABEL_PX))
            .draw()
            .map_err(|e| err(&e))?;
        Ok(())
    })
}

/// Latency lines and a throughput line against achieved load: x is
/// requests/s, latency lines on the left axis (ms), `throughput` on the
/// right (tokens/s). Every point is marked, as a load may have one point.
pub(super) fn against_load(latency: &[Line], throughput: &Line) -> ChartResult {
    let all = latency.iter().chain(std::iter::once(throughput));
    let x_max = all
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let y_max = latency
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let tokens_max = throughput.points.iter().map(|p| p.1).fold(0.0, f64::max);
    svg(|root| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency and throughput against load",
                ("sans-serif", CAPTION_PX).into_font().color(&INK),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .right_y_label_area_size(64)
            .build_cartesian_2d(upto(x_max), upto(y_max))
            .map_err(|e| err(&e))?
            .set_secondary_coord(upto(x_max), upto(tokens_max));
        chart
            .configure_mesh()
            .max_light_lines(1)
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", DESC_PX))
            .x_desc("achieved requests/s (sent)")
            .y_desc("E2E (ms)")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .configure_secondary_axes()
            .label_style(("sans-serif", LABEL_PX))
            .axis_desc_style(("sans-serif", DESC_PX))
            .y_desc("output tokens/s (steady state)")
            .y_label_formatter(&tick)
            .draw()
            .map_err(|e| err(&e))?;
        for line in latency {
            let colour = line.colour;
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(line.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(
                    line.points
                        .iter()
                        .map(|&p| Circle::new(p, 4, colour.filled())),
                )
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_secondary_series(LineSeries::new(
                throughput.points.iter().copied(),
                GREEN.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(throughput.label.as_str())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], GREEN.stroke_width(2)));
        chart
            .draw_secondary_series(
                throughput
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 4, GREEN.filled())),
            )
            .map_err(|e| err(&e))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .label_font(("sans-serif", LABEL_PX))
            .draw()
            .map_err(|e| err(&e))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_keep_few_digits() {
        assert_eq!(tick(&1234.5), "1234");
        assert_eq!(tick(&12.34), "12.3");
        assert_eq!(tick(&0.5), "0.5");
        assert_eq!(tick(&2.0), "2");
    }

    #[test]
    fn a_chart_is_inline_svg_naming_no_url() {
        let svg = lines(
            "t",
            "x",
            "y",
            &[Line {
                label: "a<b".into(),
                colour: BLUE,
                points: vec![(0.0, 0.0), (1.0, 1.0)],
            }],
        )
        .expect("draws");
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(!svg.contains("http"), "{svg}");
        assert!(svg.contains("a&lt;b"), "legend text is escaped");
    }

    #[test]
    fn a_series_of_one_point_is_drawn_as_a_marker() {
        let draw = |points: Vec<(f64, f64)>| {
            lines(
                "t",
                "x",
                "y",
                &[Line {
                    label: "one".into(),
                    colour: BLUE,
                    points,
                }],
            )
            .expect("draws")
        };
        let one = draw(vec![(0.5, 0.5)]);
        assert!(one.contains("<circle"), "{one}");
        assert!(one.contains("#1F6FB4") || one.contains("#1f6fb4"), "{one}");
        // Two or more points: a line, no marker.
        let two = draw(vec![(0.0, 0.0), (1.0, 1.0)]);
        assert!(!two.contains("<circle"), "{two}");
        assert!(two.contains("<polyline"), "{two}");
    }
}
