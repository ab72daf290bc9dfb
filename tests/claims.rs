//! `esmc claims` end to end at the tiny test scale (`ESMC_CLAIMS_SCALE=tiny`: 4k rec
//! exposures a day, 2 train days, 1 seed): every claim gets a verdict from real worlds
//! with and without its mechanism, and the markdown, CSV and chart data are written.

use std::process::Command;

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
}
