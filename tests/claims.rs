//! `esmc claims` end to end at the tiny test scale (`ESMC_CLAIMS_SCALE=tiny`: 4k rec
//! exposures a day, 2 train days, 1 seed): every claim gets a verdict from real worlds
//! with and without its mechanism, and the markdown, CSV and chart data are written, and
//! the interval chart draws what the CSV holds.

#[allow(dead_code)] // the report's helpers this test does not use
#[path = "report/svg.rs"]
mod svg;

use std::process::Command;
use svg::Svg;

#[test]
fn every_claim_gets_a_verdict_and_the_tables_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("claims");
    let run = Command::new(env!("CARGO_BIN_EXE_esmc"))
        .args([
            "claims",
            "--quick",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("ESMC_CLAIMS_SCALE", "tiny")
        // the worlds are cached under ESMC_CACHE: a private one per test run
        .env("ESMC_CACHE", dir.path().join("cache"))
        .env_remove("ESMC_FAILPOINT")
        .output()
        .expect("esmc runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows.len() >= 10, "{csv}");
    let verdicts: Vec<&str> = rows.iter().map(|r| r.rsplit(',').next().unwrap()).collect();
    let decided = verdicts
        .iter()
        .filter(|v| ["confirmed", "refuted", "inconclusive"].contains(v))
        .count();
    assert!(decided >= 8, "verdicts: {verdicts:?}\n{csv}");
    // each decided claim's interval holds its mean difference
    for r in &rows {
        let cells: Vec<&str> = r.rsplit(',').collect();
        // ..., with_diff, with_lo, with_hi, without_diff, without_lo, without_hi, verdict
        let num = |i: usize| cells[i].parse::<f64>().ok();
        if let (Some(d), Some(lo), Some(hi)) = (num(6), num(5), num(4)) {
            assert!(lo <= d && d <= hi, "{r}");
        }
    }
    let md = std::fs::read_to_string(out.join("claims.md")).unwrap();
    assert!(md.contains("| ESMM > BASE (entire space) |"), "{md}");
    assert!(
        md.contains("with-selection_bias") && md.contains("with-cart_elsewhere"),
        "{md}"
    );
    assert!(stdout.contains("| claim |"), "{stdout}");
    let chart = std::fs::read_to_string(out.join("claims_intervals.csv")).unwrap();
    assert!(chart.lines().count() > decided, "{chart}");
    let svg = svg::svg(&out.join("claims_intervals.svg"));
    forest_plot_draws_the_csv(&svg, &chart);
}

/// One row of claims_intervals.csv: claim, world, diff, lo, hi.
struct Interval {
    claim: String,
    diff: f64,
    lo: f64,
    hi: f64,
}

fn intervals(csv: &str) -> Vec<Interval> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.rsplitn(5, ',').collect();
            let num = |i: usize| {
                cells[i]
                    .parse::<f64>()
                    .unwrap_or_else(|e| panic!("{l}: {e}"))
            };
            Interval {
                claim: cells[4].trim_matches('"').to_string(),
                diff: num(2),
                lo: num(1),
                hi: num(0),
            }
        })
        .collect()
}

/// The verdict colours: confirmed green, refuted red, inconclusive grey.
const COLOURS: [&str; 3] = ["#2CA02C", "#D62728", "#808080"];

/// claims_intervals.svg: the title, one bar and dot per CSV row in the CSV's order, on
/// one x scale, each on its side of the zero line and coloured by it, labelled with its
/// claim; the legend of the three verdicts below the plot.
fn forest_plot_draws_the_csv(c: &Svg, csv: &str) {
    let rows = intervals(csv);
    assert!(c.has_text("Claims at the tiny scale: A − B with 95% intervals"));
    assert_eq!(c.frames.len(), 1, "one plot area");
    let frame = c.frames[0];
    // the zero line: the black vertical line through the plot area
    let zero: Vec<_> = c.lines_in("#000000", frame);
    assert_eq!(zero.len(), 1, "{zero:?}");
    let zero_x = zero[0][0].0;
    assert!(
        zero[0].iter().all(|p| p.0 == zero_x),
        "zero line is vertical"
    );
    // bars: horizontal lines in a verdict colour, top to bottom
    let mut bars: Vec<(&str, (f64, f64), f64)> = COLOURS
        .iter()
        .flat_map(|&colour| {
            c.lines_in(colour, frame)
                .into_iter()
                .map(move |l| (colour, l))
        })
        .map(|(colour, l)| {
            assert_eq!(l.len(), 2, "{l:?}");
            assert_eq!(l[0].1, l[1].1, "a bar is horizontal: {l:?}");
            (colour, (l[0].0.min(l[1].0), l[0].0.max(l[1].0)), l[0].1)
        })
        .collect();
    bars.sort_by(|a, b| a.2.total_cmp(&b.2));
    assert_eq!(bars.len(), rows.len(), "one bar per CSV row\n{csv}");
    let mut scale: Vec<(f64, f64)> = vec![(0.0, zero_x)];
    for (row, &(colour, (x0, x1), y)) in rows.iter().zip(&bars) {
        assert!(row.lo <= row.diff && row.diff <= row.hi, "{}", row.claim);
        let dots: Vec<f64> = c
            .dots
            .iter()
            .filter(|d| d.0 == colour && (d.1.1 - y).abs() <= 1.0)
            .map(|d| d.1.0)
            .collect();
        assert_eq!(dots.len(), 1, "one dot on the bar of {}", row.claim);
        let dx = dots[0];
        assert!(x0 <= dx && dx <= x1, "{}: {x0} <= {dx} <= {x1}", row.claim);
        scale.extend([(row.lo, x0), (row.diff, dx), (row.hi, x1)]);
        let expected = if row.lo > 0.0 {
            assert!(x0 >= zero_x, "{} is right of zero", row.claim);
            COLOURS[0]
        } else if row.hi < 0.0 {
            assert!(x1 <= zero_x, "{} is left of zero", row.claim);
            COLOURS[1]
        } else {
            assert!(x0 <= zero_x && zero_x <= x1, "{} spans zero", row.claim);
            COLOURS[2]
        };
        assert_eq!(colour, expected, "{}", row.claim);
        let label = c
            .texts
            .iter()
            .find(|t| t.0 < frame.0 && (t.1 - y).abs() <= 2.0)
            .unwrap_or_else(|| panic!("no row label at y {y}"));
        assert_eq!(label.2, row.claim);
    }
    // every value on one x scale: a larger value is never drawn further left
    scale.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(scale.windows(2).all(|w| w[0].1 <= w[1].1), "{scale:?}");
    for verdict in ["confirmed", "refuted", "inconclusive"] {
        let (_, y) = c
            .text(verdict)
            .unwrap_or_else(|| panic!("no legend {verdict}"));
        assert!(y > frame.3, "legend {verdict} below the plot");
    }
}
