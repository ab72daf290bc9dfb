//! Bar charts of per-category means with error bars: one panel per metric, one bar per
//! category (run, model) in the category's colour, whiskers at mean ± error, grey dashed
//! reference lines (e.g. the oracle ceiling), one legend of the categories below.
//!
//! ```text
//!   ┌────────────── title ──────────────┐
//!   │ CTR-AUC       │ CVR-AUC       │    │   y ticks over the means ± errors and the
//!   │  ┬ ┬          │- - - - - - - -│    │   references (the axis need not start at 0),
//!   │ █│█│█ ┬       │ █ ┬           │    │   a bar rises from the axis' lower end
//!   │ █ █ █ █       │ █ █ █         │    │
//!   │  ■ base  ■ esmm  ■ esmc ...        │
//!   └────────────────────────────────────┘
//! ```

use super::{
    AXIS, Area, Axis, Drawn, GREY, GRID, LABEL_PX, LegendEntry, Mark, Rgb, category_colour,
    empty_panel, frame, page, panel_builder, text, y_axis,
};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

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
    /// The figure as an SVG document: `panels × panel width` by `panel height` plus the
    /// title and the legend rows.
    pub fn svg(&self) -> std::io::Result<String> {
        let legend: Vec<LegendEntry> = self
            .categories
            .iter()
            .map(|(label, colour)| LegendEntry {
                label: label.clone(),
                colour: *colour,
                mark: Mark::Square,
            })
            .collect();
        let colours: Vec<Rgb> = self.categories.iter().map(|c| c.1).collect();
        page(
            &self.title,
            self.panels.len(),
            self.panel_size,
            &legend,
            |i, area| draw_bar_panel(area, &self.panels[i], &colours),
        )
    }

    /// Writes the figure into an SVG file.
    pub fn save_svg(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.svg()?)
    }
}

/// Draws a bar panel into `area`: bar `i` spans `i + 0.15 .. i + 0.85` on x.
fn draw_bar_panel(area: &Area, panel: &BarPanel, colours: &[Rgb]) -> Drawn {
    let mut builder = panel_builder(area, &panel.title);
    let values: Vec<f64> = panel
        .bars
        .iter()
        .flatten()
        .flat_map(|&(m, e)| {
            let e = if e.is_finite() { e } else { 0.0 };
            [m - e, m + e]
        })
        .chain(panel.reference.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return empty_panel(builder, "no values");
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // room below the lowest bar so that every bar shows, and above the highest whisker
    let (ylo, yhi, ticks) = y_axis(lo, hi, 0.15, 0.075, area.dim_in_pixel().1);
    let n = panel.bars.len().max(1) as f64;
    let mut chart = builder.build_cartesian_2d(
        Axis::new(0.0..n, Vec::new()),
        Axis::new(ylo..yhi, ticks.values.clone()),
    )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style(text(LABEL_PX, AXIS, HPos::Center, VPos::Top))
        .y_label_formatter(&|v| format!("{v:.*}", ticks.decimals))
        .draw()?;
    for (i, bar) in panel.bars.iter().enumerate() {
        let Some((mean, err)) = *bar else { continue };
        if !mean.is_finite() {
            continue;
        }
        let colour = colours
            .get(i)
            .copied()
            .unwrap_or_else(|| category_colour(i));
        let x = i as f64;
        let corners = [(x + 0.15, ylo), (x + 0.85, mean)];
        chart.draw_series([Rectangle::new(corners, colour.filled())])?;
        if err.is_finite() && err > 0.0 {
            let (a, b, cx) = (mean - err, mean + err, x + 0.5);
            let style = BLACK.stroke_width(1);
            chart.draw_series(
                [
                    [(cx, a), (cx, b)],
                    [(cx - 0.1, a), (cx + 0.1, a)],
                    [(cx - 0.1, b), (cx + 0.1, b)],
                ]
                .map(|p| PathElement::new(p, style)),
            )?;
        }
    }
    for &r in panel.reference.iter().filter(|v| v.is_finite()) {
        let style = GREY.stroke_width(2);
        chart.draw_series([DashedPathElement::new([(0.0, r), (n, r)], 6, 4, style)])?;
    }
    frame(&chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_figure_has_the_page_size_and_one_legend_entry_per_category() {
        let fig = BarFigure {
            title: "AUC".into(),
            categories: vec![
                ("a".into(), category_colour(0)),
                ("b".into(), category_colour(1)),
            ],
            panels: vec![BarPanel {
                title: "CVR-AUC".into(),
                bars: vec![Some((0.70, 0.01)), None],
                reference: vec![0.75],
            }],
            panel_size: (300, 240),
        };
        let svg = fig.svg().unwrap();
        let height = super::super::TITLE_H + 240 + super::super::LEGEND_ROW_H + 10;
        assert!(svg.starts_with(&format!(r#"<svg width="300" height="{height}""#)));
        // one bar (the second category has none) and two legend squares
        let fill = |c: Rgb| format!(r##"fill="#{:02X}{:02X}{:02X}""##, c.0, c.1, c.2);
        let a = fill(category_colour(0));
        assert_eq!(svg.lines().filter(|l| l.contains(&a)).count(), 2);
        let b = fill(category_colour(1));
        assert_eq!(svg.lines().filter(|l| l.contains(&b)).count(), 1);
    }
}
