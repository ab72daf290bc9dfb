//! The rolled prior state (`features/prior/dt=D/`): a build rolls the state of the day
//! before when it is intact and made of the same counts files, else sums the days; a
//! damaged state or a dead job's staging directory never changes a sample byte.

use super::*;

/// The manifest of `day`'s prior state.
fn state(root: &Path, day: NaiveDate) -> String {
    let path = root.join(format!("features/prior/dt={day}/_manifest.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The prior states kept, by day.
fn kept(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("features/prior"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Asserts that each of `days` has a prior state rolled from the day before's.
pub(super) fn assert_rolled(root: &Path, days: &[NaiveDate]) {
    for &d in days {
        let prev = d.pred_opt().unwrap();
        let m = state(root, d);
        assert!(m.contains(&format!("\"rolled_from\": \"{prev}\"")), "{m}");
    }
}

#[test]
fn a_damaged_prior_state_is_summed_instead_and_a_dead_jobs_staging_removed() {
    let root = world(7);
    let built = built_days(root.path());
    build_days(root.path(), &built, false);
    let before = sample_bytes(root.path(), &built);
    let last = *built.last().unwrap();
    let prev = last.pred_opt().unwrap();
    // only the states of the last five days are kept
    let want: BTreeSet<String> = built[built.len() - 5..]
        .iter()
        .map(|d| format!("dt={d}"))
        .collect();
    assert_eq!(kept(root.path()), want);
    assert_rolled(root.path(), &built[built.len() - 5..]);

    // yesterday's state truncated: today sums its days, with the same bytes
    let uc = root
        .path()
        .join(format!("features/prior/dt={prev}/prior_uc.arrow"));
    truncate_half(&uc);
    build_days(root.path(), &[last], false);
    let m = state(root.path(), last);
    assert!(m.contains("\"rolled_from\": null"), "{m}");
    assert_eq!(before[&last], sample_bytes(root.path(), &[last])[&last]);

    // a job killed while staging today's state: its directory is removed by the next
    // build, which rolls yesterday's rebuilt state
    let staged = root
        .path()
        .join(format!("features/prior/.dt={last}.tmp-999999999-1-0"));
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::write(staged.join("prior_uc.arrow"), b"ARROW1 half").unwrap();
    build_days(root.path(), &[prev, last], false);
    assert!(!staged.exists(), "the dead job's staging directory is left");
    assert_rolled(root.path(), &[prev, last]);
    assert_eq!(before, sample_bytes(root.path(), &built));
}
