//! Charts as inline SVG, drawn with plotters' SVG backend (text stays
//! `<text>` for the browser to lay out, so no font library is needed).
//! Every time chart shares one frame: the run's phases as labelled bands,
//! each fault window shaded red and named, the deadline as a line. Charts
//! take plain series in and give an SVG string out; legends live in the
//! HTML around them, where the browser lays text out without overlap.

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use crate::summary::{FaultInfo, PhaseInfo};

/// Chart size in pixels (the SVG scales to the page width).
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 300;
pub const SMALL_HEIGHT: u32 = 190;

/// Left margin holding the y labels; the plot's x extent follows from it.
const Y_LABELS: u32 = 64;
const X_LABELS: u32 = 36;
const MARGIN: u32 = 10;

/// Tableau 20: distinct, colour-blind-aware, and enough for a dozen steps.
const PALETTE: [RGBColor; 20] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x79, 0x70, 0x6e),
    RGBColor(0xa0, 0xcb, 0xe8),
    RGBColor(0xff, 0xbe, 0x7d),
    RGBColor(0x8c, 0xd1, 0x7d),
    RGBColor(0xff, 0x9d, 0x9a),
    RGBColor(0x49, 0x98, 0x94),
    RGBColor(0xb6, 0x99, 0x2d),
    RGBColor(0xd4, 0xa6, 0xc8),
    RGBColor(0xfa, 0xbf, 0xd2),
    RGBColor(0xd7, 0xb5, 0xa6),
    RGBColor(0xba, 0xb0, 0xac),
];

/// The `i`-th colour of the palette (steps, channels and error classes are
/// numbered once, so a step keeps its colour on every chart).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `#rrggbb`, for legends in HTML.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

const FAULT: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const BAND: RGBColor = RGBColor(0xf0, 0xf0, 0xf0);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// A named series of points.
#[derive(Clone, Debug)]
pub struct Line {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// What every time chart shows behind its series.
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    /// Length of the x axis, seconds.
    pub seconds: f64,
    pub phases: &'a [PhaseInfo],
    pub faults: &'a [FaultInfo],
    pub deadline_s: f64,
}

impl Frame<'_> {
    /// A fault's window as carried out (as planned when not recorded).
    pub fn window(f: &FaultInfo) -> (f64, f64) {
        (
            f.applied_s.unwrap_or(f.start_s),
            f.removed_s.unwrap_or(f.end_s),
        )
    }
}

/// The y axis of a time chart.
#[derive(Clone, Copy, Debug)]
pub enum Scale {
    /// From 0 to a little above the largest value.
    Linear,
    /// Logarithmic, for latencies spanning decades.
    Log,
}

/// `m:ss` (or `h:mm:ss`) for the time axis.
pub fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A value on a latency axis, in milliseconds.
fn ms_label(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", trim(v / 1000.0))
    } else {
        format!("{}ms", trim(v))
    }
}

fn trim(v: f64) -> String {
    if v >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn count_label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else {
        trim(v)
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Runs a drawing, turning plotters' errors into the chart's place in the
/// page: a report never fails because one chart could not be drawn.
fn svg(height: u32, draw: impl FnOnce(&Area) -> Result<(), String>) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => buf,
        Err(e) => format!("<p class=\"note\">chart not drawn: {}</p>", super::esc(&e)),
    }
}

/// Width of the plot area in pixels, to decide which labels fit.
fn plot_width() -> f64 {
    f64::from(WIDTH - Y_LABELS - 2 * MARGIN)
}

/// Lines over the run's time, with the frame behind them.
pub fn time_lines(
    frame: &Frame,
    y_desc: &str,
    scale: Scale,
    height: u32,
    lines: &[Line],
) -> String {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    svg(height, |root| match scale {
        Scale::Linear => {
            let top = nice_top(max);
            let mut chart = builder(root)
                .build_cartesian_2d(0f64..frame.seconds.max(1.0), 0f64..top)
                .map_err(|e| e.to_string())?;
            time_mesh(&mut chart, y_desc)
                .y_label_formatter(&|y| count_label(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            decorate(&mut chart, frame, 0.0, top)?;
            draw_lines(&mut chart, lines)?;
            label(&mut chart, frame, 0.0, top)
        }
        Scale::Log => {
            let (lo, top) = log_range(lines);
            let mut chart = builder(root)
                .build_cartesian_2d(0f64..frame.seconds.max(1.0), (lo..top).log_scale())
                .map_err(|e| e.to_string())?;
            time_mesh(&mut chart, y_desc)
                .y_label_formatter(&|y| ms_label(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            decorate(&mut chart, frame, lo, top)?;
            let clipped: Vec<Line> = lines
                .iter()
                .map(|l| Line {
                    points: l.points.iter().filter(|p| p.1 > 0.0).copied().collect(),
                    ..l.clone()
                })
                .collect();
            draw_lines(&mut chart, &clipped)?;
            label(&mut chart, frame, lo, top)
        }
    })
}

/// Layers stacked on each other (errors by class), one value per x.
pub fn time_stacked(frame: &Frame, y_desc: &str, layers: &[Line]) -> String {
    let mut cumulative: Vec<Line> = Vec::with_capacity(layers.len());
    for layer in layers {
        let points = match cumulative.last() {
            None => layer.points.clone(),
            Some(below) => layer
                .points
                .iter()
                .zip(&below.points)
                .map(|(p, b)| (p.0, p.1 + b.1))
                .collect(),
        };
        cumulative.push(Line {
            points,
            ..layer.clone()
        });
    }
    let max = cumulative
        .last()
        .map_or(0.0, |l| l.points.iter().map(|p| p.1).fold(0.0, f64::max));
    svg(HEIGHT, |root| {
        let top = nice_top(max);
        let mut chart = builder(root)
            .build_cartesian_2d(0f64..frame.seconds.max(1.0), 0f64..top)
            .map_err(|e| e.to_string())?;
        time_mesh(&mut chart, y_desc)
            .y_label_formatter(&|y| count_label(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        decorate(&mut chart, frame, 0.0, top)?;
        // Top layer first, so each lower layer paints over the part of the
        // one above that is not its own.
        for layer in cumulative.iter().rev() {
            chart
                .draw_series(AreaSeries::new(
                    layer.points.iter().copied(),
                    0.0,
                    layer.color.mix(0.85),
                ))
                .map_err(|e| e.to_string())?;
        }
        label(&mut chart, frame, 0.0, top)
    })
}

/// Values over a history of runs (x: run 1 to n, oldest first): each line
/// with a dot per run; `moved` runs ringed in red (where a trend moved
/// beyond noise), `current` (this run) ringed in ink. Latencies (in ms)
/// go on a log axis, where a slow channel does not flatten the others.
pub fn runs(
    y_desc: &str,
    scale: Scale,
    lines: &[Line],
    moved: &[usize],
    current: Option<usize>,
) -> String {
    let n = lines
        .iter()
        .map(|l| l.points.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let x = 0.5f64..n as f64 + 0.5;
    let run_label = |x: &f64| format!("{x:.0}");
    svg(SMALL_HEIGHT, |root| match scale {
        Scale::Linear => {
            let max = lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.1))
                .fold(0.0f64, f64::max);
            let mut chart = builder(root)
                .build_cartesian_2d(x, 0f64..nice_top(max))
                .map_err(|e| e.to_string())?;
            mesh(&mut chart, "run (oldest first)", y_desc)
                .x_labels(n.min(20))
                .x_label_formatter(&run_label)
                .y_label_formatter(&|y| count_label(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            dots(&mut chart, lines, moved, current)
        }
        Scale::Log => {
            let (lo, top) = log_range(lines);
            let mut chart = builder(root)
                .build_cartesian_2d(x, (lo..top).log_scale())
                .map_err(|e| e.to_string())?;
            mesh(&mut chart, "run (oldest first)", y_desc)
                .x_labels(n.min(20))
                .x_label_formatter(&run_label)
                .y_label_formatter(&|y| ms_label(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            dots(&mut chart, lines, moved, current)
        }
    })
}

/// The lines of a runs chart, a dot per run, and the rings.
fn dots<Y>(
    chart: &mut Chart<'_, '_, Y>,
    lines: &[Line],
    moved: &[usize],
    current: Option<usize>,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    draw_lines(chart, lines)?;
    for l in lines {
        chart
            .draw_series(
                l.points
                    .iter()
                    .map(|&p| Circle::new(p, 3, l.color.filled())),
            )
            .map_err(|e| e.to_string())?;
        let ring = |i: usize, color: RGBColor| {
            l.points
                .get(i)
                .map(|&p| Circle::new(p, 7, color.stroke_width(2)))
        };
        chart
            .draw_series(moved.iter().filter_map(|&i| ring(i, FAULT)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(current.and_then(|i| ring(i, INK)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The percentile spectrum: latency against "nines" (x = log10(1/(1−q))).
pub fn spectrum(lines: &[Line], max_nines: f64) -> String {
    let (lo, top) = log_range(lines);
    let nines = max_nines.clamp(1.0, 6.0).ceil();
    svg(HEIGHT + 60, |root| {
        let mut chart = builder(root)
            // Room for the last tick label ("99.99%") at the right edge.
            .margin_right(36)
            .build_cartesian_2d(0f64..nines, (lo..top).log_scale())
            .map_err(|e| e.to_string())?;
        mesh(&mut chart, "percentile", "latency")
            .x_labels(nines as usize + 1)
            .x_label_formatter(&|x| nines_label(*x))
            .y_label_formatter(&|y| ms_label(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        draw_lines(&mut chart, lines)
    })
}

/// A log axis from the decade below the smallest positive value to the
/// decade above the largest, at least one decade tall.
fn log_range(lines: &[Line]) -> (f64, f64) {
    let values = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let max = values().fold(0.0f64, f64::max);
    let positive = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let lo = if positive.is_finite() {
        10f64.powf(positive.log10().floor())
    } else {
        0.1
    };
    let hi = if max > 0.0 {
        10f64.powf((max * 1.05).log10().ceil())
    } else {
        lo * 10.0
    };
    (lo, hi.max(lo * 10.0))
}

/// Every chart's axes in one style: a light grid and legible text.
fn mesh<'a, 'c, X, Y>(
    chart: &'c mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
) -> MeshStyle<'a, 'c, X, Y, SVGBackend<'a>>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut style = chart.configure_mesh();
    style
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_desc_style(("sans-serif", 13))
        .label_style(("sans-serif", 12));
    style
}

/// The axes of a chart over the run's time, x labelled m:ss.
fn time_mesh<'a, 'c, Y>(
    chart: &'c mut Chart<'a, 'a, Y>,
    y_desc: &str,
) -> MeshStyle<'a, 'c, plotters::coord::types::RangedCoordf64, Y, SVGBackend<'a>>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut style = mesh(chart, "time into the run (m:ss)", y_desc);
    style.x_label_formatter(&time_label);
    style
}

fn time_label(x: &f64) -> String {
    clock(*x)
}

/// 0 → "0%", 1 → "90%", 2 → "99%", 3 → "99.9%"...
pub fn nines_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    let text = format!("{:.*}", (x.round() as usize).saturating_sub(2), q * 100.0);
    format!("{text}%")
}

fn builder<'a, 'b>(root: &'a Area<'b>) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.margin(MARGIN)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS);
    b
}

/// A round number a little above `max`, so the top line does not touch
/// the frame.
fn nice_top(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let m = max * 1.1;
    let step = 10f64.powf(m.log10().floor());
    (m / step).ceil() * step
}

type Chart<'a, 'b, Y> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;

/// Pixel width of the plot and the rows labels sit on, shared by the
/// shading behind the series and the labels in front of them.
struct Layout {
    px_per_s: f64,
    bottom: f64,
    top: f64,
}

impl Layout {
    fn new(frame: &Frame, bottom: f64, top: f64) -> Layout {
        Layout {
            px_per_s: plot_width() / frame.seconds.max(1.0),
            bottom,
            top,
        }
    }

    /// Whether `text` fits in `seconds` of width.
    fn fits(&self, text: &str, seconds: f64) -> bool {
        text.chars().count() as f64 * 6.5 + 8.0 <= seconds * self.px_per_s
    }

    /// The y of label row `row`, counted from the top of the plot (a log
    /// axis needs the offset in log space).
    fn row(&self, row: usize) -> f64 {
        let frac = 0.02 + 0.075 * row as f64;
        if self.bottom > 0.0 {
            10f64.powf(self.top.log10() - frac * (self.top.log10() - self.bottom.log10()))
        } else {
            self.top - frac * (self.top - self.bottom)
        }
    }
}

/// Phase bands, fault windows shaded, and the deadline, behind the series.
fn decorate<Y>(
    chart: &mut Chart<'_, '_, Y>,
    frame: &Frame,
    bottom: f64,
    top: f64,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    let at = Layout::new(frame, bottom, top);
    for (i, p) in frame.phases.iter().enumerate() {
        if i % 2 == 1 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(p.start_s, bottom), (p.end_s, top)],
                    BAND.filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
    }
    for f in frame.faults {
        let (start, end) = Frame::window(f);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(start, bottom), (end.max(start + 1.0 / at.px_per_s), top)],
                FAULT.mix(0.13).filled(),
            )))
            .map_err(|e| e.to_string())?;
        for x in [start, end] {
            chart
                .draw_series(LineSeries::new([(x, bottom), (x, top)], FAULT.mix(0.5)))
                .map_err(|e| e.to_string())?;
        }
    }
    if frame.deadline_s > 0.0 && frame.deadline_s <= frame.seconds {
        let d = frame.deadline_s;
        chart
            .draw_series(DashedLineSeries::new(
                [(d, bottom), (d, top)],
                6,
                4,
                INK.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The names of phases, faults and the deadline, in front of the series so
/// no line hides them; a name is left out where it would not fit.
fn label<Y>(
    chart: &mut Chart<'_, '_, Y>,
    frame: &Frame,
    bottom: f64,
    top: f64,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    let at = Layout::new(frame, bottom, top);
    let nudge = 4.0 / at.px_per_s;
    let mut text = |t: String, x: f64, row: usize, color: RGBColor| {
        chart
            .draw_series(std::iter::once(Text::new(
                t,
                (x + nudge, at.row(row)),
                ("sans-serif", 12).into_font().color(&color),
            )))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for p in frame.phases {
        if at.fits(&p.name, p.end_s - p.start_s) {
            text(p.name.clone(), p.start_s, 0, INK)?;
        }
    }
    for (i, f) in frame.faults.iter().enumerate() {
        let (start, end) = Frame::window(f);
        let name = format!("⚡ {}", f.name);
        if at.fits(&name, end - start) || at.fits(&name, frame.seconds - start) {
            text(name, start, 1 + i % 3, FAULT)?;
        }
    }
    let d = frame.deadline_s;
    if d > 0.0 && d <= frame.seconds && at.fits("deadline", frame.seconds - d) {
        text("deadline".into(), d, 4, INK)?;
    }
    Ok(())
}

fn draw_lines<Y>(chart: &mut Chart<'_, '_, Y>, lines: &[Line]) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    for l in lines {
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    l.points.iter().copied(),
                    5,
                    3,
                    l.color.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        } else {
            chart
                .draw_series(LineSeries::new(
                    l.points.iter().copied(),
                    l.color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_read_as_people_write_them() {
        assert_eq!(clock(75.0), "1:15");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(4.0), "99.99%");
        assert_eq!(ms_label(0.5), "0.50ms");
        assert_eq!(ms_label(2500.0), "2.5s");
        assert_eq!(nice_top(87.0), 100.0);
    }
}
