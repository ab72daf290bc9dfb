//! Per-day line charts as PNG: one or more panels side by side, sharing a title and a
//! legend, drawn on the hand-written [`canvas`] with its built-in [`font`].
//!
//! ```text
//!   ┌──────────────── title ────────────────┐
//!   │ panel title   │ panel title   │ ...    │   each panel: y ticks + grid, x ticks at
//!   │ y ┤  ╱╲__     │               │        │   days (MM-DD), one line per series,
//!   │   └──┬──┬──   │               │        │   dashed series (oracles), reference lines
//!   │  ── run a  ── run b  - - run a oracle  │   legend (one entry per distinct label)
//!   └────────────────────────────────────────┘
//! ```

mod canvas;
mod font;

use canvas::{Align, Canvas, Rgb};
use chrono::NaiveDate;
use std::path::Path;

/// Colours given to runs in order (Tableau 10).
const PALETTE: [Rgb; 8] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(23, 190, 207),
];
const GREY: Rgb = Rgb(128, 128, 128);
const GRID: Rgb = Rgb(232, 232, 232);
const AXIS: Rgb = Rgb(64, 64, 64);

/// The colour of the `i`-th run.
pub fn run_colour(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// The colour of the `i`-th bar category: the run colours, then olive and navy, then the
/// run colours darkened (bar charts have more categories than line charts have runs).
pub fn category_colour(i: usize) -> Rgb {
    const EXTRA: [Rgb; 2] = [Rgb(188, 189, 34), Rgb(0, 0, 128)];
    let n = PALETTE.len() + EXTRA.len();
    let base = match i % n {
        j if j < PALETTE.len() => PALETTE[j],
        j => EXTRA[j - PALETTE.len()],
    };
    base.mix(Rgb::BLACK, (0.4 * (i / n) as f64).min(0.8))
}

/// The colour of an oracle line of the `i`-th run: the run's colour, greyed.
pub fn oracle_colour(i: usize) -> Rgb {
    run_colour(i).mix(GREY, 0.5)
}

/// One line: a value per day, `None` where the day has none (the line breaks there).
pub struct Series {
    pub label: String,
    pub colour: Rgb,
    pub dashed: bool,
    pub points: Vec<(NaiveDate, Option<f64>)>,
}

/// One plot area.
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
    /// Horizontal reference lines (e.g. calibration 1.0), drawn grey and dashed.
    pub reference: Vec<f64>,
}

/// Panels side by side under one title, with one legend below them.
pub struct Figure {
    pub title: String,
    pub panels: Vec<Panel>,
    /// Size of one panel (with its axes and labels) in pixels.
    pub panel_size: (usize, usize),
}

const TITLE_H: usize = 36;
const LEGEND_ROW_H: usize = 18;
const MARGIN_LEFT: usize = 64;
const MARGIN_RIGHT: usize = 20;
const MARGIN_TOP: usize = 28;
const MARGIN_BOTTOM: usize = 30;

impl Figure {
    /// Draws the figure; its size is `panels × panel width` by `panel height` plus the
    /// title and the legend rows.
    pub fn render(&self) -> Canvas {
        let (pw, ph) = self.panel_size;
        let width = pw * self.panels.len().max(1);
        let legend = self.legend_entries();
        let rows = legend_rows(&legend, width);
        let height = TITLE_H + ph + rows.len() * LEGEND_ROW_H + 10;
        let mut c = Canvas::new(width, height, Rgb::WHITE);
        c.text(
            width as i64 / 2,
            10,
            &self.title,
            2,
            Align::Center,
            Rgb::BLACK,
        );
        for (i, panel) in self.panels.iter().enumerate() {
            draw_panel(&mut c, panel, (i * pw) as i64, TITLE_H as i64, pw, ph);
        }
        let mut y = (TITLE_H + ph) as i64;
        for row in rows {
            let row_w: usize = row.iter().map(|e| legend_entry_width(e)).sum();
            let mut x = (width as i64 - row_w as i64) / 2;
            for e in row {
                let mid = y as f64 + 4.5;
                let dash = e.dashed.then_some((6.0, 4.0));
                c.polyline(
                    &[(x as f64, mid), (x as f64 + 28.0, mid)],
                    2.0,
                    e.colour,
                    dash,
                );
                c.text(x + 34, y + 1, &e.label, 1, Align::Left, Rgb::BLACK);
                x += legend_entry_width(e) as i64;
            }
            y += LEGEND_ROW_H as i64;
        }
        c
    }

    /// Renders the figure into a PNG file.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        self.render().save_png(path)
    }

    /// One entry per distinct (label, colour, dash), in order of first appearance.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        let mut out: Vec<LegendEntry> = Vec::new();
        for s in self.panels.iter().flat_map(|p| &p.series) {
            let e = LegendEntry {
                label: s.label.clone(),
                colour: s.colour,
                dashed: s.dashed,
            };
            if !out.contains(&e) && s.points.iter().any(|p| p.1.is_some()) {
                out.push(e);
            }
        }
        out
    }
}

#[derive(PartialEq)]
struct LegendEntry {
    label: String,
    colour: Rgb,
    dashed: bool,
}

fn legend_entry_width(e: &LegendEntry) -> usize {
    34 + Canvas::text_width(&e.label, 1) + 24
}

/// Splits the legend into rows that fit `width`.
fn legend_rows(entries: &[LegendEntry], width: usize) -> Vec<Vec<&LegendEntry>> {
    let mut rows: Vec<Vec<&LegendEntry>> = Vec::new();
    let mut used = usize::MAX;
    for e in entries {
        let w = legend_entry_width(e);
        if used.saturating_add(w) > width.saturating_sub(20) {
            rows.push(Vec::new());
            used = 0;
        }
        rows.last_mut().expect("a row was pushed").push(e);
        used += w;
    }
    rows
}

/// Draws `panel` into the box at (`x0`, `y0`) of `w × h` pixels.
fn draw_panel(c: &mut Canvas, panel: &Panel, x0: i64, y0: i64, w: usize, h: usize) {
    let (left, top) = (x0 + MARGIN_LEFT as i64, y0 + MARGIN_TOP as i64);
    let (right, bottom) = (
        x0 + (w - MARGIN_RIGHT) as i64,
        y0 + (h - MARGIN_BOTTOM) as i64,
    );
    c.text(
        (left + right) / 2,
        y0 + 8,
        &panel.title,
        1,
        Align::Center,
        Rgb::BLACK,
    );

    let days: Vec<NaiveDate> = {
        let mut d: Vec<NaiveDate> = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        d.sort();
        d.dedup();
        d
    };
    let values: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    if days.is_empty() || values.is_empty() {
        empty_panel(c, (left, top, right, bottom), "no evaluated days");
        return;
    }

    // y: nice ticks over the values and reference lines, padded by 5 %.
    let (lo, hi) = values
        .iter()
        .chain(&panel.reference)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        (lo.abs() * 0.05).max(1e-3)
    };
    let ticks = nice_ticks(lo - pad, hi + pad, ((bottom - top) / 50).max(2) as usize);
    let (ylo, yhi) = (lo - pad, hi + pad);
    let y_of = |v: f64| bottom as f64 - (v - ylo) / (yhi - ylo) * (bottom - top) as f64;

    // x: days, from the first to the last (a single day sits in the middle).
    let (first, last) = (days[0], days[days.len() - 1]);
    let span = (last - first).num_days().max(1) as f64;
    let inset = 12.0;
    let x_of = |d: NaiveDate| {
        let frac = if first == last {
            0.5
        } else {
            (d - first).num_days() as f64 / span
        };
        left as f64 + inset + frac * ((right - left) as f64 - 2.0 * inset)
    };

    for &v in &ticks.values {
        let y = y_of(v).round() as i64;
        c.fill_rect(left + 1, y, right, y + 1, GRID);
        c.fill_rect(left - 4, y, left, y + 1, AXIS);
        let label = format!("{v:.*}", ticks.decimals);
        c.text(left - 7, y - 4, &label, 1, Align::Right, AXIS);
    }
    let one_year = first.format("%Y").to_string() == last.format("%Y").to_string();
    let fmt = if one_year { "%m-%d" } else { "%Y-%m-%d" };
    let label_w = Canvas::text_width(&first.format(fmt).to_string(), 1) as i64 + 12;
    let max_labels = ((right - left) / label_w).max(1);
    let step = ((span as i64 + 1) + max_labels - 1) / max_labels;
    let mut d = first;
    while d <= last {
        let x = x_of(d).round() as i64;
        c.fill_rect(x, bottom + 1, x + 1, bottom + 5, AXIS);
        c.text(
            x,
            bottom + 8,
            &d.format(fmt).to_string(),
            1,
            Align::Center,
            AXIS,
        );
        d += chrono::Duration::days(step.max(1));
    }
    let caption = if one_year {
        format!("dt ({})", first.format("%Y"))
    } else {
        "dt".into()
    };
    c.text(right, bottom + 20, &caption, 1, Align::Right, GREY);
    c.stroke_rect(left, top, right, bottom, AXIS);

    for &r in &panel.reference {
        let y = y_of(r);
        c.polyline(
            &[(left as f64, y), (right as f64, y)],
            1.0,
            GREY,
            Some((4.0, 4.0)),
        );
    }
    for s in &panel.series {
        let dash = s.dashed.then_some((6.0, 4.0));
        let mut run: Vec<(f64, f64)> = Vec::new();
        let points = s
            .points
            .iter()
            .map(|&(d, v)| v.filter(|v| v.is_finite()).map(|v| (x_of(d), y_of(v))));
        for p in points.chain(std::iter::once(None)) {
            match p {
                Some(p) => run.push(p),
                None => {
                    c.polyline(&run, 2.0, s.colour, dash);
                    if !s.dashed {
                        run.iter().for_each(|&p| c.dot(p, 3.0, s.colour));
                    } else if run.len() == 1 {
                        c.dot(run[0], 2.0, s.colour);
                    }
                    run.clear();
                }
            }
        }
    }
}

/// Axis ticks at a round step (1, 2 or 5 × 10^k).
struct Ticks {
    values: Vec<f64>,
    decimals: usize,
}

/// About `target` ticks inside `lo..=hi`.
/// A framed panel with nothing to plot but a grey note in its middle.
fn empty_panel(c: &mut Canvas, (left, top, right, bottom): (i64, i64, i64, i64), msg: &str) {
    c.stroke_rect(left, top, right, bottom, AXIS);
    let (x, y) = ((left + right) / 2, (top + bottom) / 2 - 4);
    c.text(x, y, msg, 1, Align::Center, GREY);
}

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

/// A bar chart of per-category means with error bars: one panel per metric, one bar per
/// category (run, model) in the category's colour, whiskers at mean ± error, grey dashed
/// reference lines (e.g. the oracle ceiling), one legend of the categories below.
///
/// ```text
///   ┌────────────── title ──────────────┐
///   │ CTR-AUC       │ CVR-AUC       │    │   y ticks over the means ± errors and the
///   │  ┬ ┬          │- - - - - - - -│    │   references (the axis need not start at 0),
///   │ █│█│█ ┬       │ █ ┬           │    │   a bar rises from the axis' lower end
///   │ █ █ █ █       │ █ █ █         │    │
///   │  ■ base  ■ esmm  ■ esmc ...        │
///   └────────────────────────────────────┘
/// ```
pub struct BarFigure {
    pub title: String,
    /// Categories in order, with their colours; every panel has one bar per category.
    pub categories: Vec<(String, Rgb)>,
    pub panels: Vec<BarPanel>,
    /// Size of one panel (with its axes and labels) in pixels.
    pub panel_size: (usize, usize),
}

/// One metric: `(mean, error)` per category (`None`: no bar, e.g. a failed model).
pub struct BarPanel {
    pub title: String,
    pub bars: Vec<Option<(f64, f64)>>,
    /// Horizontal reference lines, drawn grey and dashed.
    pub reference: Vec<f64>,
}

impl BarFigure {
    /// Draws the figure: `panels × panel width` by `panel height` plus title and legend.
    pub fn render(&self) -> Canvas {
        let (pw, ph) = self.panel_size;
        let width = pw * self.panels.len().max(1);
        let legend: Vec<LegendEntry> = self
            .categories
            .iter()
            .map(|(label, colour)| LegendEntry {
                label: label.clone(),
                colour: *colour,
                dashed: false,
            })
            .collect();
        let rows = legend_rows(&legend, width);
        let height = TITLE_H + ph + rows.len() * LEGEND_ROW_H + 10;
        let mut c = Canvas::new(width, height, Rgb::WHITE);
        c.text(
            width as i64 / 2,
            10,
            &self.title,
            2,
            Align::Center,
            Rgb::BLACK,
        );
        for (i, panel) in self.panels.iter().enumerate() {
            let colours: Vec<Rgb> = self.categories.iter().map(|c| c.1).collect();
            draw_bar_panel(
                &mut c,
                panel,
                &colours,
                (i * pw) as i64,
                TITLE_H as i64,
                pw,
                ph,
            );
        }
        let mut y = (TITLE_H + ph) as i64;
        for row in rows {
            let row_w: usize = row.iter().map(|e| legend_entry_width(e)).sum();
            let mut x = (width as i64 - row_w as i64) / 2;
            for e in row {
                c.fill_rect(x + 8, y, x + 20, y + 10, e.colour);
                c.text(x + 34, y + 1, &e.label, 1, Align::Left, Rgb::BLACK);
                x += legend_entry_width(e) as i64;
            }
            y += LEGEND_ROW_H as i64;
        }
        c
    }

    /// Renders the figure into a PNG file.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        self.render().save_png(path)
    }
}

/// Draws a bar panel into the box at (`x0`, `y0`) of `w × h` pixels.
fn draw_bar_panel(
    c: &mut Canvas,
    panel: &BarPanel,
    colours: &[Rgb],
    x0: i64,
    y0: i64,
    w: usize,
    h: usize,
) {
    let (left, top) = (x0 + MARGIN_LEFT as i64, y0 + MARGIN_TOP as i64);
    let (right, bottom) = (
        x0 + (w - MARGIN_RIGHT) as i64,
        y0 + (h - MARGIN_BOTTOM) as i64,
    );
    c.text(
        (left + right) / 2,
        y0 + 8,
        &panel.title,
        1,
        Align::Center,
        Rgb::BLACK,
    );
    let finite = |v: &f64| v.is_finite();
    let values: Vec<f64> = panel
        .bars
        .iter()
        .flatten()
        .flat_map(|&(m, e)| {
            let e = if e.is_finite() { e } else { 0.0 };
            [m - e, m + e]
        })
        .chain(panel.reference.iter().copied())
        .filter(finite)
        .collect();
    if values.is_empty() {
        empty_panel(c, (left, top, right, bottom), "no values");
        return;
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // room below the lowest bar so that every bar shows, and above the highest whisker
    let pad = if hi > lo {
        (hi - lo) * 0.15
    } else {
        (lo.abs() * 0.05).max(1e-3)
    };
    let (ylo, yhi) = (lo - pad, hi + pad * 0.5);
    let ticks = nice_ticks(ylo, yhi, ((bottom - top) / 50).max(2) as usize);
    let y_of = |v: f64| bottom as f64 - (v - ylo) / (yhi - ylo) * (bottom - top) as f64;
    for &v in &ticks.values {
        let y = y_of(v).round() as i64;
        c.fill_rect(left + 1, y, right, y + 1, GRID);
        c.fill_rect(left - 4, y, left, y + 1, AXIS);
        let label = format!("{v:.*}", ticks.decimals);
        c.text(left - 7, y - 4, &label, 1, Align::Right, AXIS);
    }
    let n = panel.bars.len().max(1) as f64;
    let slot = (right - left) as f64 / n;
    let bar_w = (slot * 0.7).max(1.0);
    for (i, bar) in panel.bars.iter().enumerate() {
        let Some((mean, err)) = *bar else { continue };
        if !mean.is_finite() {
            continue;
        }
        let colour = colours
            .get(i)
            .copied()
            .unwrap_or_else(|| category_colour(i));
        let cx = left as f64 + slot * (i as f64 + 0.5);
        let (bx0, bx1) = (
            (cx - bar_w / 2.0).round() as i64,
            (cx + bar_w / 2.0).round() as i64,
        );
        c.fill_rect(bx0, y_of(mean).round() as i64, bx1, bottom, colour);
        if err.is_finite() && err > 0.0 {
            let (ya, yb) = (y_of(mean - err), y_of(mean + err));
            let cap = (bar_w / 4.0).max(2.0);
            c.line((cx, ya), (cx, yb), 1.5, Rgb::BLACK);
            c.line((cx - cap, ya), (cx + cap, ya), 1.5, Rgb::BLACK);
            c.line((cx - cap, yb), (cx + cap, yb), 1.5, Rgb::BLACK);
        }
    }
    for &r in panel.reference.iter().filter(|v| v.is_finite()) {
        let y = y_of(r);
        c.polyline(
            &[(left as f64, y), (right as f64, y)],
            1.5,
            GREY,
            Some((6.0, 4.0)),
        );
    }
    c.stroke_rect(left, top, right, bottom, AXIS);
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
    fn figure_size_is_panels_wide_plus_title_and_legend() {
        let day = |d| NaiveDate::from_ymd_opt(2025, 1, d).unwrap();
        let series = |label: &str, dashed| Series {
            label: label.into(),
            colour: run_colour(0),
            dashed,
            points: vec![(day(1), None), (day(2), Some(0.7)), (day(3), Some(0.72))],
        };
        let fig = Figure {
            title: "CVR-AUC".into(),
            panels: vec![Panel {
                title: "cvr".into(),
                series: vec![series("a", false), series("a oracle", true)],
                reference: vec![],
            }],
            panel_size: (600, 300),
        };
        let c = fig.render();
        assert_eq!(
            (c.width(), c.height()),
            (600, TITLE_H + 300 + LEGEND_ROW_H + 10)
        );
    }

    #[test]
    fn bar_figure_draws_bars_whiskers_and_legend() {
        let fig = BarFigure {
            title: "AUC".into(),
            categories: vec![("a".into(), run_colour(0)), ("b".into(), run_colour(1))],
            panels: vec![BarPanel {
                title: "CVR-AUC".into(),
                bars: vec![Some((0.70, 0.01)), None],
                reference: vec![0.75],
            }],
            panel_size: (300, 240),
        };
        let c = fig.render();
        assert_eq!(
            (c.width(), c.height()),
            (300, TITLE_H + 240 + LEGEND_ROW_H + 10)
        );
        let png = c.to_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
