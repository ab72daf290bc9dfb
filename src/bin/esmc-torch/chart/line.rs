//! Per-day line charts: one or more panels side by side, one line per series (dots on
//! its days, dashed for oracles), grey dashed reference lines, days on the x axis.

use super::{
    AXIS, Area, Axis, CHAR_W, Drawn, GREY, GRID, LABEL_PX, LegendEntry, MARGIN_RIGHT, Mark,
    Y_LABEL_W, empty_panel, frame, page, panel_builder, text, y_axis,
};
use chrono::NaiveDate;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// One line: a value per day, `None` where the day has none (the line breaks there).
pub struct Series {
    pub label: String,
    pub colour: super::Rgb,
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

impl Figure {
    /// The figure as an SVG document: `panels × panel width` by `panel height` plus the
    /// title and the legend rows.
    pub fn svg(&self) -> std::io::Result<String> {
        let legend = self.legend_entries();
        page(
            &self.title,
            self.panels.len(),
            self.panel_size,
            &legend,
            |i, area| draw_panel(area, &self.panels[i]),
        )
    }

    /// Writes the figure into an SVG file.
    pub fn save_svg(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.svg()?)
    }

    /// One entry per distinct (label, colour, dash) of a series with a value, in order of
    /// first appearance.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        let mut out: Vec<LegendEntry> = Vec::new();
        for s in self.panels.iter().flat_map(|p| &p.series) {
            let e = LegendEntry {
                label: s.label.clone(),
                colour: s.colour,
                mark: if s.dashed { Mark::Dashed } else { Mark::Line },
            };
            if !out.contains(&e) && s.points.iter().any(|p| p.1.is_some()) {
                out.push(e);
            }
        }
        out
    }
}

/// Draws `panel` into `area`: x is days since the panel's first day.
fn draw_panel(area: &Area, panel: &Panel) -> Drawn {
    let mut builder = panel_builder(area, &panel.title);
    let values: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let (w, h) = area.dim_in_pixel();
    let days = Days::of(panel, w.saturating_sub(Y_LABEL_W + MARGIN_RIGHT));
    let Some(days) = days.filter(|_| !values.is_empty()) else {
        return empty_panel(builder, "no evaluated days");
    };
    let (lo, hi) = values
        .iter()
        .chain(panel.reference.iter().filter(|v| v.is_finite()))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (ylo, yhi, ticks) = y_axis(lo, hi, 0.05, 0.05, h);
    let (x0, x1) = days.range();
    let mut chart = builder.build_cartesian_2d(
        Axis::new(x0..x1, days.ticks.clone()),
        Axis::new(ylo..yhi, ticks.values.clone()),
    )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style(text(LABEL_PX, AXIS, HPos::Center, VPos::Top))
        .x_label_formatter(&|x| days.label(*x))
        .y_label_formatter(&|v| format!("{v:.*}", ticks.decimals))
        .x_desc(days.caption())
        .axis_desc_style(text(LABEL_PX, GREY, HPos::Center, VPos::Top))
        .draw()?;
    frame(&chart)?;
    for &r in panel.reference.iter().filter(|v| v.is_finite()) {
        let style = GREY.stroke_width(1);
        chart.draw_series([DashedPathElement::new([(x0, r), (x1, r)], 4, 4, style)])?;
    }
    for s in &panel.series {
        draw_series(&mut chart, s, &days)?;
    }
    Ok(())
}

/// A line panel's chart.
type LineChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Draws one series: a line per stretch of days with values (dashed for an oracle), a dot
/// on each day of a solid line (and on a dashed line's lone day).
fn draw_series(chart: &mut LineChart, s: &Series, days: &Days) -> Drawn {
    let style = s.colour.stroke_width(2);
    for run in runs(&s.points, |d| days.x(d)) {
        if s.dashed {
            chart.draw_series([DashedPathElement::new(run.clone(), 6, 4, style)])?;
        } else {
            chart.draw_series([PathElement::new(run.clone(), style)])?;
        }
        let radius = match (s.dashed, run.len()) {
            (false, _) => 3,
            (true, 1) => 2,
            (true, _) => continue,
        };
        let dots = run
            .iter()
            .map(|&p| Circle::new(p, radius, s.colour.filled()));
        chart.draw_series(dots)?;
    }
    Ok(())
}

/// The x axis of a line panel: days from the first to the last as 0, 1, ..., a little
/// inset (a single day sits in the middle), labelled every `step` days as MM-DD (with
/// the year in the caption) or YYYY-MM-DD when the days span years.
struct Days {
    first: NaiveDate,
    span: i64,
    one_year: bool,
    ticks: Vec<f64>,
}

impl Days {
    /// The days of `panel`'s series, labelled to fit `width` pixels; `None` when it has none.
    fn of(panel: &Panel, width: u32) -> Option<Days> {
        let days = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let (first, last) = (days.clone().min()?, days.max()?);
        let span = (last - first).num_days();
        let one_year = first.format("%Y").to_string() == last.format("%Y").to_string();
        let mut out = Days {
            first,
            span,
            one_year,
            ticks: Vec::new(),
        };
        let label_w = (CHAR_W * out.label(0.0).len() + 12) as i64;
        let per_label = (width as i64 / label_w).max(1);
        let step = ((span + per_label) / per_label).max(1);
        out.ticks = (0..=span)
            .step_by(step as usize)
            .map(|d| d as f64)
            .collect();
        Some(out)
    }

    fn range(&self) -> (f64, f64) {
        let inset = if self.span == 0 {
            0.5
        } else {
            self.span as f64 * 0.02
        };
        (-inset, self.span as f64 + inset)
    }

    fn x(&self, day: NaiveDate) -> f64 {
        (day - self.first).num_days() as f64
    }

    fn label(&self, x: f64) -> String {
        let day = self.first + chrono::Duration::days(x.round() as i64);
        let fmt = if self.one_year { "%m-%d" } else { "%Y-%m-%d" };
        day.format(fmt).to_string()
    }

    fn caption(&self) -> String {
        if self.one_year {
            format!("dt ({})", self.first.format("%Y"))
        } else {
            "dt".into()
        }
    }
}

/// The stretches of consecutive days with a finite value, as (x, value) points.
fn runs(
    points: &[(NaiveDate, Option<f64>)],
    x_of: impl Fn(NaiveDate) -> f64,
) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(d, v) in points {
        match v.filter(|v| v.is_finite()) {
            Some(v) => out.last_mut().expect("one run").push((x_of(d), v)),
            None if out.last().is_some_and(|r| !r.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, d).unwrap()
    }

    #[test]
    fn runs_break_at_missing_and_non_finite_values() {
        let points = [
            (day(1), None),
            (day(2), Some(0.7)),
            (day(3), Some(0.72)),
            (day(4), Some(f64::NAN)),
            (day(5), Some(0.71)),
        ];
        let r = runs(&points, |d| (d - day(1)).num_days() as f64);
        assert_eq!(r, [vec![(1.0, 0.7), (2.0, 0.72)], vec![(4.0, 0.71)]]);
    }

    #[test]
    fn figure_size_is_panels_wide_plus_title_and_legend() {
        let series = |label: &str, dashed| Series {
            label: label.into(),
            colour: super::super::run_colour(0),
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
        let svg = fig.svg().unwrap();
        let height = super::super::TITLE_H + 300 + super::super::LEGEND_ROW_H + 10;
        assert!(
            svg.starts_with(&format!(r#"<svg width="600" height="{height}""#)),
            "{}",
            &svg[..80]
        );
        assert_eq!(fig.legend_entries().len(), 2);
    }
}
