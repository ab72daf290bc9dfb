//! What the report's charts of `two_runs` (tests/report.rs) must show: titles, axes and
//! legend, each run's line through its values on the y axis' scale, the reference lines.

use super::svg::Svg;

/// The CVR-AUC chart of `two_runs`: title, axes, legend, and each run's line through its
/// values on the y axis' scale.
pub fn cvr_auc_draws_both_runs_and_the_oracle(c: &Svg) {
    assert!(c.has_text("CVR-AUC per day (out-of-sample)"));
    assert_eq!(c.frames.len(), 1, "one panel");
    let frame = c.frames[0];
    // x: the four days left to right, with the year under them
    let days: Vec<f64> = ["01-01", "01-02", "01-03", "01-04"]
        .iter()
        .map(|d| c.text(d).unwrap_or_else(|| panic!("no x label {d}")).0)
        .collect();
    assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
    assert!(c.has_text("dt (2025)"));
    // legend: one entry per series with values (beta has no oracle)
    let alpha = c.legend_colour("alpha");
    let beta = c.legend_colour("beta");
    let oracle = c.legend_colour("alpha oracle");
    assert!(!c.has_text("beta oracle"));
    assert!(alpha != beta && alpha != oracle && beta != oracle);

    // alpha: one line through days 2-4 at 0.65, 0.66, 0.70 (day 1 has no metric)
    let lines = c.lines_in(&alpha, frame);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let a = lines[0];
    assert_eq!(a.len(), 3);
    for (p, (day, v)) in a.iter().zip([(1, 0.65), (2, 0.66), (3, 0.70)]) {
        assert!((p.0 - days[day]).abs() <= 2.0, "{p:?} not at day {day}");
        let y = c.y_of(v, frame);
        assert!((p.1 - y).abs() <= 2.0, "{v} drawn at y {} not {y}", p.1);
    }
    assert!(
        a[0].1 > a[1].1 && a[1].1 > a[2].1,
        "higher AUC drawn higher"
    );
    // beta: 0.61, 0.63 on days 2-3, below alpha on the same days
    let b = c.lines_in(&beta, frame);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].len(), 2);
    assert!(b[0][0].1 > b[0][1].1);
    assert_eq!((b[0][0].0, b[0][1].0), (a[0].0, a[1].0));
    assert!(
        b[0][0].1 > a[0].1 && b[0][1].1 > a[1].1,
        "beta's lower AUC drawn lower"
    );
    // a dot on every solid line's day; the oracle (0.80..0.82) dashed, above alpha
    let dots = |colour: &str| c.dots.iter().filter(|d| d.0 == colour).count();
    assert_eq!((dots(&alpha), dots(&beta)), (3, 2));
    let dashes = c.lines_in(&oracle, frame);
    assert!(dashes.len() >= 3, "the oracle is dashed: {dashes:?}");
    let top = dashes
        .iter()
        .flat_map(|d| d.iter())
        .map(|p| p.1)
        .fold(f64::MAX, f64::min);
    assert!(top < a[2].1);
}

/// The calibration chart: one panel per task, each with the grey dashed line at 1.0.
pub fn calibration_has_three_panels_and_the_reference(c: &Svg) {
    assert_eq!(c.frames.len(), 3);
    let titles: Vec<f64> = ["CTR", "CTCVR", "CVR"]
        .iter()
        .map(|t| c.text(t).unwrap_or_else(|| panic!("no panel {t}")).0)
        .collect();
    assert!(titles.windows(2).all(|w| w[0] < w[1]));
    for (frame, title_x) in c.frames.iter().zip(&titles) {
        assert!(
            frame.0 < *title_x && *title_x < frame.2,
            "title over its panel"
        );
        let one = c.y_of(1.0, *frame);
        let reference = c.lines_in("#808080", *frame);
        assert!(!reference.is_empty(), "no reference line");
        for p in reference.iter().flat_map(|l| l.iter()) {
            assert!((p.1 - one).abs() <= 2.0, "reference at {} not {one}", p.1);
        }
    }
}
