//! `esmc import ali-ccp` on generated files in the exact Ali-CCP format (\x01 \x02 \x03
//! separators, a multi-valued user field, malformed rows and missing common keys), then
//! ESMM trained end to end on the imported warehouse with the written feature spec.

use super::{esmc, ok};
use std::fmt::Write as _;
use std::path::Path;

/// A deterministic stream of numbers in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn entry(out: &mut String, field: &str, id: u64) {
    if !out.is_empty() {
        out.push('\x01');
    }
    write!(out, "{field}\x02{id}\x031.0").unwrap();
}

/// Writes `rows` skeleton lines over `keys` users; returns (malformed, missing) written.
/// Clicks and conversions depend on the user's and the item's hidden taste.
fn generate(dir: &Path, tag: &str, keys: u64, rows: u64, seed: u64) -> (u64, u64) {
    let mut rng = Lcg(seed);
    let mut common = String::new();
    for k in 0..keys {
        let mut f = String::new();
        entry(&mut f, "101", k);
        for (i, field) in ["121", "122", "124", "125", "126", "127", "128", "129"]
            .iter()
            .enumerate()
        {
            entry(&mut f, field, (k + i as u64) % 5);
        }
        for field in ["109_14", "110_14", "127_14", "150_14"] {
            entry(&mut f, field, 1000 + k % 37);
            entry(&mut f, field, 2000 + k % 11); // several entries: the first is kept
        }
        writeln!(common, "key{k:08x},{},{f}", f.split('\x01').count()).unwrap();
    }
    common.push_str("broken-common-line\n");
    let mut skeleton = String::new();
    let (mut malformed, mut missing) = (0, 0);
    for s in 0..rows {
        let user = (rng.next() * keys as f64) as u64;
        let item = (rng.next() * 400.0) as u64;
        let taste = ((user % 7) as f64 / 7.0 + (item % 5) as f64 / 5.0) / 2.0;
        let click = rng.next() < 0.05 + 0.4 * taste;
        let buy = click && rng.next() < 0.1 + 0.5 * taste;
        let mut f = String::new();
        for (field, id) in [
            ("205", item),
            ("206", item % 40),
            ("207", item % 90),
            ("216", item % 60),
            ("210", item % 13),
            ("508", item % 3),
            ("509", user % 9),
            ("702", item % 17),
            ("853", item % 19),
            ("301", s % 3),
        ] {
            entry(&mut f, field, id);
        }
        let key = if s % 97 == 5 {
            missing += 1;
            "key-not-in-common".to_string()
        } else {
            format!("key{user:08x}")
        };
        let line = match s % 211 {
            7 => {
                malformed += 1;
                format!("{s},1,0,{key}")
            } // fields missing
            8 => {
                malformed += 1;
                format!("{s},0,1,{key},10,{f}")
            } // conversion without click
            9 => {
                malformed += 1;
                format!("{s},1,0,{key},10,{f}\x01205\x02x\x031")
            } // bad entry
            _ => format!("{s},{},{},{key},10,{f}", click as u8, buy as u8),
        };
        // a missing-key line that is also malformed counts as malformed only
        if s % 97 == 5 && (7..=9).contains(&(s % 211)) {
            missing -= 1;
        }
        skeleton.push_str(&line);
        skeleton.push('\n');
    }
    std::fs::write(dir.join(format!("sample_skeleton_{tag}.csv")), skeleton).unwrap();
    std::fs::write(dir.join(format!("common_features_{tag}.csv")), common).unwrap();
    (malformed, missing)
}

fn import(dir: &Path, tag: &str, day: &str, extra: &[&str]) -> std::process::Output {
    let p = |f: &str| {
        dir.join(format!("{f}_{tag}.csv"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let root = dir.join("w");
    let mut args = vec![
        "import".to_string(),
        "ali-ccp".into(),
        "--skeleton".into(),
        p("sample_skeleton"),
        "--common".into(),
        p("common_features"),
        "--root".into(),
        root.to_str().unwrap().into(),
        "--day".into(),
        day.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    esmc(&args)
}

#[test]
fn ali_ccp_imports_counts_bad_rows_and_trains_esmm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bad_train, missing_train) = generate(d, "train", 500, 30_000, 1);
    let (bad_test, missing_test) = generate(d, "test", 500, 8_000, 2);
    assert!(bad_train > 0 && missing_train > 0);
    let out = ok(&import(d, "train", "2018-01-01", &[]));
    assert!(
        out.contains(&format!("{bad_train} malformed dropped")),
        "{out}"
    );
    ok(&import(d, "test", "2018-01-02", &[]));
    let refused = import(d, "test", "2018-01-02", &[]);
    assert!(
        !refused.status.success(),
        "an existing partition is refused"
    );
    ok(&import(d, "test", "2018-01-02", &["--overwrite"]));
    for (day, bad, missing, rows) in [
        ("2018-01-01", bad_train, missing_train, 30_000),
        ("2018-01-02", bad_test, missing_test, 8_000),
    ] {
        let text =
            std::fs::read_to_string(d.join(format!("w/samples/_import/dt={day}.json"))).unwrap();
        let s: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(s["skeleton_lines"], rows, "{day}");
        assert_eq!(s["malformed_dropped"], bad, "{day}");
        assert_eq!(
            s["missing_common_key_kept_with_null_user_fields"], missing,
            "{day}"
        );
        assert_eq!(s["rows"], rows - bad, "{day}");
        assert_eq!(s["common_malformed_dropped"], 1);
        assert_eq!(s["common_keys"], 500);
        assert!(
            s["common_lines_with_a_multi_valued_field"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    let root = d.join("w");
    let features = root.join("ali_ccp_features.toml");
    let cfg = d.join("train.toml");
    std::fs::write(&cfg, "embedding_dim = 8\nhidden = [32, 16]\nthreads = 1\nbatch_size = 256\n[optimizer]\nkind = \"adam\"\nlr = 0.01\n").unwrap();
    let stdout = ok(&esmc(&[
        "train",
        "--root",
        root.to_str().unwrap(),
        "--model",
        "esmm",
        "--from",
        "2018-01-01",
        "--to",
        "2018-01-02",
        "--features",
        features.to_str().unwrap(),
        "--train-config",
        cfg.to_str().unwrap(),
    ]));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("2018-01-02"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    let (ctr_auc, cvr_auc): (f64, f64) = (cols[5].parse().unwrap(), cols[7].parse().unwrap());
    // the generated taste is learnable: the test day, scored out of sample, beats chance
    assert!(ctr_auc > 0.6, "CTR-AUC {ctr_auc}\n{stdout}");
    assert!(cvr_auc > 0.5, "CVR-AUC {cvr_auc}\n{stdout}");
}
