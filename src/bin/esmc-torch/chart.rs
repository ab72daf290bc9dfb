//! The report's and compare's charts as SVG, drawn with `plotters` (its SVG backend only:
//! text is written as SVG `<text>` and laid out by the viewer, so no font file is read).
//! Per-day line charts live in [`line`], per-category bar charts in [`bar`], forest plots
//! of intervals in [`intervals`]; this file holds what they share: the colours, the page
//! (title, panels side by side, one legend below them) and the y ticks.
//!
//! ```text
//!   ┌──────────────── title ────────────────┐
//!   │ panel title   │ panel title   │ ...    │   each panel: a framed plot area, y ticks
//!   │ y ┤  ╱╲__     │               │        │   and grid lines, x ticks, the series
//!   │   └──┬──┬──   │               │        │
//!   │  ── run a  ── run b  - - run a oracle  │   legend (one entry per distinct label)
//!   └────────────────────────────────────────┘
//! ```

mod bar;
mod intervals;
mod line;

pub use bar::{BarFigure, BarPanel};
pub use intervals::{IntervalFigure, IntervalRow};
pub use line::{Figure, Panel, Series};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A colour of the charts.
pub type Rgb = RGBColor;

/// Colours given to runs in order (Tableau 10).
const PALETTE: [Rgb; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
const GREY: Rgb = RGBColor(128, 128, 128);
const GRID: Rgb = RGBColor(232, 232, 232);
const AXIS: Rgb = RGBColor(64, 64, 64);

/// The colour of the `i`-th run.
pub fn run_colour(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// The colour of the `i`-th bar category: the run colours, then olive and navy, then the
/// run colours darkened (bar charts have more categories than line charts have runs).
pub fn category_colour(i: usize) -> Rgb {
    const EXTRA: [Rgb; 2] = [RGBColor(188, 189, 34), RGBColor(0, 0, 128)];
    let n = PALETTE.len() + EXTRA.len();
    let base = match i % n {
        j if j < PALETTE.len() => PALETTE[j],
        j => EXTRA[j - PALETTE.len()],
    };
    mix(base, BLACK, (0.4 * (i / n) as f64).min(0.8))
}

/// The colour of an oracle line of the `i`-th run: the run's colour, greyed.
pub fn oracle_colour(i: usize) -> Rgb {
    mix(run_colour(i), GREY, 0.5)
}

/// `a` moved a fraction `t` of the way towards `b`.
fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    let m = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Height of the figure's title band, pixels.
const TITLE_H: usize = 36;
/// Height of one legend row, pixels.
const LEGEND_ROW_H: usize = 18;
/// Width of a panel's y labels (left of the plot area), pixels.
const Y_LABEL_W: u32 = 64;
/// Room right of a panel's plot area, pixels.
const MARGIN_RIGHT: u32 = 20;
/// Height of a panel's x labels and caption (below the plot area), pixels.
const X_LABEL_H: u32 = 34;
/// Font sizes in plotters' units (an SVG font-size of the value / 1.24): the figure's
/// title, a panel's title, labels (ticks, axis captions, legend, notes).
const TITLE_PX: f64 = 24.0;
const CAPTION_PX: f64 = 16.0;
const LABEL_PX: f64 = 14.0;
/// Estimated width of one character of a label, pixels.
const CHAR_W: usize = 7;

/// A drawing area of the SVG page.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// What drawing on the SVG page returns.
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// A sans-serif text style of `size` pixels in `colour`, anchored at `h`/`v`.
fn text(size: f64, colour: Rgb, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .color(&colour)
        .pos(Pos::new(h, v))
}

/// How a legend entry marks its series.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Line,
    Dashed,
    Square,
}

/// One entry of a figure's legend.
#[derive(PartialEq)]
struct LegendEntry {
    label: String,
    colour: Rgb,
    mark: Mark,
}

impl LegendEntry {
    fn width(&self) -> usize {
        34 + CHAR_W * self.label.chars().count() + 24
    }
}

/// Splits the legend into rows that fit `width`.
fn legend_rows(entries: &[LegendEntry], width: usize) -> Vec<Vec<&LegendEntry>> {
    let mut rows: Vec<Vec<&LegendEntry>> = Vec::new();
    let mut used = usize::MAX;
    for e in entries {
        let w = e.width();
        if used.saturating_add(w) > width.saturating_sub(20) {
            rows.push(Vec::new());
            used = 0;
        }
        rows.last_mut().expect("a row was pushed").push(e);
        used += w;
    }
    rows
}

/// Draws a page of `panels` panels of `panel_size` pixels under `title`, with `legend`
/// below them (the page's size is `panels × panel width` by `panel height` plus the
/// title and the legend rows); `draw` draws the `i`-th panel into its area.
fn page(
    title: &str,
    panels: usize,
    (pw, ph): (usize, usize),
    legend: &[LegendEntry],
    draw: impl Fn(usize, &Area) -> Drawn,
) -> std::io::Result<String> {
    let width = pw * panels.max(1);
    let rows = legend_rows(legend, width);
    let height = TITLE_H + ph + rows.len() * LEGEND_ROW_H + 10;
    let mut svg = String::new();
    let mut drawn = || -> Drawn {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(TITLE_H as u32);
        let (middle, bottom) = rest.split_vertically(ph as u32);
        let style = text(TITLE_PX, BLACK, HPos::Center, VPos::Top);
        top.draw(&Text::new(title, (width as i32 / 2, 8), style))?;
        for (i, area) in middle.split_evenly((1, panels.max(1))).iter().enumerate() {
            if i < panels {
                draw(i, area)?;
            }
        }
        draw_legend(&bottom, &rows, width)?;
        root.present()
    };
    drawn().map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(svg)
}

/// The legend rows, each centred, an entry's mark left of its label.
fn draw_legend(area: &Area, rows: &[Vec<&LegendEntry>], width: usize) -> Drawn {
    for (r, row) in rows.iter().enumerate() {
        let row_w: usize = row.iter().map(|e| e.width()).sum();
        let mut x = (width as i32 - row_w as i32) / 2;
        let y = (r * LEGEND_ROW_H) as i32 + 9;
        for e in row {
            match e.mark {
                Mark::Line => area.draw(&PathElement::new(
                    [(x, y), (x + 28, y)],
                    e.colour.stroke_width(2),
                ))?,
                Mark::Dashed => area.draw(&DashedPathElement::new(
                    [(x, y), (x + 28, y)],
                    6,
                    4,
                    e.colour.stroke_width(2),
                ))?,
                Mark::Square => area.draw(&Rectangle::new(
                    [(x + 8, y - 5), (x + 20, y + 5)],
                    e.colour.filled(),
                ))?,
            }
            let style = text(LABEL_PX, BLACK, HPos::Left, VPos::Center);
            area.draw(&Text::new(e.label.clone(), (x + 34, y), style))?;
            x += e.width() as i32;
        }
    }
    Ok(())
}

/// Axis ticks at a round step (1, 2 or 5 × 10^k).
struct Ticks {
    values: Vec<f64>,
    decimals: usize,
}

/// About `target` ticks inside `lo..=hi`.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    // The round step whose tick count is nearest the target (ties: more ticks).
    let count = |step: f64| (hi / step).floor() - (lo / step).ceil() + 1.0;
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .min_by(|a, b| {
            let off = |s: f64| (count(s) - target as f64).abs();
            off(*a).total_cmp(&off(*b))
        })
        .expect("four candidates");
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let values = (first..=last).map(|i| i as f64 * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    Ticks { values, decimals }
}

/// A linear axis with the ticks given (plotters' `WithKeyPoints` over f64 has no default
/// label format, which its mesh requires).
struct Axis {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Axis {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    /// The ticks as bold points (labelled, with grid lines); no light points.
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// A panel's chart builder: its title above, y labels left, x labels below.
fn panel_builder<'a, 'b>(area: &'a Area<'b>, title: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, text(CAPTION_PX, BLACK, HPos::Center, VPos::Top))
        .margin_top(4)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(X_LABEL_H)
        .y_label_area_size(Y_LABEL_W);
    b
}

/// The frame around a chart's plot area.
fn frame<X, Y>(chart: &ChartContext<SVGBackend, Cartesian2d<X, Y>>) -> Drawn
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (x, y) = (chart.x_range(), chart.y_range());
    let corners = [(x.start, y.start), (x.end, y.end)];
    chart
        .plotting_area()
        .draw(&Rectangle::new(corners, AXIS.stroke_width(1)))
}

/// A framed panel with nothing to plot but a grey note in its middle.
fn empty_panel(mut builder: ChartBuilder<SVGBackend>, note: &str) -> Drawn {
    let chart = builder.build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    frame(&chart)?;
    let style = text(LABEL_PX, GREY, HPos::Center, VPos::Center);
    chart
        .plotting_area()
        .draw(&Text::new(note.to_string(), (0.5, 0.5), style))
}

/// The y range of a panel: `lo..hi` widened by `below` and `above` times its span (a
/// span of zero: by 5 % of the value below, at least 0.001, and in proportion above),
/// and its ticks for a panel of `height` pixels.
fn y_axis(lo: f64, hi: f64, below: f64, above: f64, height: u32) -> (f64, f64, Ticks) {
    let (ylo, yhi) = if hi > lo {
        (lo - (hi - lo) * below, hi + (hi - lo) * above)
    } else {
        let pad = (lo.abs() * 0.05).max(1e-3);
        (lo - pad, hi + pad * above / below)
    };
    let target = (height.saturating_sub(X_LABEL_H + 30) / 50).max(2) as usize;
    (ylo, yhi, nice_ticks(ylo, yhi, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_cover_the_range() {
        let t = nice_ticks(0.612, 0.748, 5);
        assert_eq!(t.decimals, 2);
        let labels: Vec<String> = t.values.iter().map(|v| format!("{v:.2}")).collect();
        assert_eq!(
            labels,
            ["0.62", "0.64", "0.66", "0.68", "0.70", "0.72", "0.74"]
        );
        let t = nice_ticks(0.9, 1.1, 4);
        assert_eq!(t.values.len(), 5); // 0.90, 0.95, 1.00, 1.05, 1.10
        assert_eq!(format!("{:.*}", t.decimals, t.values[2]), "1.00");
    }

    #[test]
    fn colours_of_runs_oracles_and_categories() {
        assert_eq!(run_colour(0), RGBColor(31, 119, 180));
        assert_eq!(run_colour(8), run_colour(0));
        assert_eq!(oracle_colour(0), RGBColor(80, 124, 154));
        assert_eq!(category_colour(8), RGBColor(188, 189, 34));
        // past the ten base colours: the same colours, darkened
        assert_eq!(category_colour(10), RGBColor(19, 71, 108));
    }

    #[test]
    fn legend_rows_wrap_at_the_page_width() {
        let entry = |label: &str| LegendEntry {
            label: label.into(),
            colour: run_colour(0),
            mark: Mark::Line,
        };
        let entries: Vec<LegendEntry> = (0..6).map(|i| entry(&format!("run {i}"))).collect();
        // each entry is 34 + 5 * 7 + 24 = 93 pixels wide; 300 - 20 fits three
        let rows = legend_rows(&entries, 300);
        assert_eq!(rows.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3]);
    }
}
