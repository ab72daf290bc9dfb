//! `esmc stats`' daily health check on the fixture.

use crate::fixture;
use chrono::NaiveDate;
use esmc_sql::{Catalogue, SqlError, stats};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn label_moves_against_the_trailing_days_are_flagged_by_threshold() {
    let (rt, ctx) = fixture::session();
    let catalogue = Catalogue::builtin().unwrap();
    let check = |dt: &str, threshold: f64| {
        rt.block_on(stats::daily_health(&ctx, &catalogue, day(dt), threshold))
            .unwrap()
    };

    let h = check("2026-11-05", 1e9);
    assert_eq!(h.trailing_days.len(), 4, "{:?}", h.trailing_days);
    assert!(h.samples > 0);
    assert_eq!(h.flagged().count(), 0);
    let click = h.checks.iter().find(|c| c.label == "click").unwrap();
    assert!(click.rate > 0.03 && click.rate < 0.09, "{click:?}");
    let mean = click.trailing_mean.unwrap();
    assert!((click.change.unwrap() - (click.rate / mean - 1.0)).abs() < 1e-12);

    // threshold 0: every label that moved at all is flagged, but on a provisional day
    // not the labels late purchases still change
    let h = check("2026-11-05", 0.0);
    assert!(h.provisional);
    for c in &h.checks {
        let window = stats::WINDOW_LABELS.contains(&c.label);
        assert_eq!(c.held_back, window, "{c:?}");
        assert_eq!(c.flagged, !window && c.change.unwrap() != 0.0, "{c:?}");
    }
    assert!(h.flagged().count() > 0);
    // a mature day holds nothing back
    let h2 = check("2026-11-02", 0.0);
    assert!(!h2.provisional && h2.checks.iter().all(|c| !c.held_back));
    // the @health queries ran over [D-7, D]
    let names: Vec<&str> = h.sections.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["daily_funnel", "label_rates", "quarantine_summary"]);

    // the first day has no trailing days: nothing can be flagged
    let h = check("2026-11-01", 0.0);
    assert!(h.trailing_days.is_empty());
    assert!(h.checks.iter().all(|c| c.change.is_none() && !c.flagged));
}

#[test]
fn a_day_without_samples_is_named() {
    let (rt, ctx) = fixture::session();
    let catalogue = Catalogue::builtin().unwrap();
    let err = rt
        .block_on(stats::daily_health(
            &ctx,
            &catalogue,
            day("2026-12-01"),
            0.2,
        ))
        .unwrap_err();
    assert!(matches!(err, SqlError::NoSamples { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "no samples for dt 2026-12-01: build the day first (esmc build --dt 2026-12-01)"
    );
}
