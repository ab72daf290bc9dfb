//! Forest plots of paired differences with their intervals (`esmc claims`): one row per
//! (claim, world), a dot at the mean difference and a bar from the interval's lower to its
//! upper end, a vertical line at zero, the claims' names as row labels and the worlds in a
//! column right of the plot; each row coloured by where its interval lies (above zero:
//! confirmed, below: refuted, across: inconclusive), with a legend of the three below.
//!
//! ```text
//!   ┌──────────────────── title ────────────────────┐
//!   │                           │                    │
//!   │ ESMM > BASE (entire space)│   ●────●────●       with-selection_bias
//!   │ ESMM > BASE (entire space)│ ●──●──●             default
//!   │ HM³ > ESM²            ●──●┼──●                  with-informative_micro
//!   │                    -0.01  0  0.01  0.02                        │
//!   │     ■ confirmed  ■ refuted  ■ inconclusive                     │
//!   └───────────────────────────────────────────────┘
//! ```

use super::{
    AXIS, Area, Axis, CHAR_W, Drawn, GREY, GRID, LABEL_PX, LegendEntry, Mark, Rgb, X_LABEL_H,
    empty_panel, frame, nice_ticks, page, run_colour, text,
};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// Where an interval lies relative to zero, as the claims' verdicts read it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// Above zero: confirmed.
    Above,
    /// Below zero: refuted.
    Below,
    /// Contains zero: inconclusive.
    Across,
}

impl Side {
    /// The side of `lo..=hi`.
    pub fn of(lo: f64, hi: f64) -> Side {
        if lo > 0.0 {
            Side::Above
        } else if hi < 0.0 {
            Side::Below
        } else {
            Side::Across
        }
    }

    /// The verdict this side gives, the legend's label.
    pub fn verdict(self) -> &'static str {
        match self {
            Side::Above => "confirmed",
            Side::Below => "refuted",
            Side::Across => "inconclusive",
        }
    }

    /// Green, red, grey.
    pub fn colour(self) -> Rgb {
        match self {
            Side::Above => run_colour(2),
            Side::Below => run_colour(3),
            Side::Across => GREY,
        }
    }

    const ALL: [Side; 3] = [Side::Above, Side::Below, Side::Across];
}

/// One row: a difference with its interval.
pub struct IntervalRow {
    /// The row's label (the claim).
    pub label: String,
    /// Written right of the plot (the world).
    pub note: String,
    pub diff: f64,
    pub lo: f64,
    pub hi: f64,
}

pub struct IntervalFigure {
    pub title: String,
    /// The x axis' caption.
    pub x_caption: String,
    /// Rows top to bottom.
    pub rows: Vec<IntervalRow>,
}

/// Height of one row, pixels.
const ROW_H: usize = 24;
/// Width of the plot area, pixels.
const PLOT_W: usize = 460;

impl IntervalFigure {
    /// The figure as an SVG document: the labels' width, the plot and the notes' width
    /// by one row per interval plus the axis, the title and the legend.
    pub fn svg(&self) -> std::io::Result<String> {
        let chars = |s: &[&str]| s.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        let labels: Vec<&str> = self.rows.iter().map(|r| r.label.as_str()).collect();
        let notes: Vec<&str> = self.rows.iter().map(|r| r.note.as_str()).collect();
        let label_w = CHAR_W * chars(&labels) + 16;
        let note_w = CHAR_W * chars(&notes) + 16;
        let width = label_w + PLOT_W + note_w;
        let height = ROW_H * self.rows.len().max(1) + X_LABEL_H as usize + 28;
        let legend: Vec<LegendEntry> = Side::ALL
            .iter()
            .map(|s| LegendEntry {
                label: s.verdict().into(),
                colour: s.colour(),
                mark: Mark::Square,
            })
            .collect();
        page(&self.title, 1, (width, height), &legend, |_, area| {
            self.draw(area, label_w as u32, note_w as u32)
        })
    }

    /// Writes the figure into an SVG file.
    pub fn save_svg(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.svg()?)
    }

    /// The plot: row `i` (from the top) centred at y = n − i − 0.5.
    fn draw(&self, area: &Area, label_w: u32, note_w: u32) -> Drawn {
        let mut builder = ChartBuilder::on(area);
        builder
            .margin_top(10)
            .margin_right(note_w)
            .x_label_area_size(X_LABEL_H + 8)
            .y_label_area_size(label_w);
        let finite = |r: &&IntervalRow| [r.diff, r.lo, r.hi].iter().all(|v| v.is_finite());
        let rows: Vec<&IntervalRow> = self.rows.iter().filter(finite).collect();
        if rows.is_empty() {
            return empty_panel(builder, "no intervals");
        }
        let (lo, hi) = rows
            .iter()
            .fold((0f64, 0f64), |(lo, hi), r| (lo.min(r.lo), hi.max(r.hi)));
        let pad = if hi > lo { (hi - lo) * 0.05 } else { 1e-3 };
        let (xlo, xhi) = (lo - pad, hi + pad);
        let ticks = nice_ticks(xlo, xhi, 6);
        let n = rows.len() as f64;
        let centres: Vec<f64> = (0..rows.len()).map(|i| n - i as f64 - 0.5).collect();
        let mut chart = builder.build_cartesian_2d(
            Axis::new(xlo..xhi, ticks.values.clone()),
            Axis::new(0.0..n, centres.clone()),
        )?;
        let label_of = |y: &f64| {
            let i = (n - y - 0.5).round() as usize;
            rows.get(i).map_or(String::new(), |r| r.label.clone())
        };
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(text(LABEL_PX, AXIS, HPos::Center, VPos::Top))
            .x_label_formatter(&|v| format!("{v:.*}", ticks.decimals))
            .y_label_formatter(&label_of)
            .x_desc(self.x_caption.as_str())
            .axis_desc_style(text(LABEL_PX, AXIS, HPos::Center, VPos::Top))
            .draw()?;
        chart.draw_series([PathElement::new(
            [(0.0, 0.0), (0.0, n)],
            BLACK.stroke_width(1),
        )])?;
        for (r, &y) in rows.iter().zip(&centres) {
            let colour = Side::of(r.lo, r.hi).colour();
            chart.draw_series([PathElement::new(
                [(r.lo, y), (r.hi, y)],
                colour.stroke_width(3),
            )])?;
            chart.draw_series([Circle::new((r.diff, y), 5, colour.filled())])?;
        }
        // the notes, left-aligned just right of the plot area
        let plot = chart.plotting_area();
        let (px, _) = plot.get_pixel_range();
        let base = area.get_base_pixel();
        let style = text(LABEL_PX, AXIS, HPos::Left, VPos::Center);
        for (r, &y) in rows.iter().zip(&centres) {
            let (_, py) = chart.backend_coord(&(xlo, y));
            let at = (px.end + 8 - base.0, py - base.1);
            area.draw(&Text::new(r.note.clone(), at, style.clone()))?;
        }
        frame(&chart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_coloured_by_the_side_of_its_interval() {
        assert_eq!(Side::of(0.01, 0.02), Side::Above);
        assert_eq!(Side::of(-0.02, -0.01), Side::Below);
        assert_eq!(Side::of(-0.01, 0.02), Side::Across);
        let row = |label: &str, lo: f64, hi: f64| IntervalRow {
            label: label.into(),
            note: "default".into(),
            diff: (lo + hi) / 2.0,
            lo,
            hi,
        };
        let fig = IntervalFigure {
            title: "claims".into(),
            x_caption: "A − B".into(),
            rows: vec![row("a", 0.01, 0.03), row("b", -0.02, 0.01)],
        };
        let svg = fig.svg().unwrap();
        let fill = |c: Rgb| format!(r##"fill="#{:02X}{:02X}{:02X}""##, c.0, c.1, c.2);
        // one dot and one legend square each for the two sides drawn, a square for the third
        let count = |s: Side| {
            svg.lines()
                .filter(|l| l.contains(&fill(s.colour())))
                .count()
        };
        assert_eq!(count(Side::Above), 2);
        assert_eq!(count(Side::Across), 2);
        assert_eq!(count(Side::Below), 1);
        // the row labels, each a text line of its own
        assert!(svg.lines().any(|l| l == "a") && svg.lines().any(|l| l == "b"));
    }
}
