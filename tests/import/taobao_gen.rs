//! `esmc import taobao` on generated files: every kind of drop counted, a non-empty
//! warehouse refused, --overwrite, and a killed import that leaves nothing visible.

use super::{esmc, ok, parquet_files, summary};
use std::io::Write;
use std::path::Path;

/// 1 PM China time on 2017-11-27, unix seconds.
const T0: i64 = 1_511_758_800;

/// `users` users of `per_user` rows each, grouped by user.
fn generated(path: &Path, users: i64, per_user: i64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for u in 0..users {
        for j in 0..per_user {
            let b = ["pv", "pv", "pv", "cart", "fav", "buy"][(j % 6) as usize];
            writeln!(f, "{},{},{},{b},{}", u + 1, 100 + j % 7, 9, T0 + 60 * j).unwrap();
        }
    }
}

#[test]
fn taobao_drops_are_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ub.csv");
    let lines = [
        "1,10,5,pv,1511758800",
        "1,10,5,pv,1511758800", // exact duplicate
        "1,10,5,cart,1511758860",
        "1,11,5,pv,1400000000",    // outside the documented range
        "1,11,5,click,1511758900", // unknown behaviour
        "2,10,5,pv,1511758800",
        "2,10,6,buy,1511758870", // another category for item 10
        "1,12,5,fav,1511758990", // user 1 again: a reopened block
        "3,10,5,pv,1511758800",
        "3,10,5,pv,15117", // truncated last line, out of range
    ];
    let mut text = lines.join("\n");
    text.push_str("\n3,10,5,p"); // truncated mid-field: malformed
    std::fs::write(&input, text).unwrap();
    let root = dir.path().join("w");
    let (i, r) = (input.to_str().unwrap(), root.to_str().unwrap());
    let stdout = ok(&esmc(&[
        "import",
        "taobao",
        "--input",
        i,
        "--root",
        r,
        "--drop-last-user",
    ]));
    let s = summary(&root);
    assert_eq!(s["lines"], 11);
    assert_eq!(s["dropped"]["malformed"], 2, "{s}");
    assert_eq!(s["dropped"]["out_of_range"], 2, "{s}");
    assert_eq!(s["dropped"]["duplicate"], 1, "{s}");
    assert_eq!(s["dropped"]["last_user"], 1, "{s}");
    assert_eq!(s["last_user_dropped"], 3);
    assert_eq!(s["user_blocks_reopened"], 1);
    assert_eq!(s["imported_rows"], 5);
    assert_eq!(s["items_with_several_categories"], 1);
    assert_eq!(s["imported_rows_by_behavior"]["pv"], 2);
    assert!(stdout.contains("2 malformed"), "{stdout}");
    // pv -> exposure + click, cart, fav -> wish, buy -> purchase; user and item snapshots
    for t in ["exposure", "click", "cart", "wish", "purchase"] {
        assert!(root.join(format!("logs/{t}/dt=2017-11-27")).is_dir(), "{t}");
    }
    assert_eq!(parquet_files(&root.join("logs/item")).len(), 10);
    assert_eq!(parquet_files(&root.join("logs/user")).len(), 10);
}

#[test]
fn taobao_refuses_a_non_empty_warehouse_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ub.csv");
    generated(&input, 3, 12);
    let root = dir.path().join("w");
    let (i, r) = (input.to_str().unwrap(), root.to_str().unwrap());
    ok(&esmc(&["import", "taobao", "--input", i, "--root", r]));
    let again = esmc(&["import", "taobao", "--input", i, "--root", r]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--overwrite"));
    generated(&input, 2, 6);
    std::fs::create_dir_all(root.join("samples/dt=2017-11-27")).unwrap();
    ok(&esmc(&[
        "import",
        "taobao",
        "--input",
        i,
        "--root",
        r,
        "--overwrite",
    ]));
    assert_eq!(summary(&root)["imported_rows"], 12);
    assert!(
        !root.join("samples").exists(),
        "samples of the old logs removed"
    );
    let hidden: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "staging left behind: {hidden:?}");
}

#[test]
fn a_killed_taobao_import_leaves_no_partition_visible() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ub.csv");
    generated(&input, 20_000, 30);
    let root = dir.path().join("w");
    for delay_ms in [50, 300] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_esmc"))
            .args(["import", "taobao", "--quiet", "--overwrite", "--input"])
            .arg(&input)
            .arg("--root")
            .arg(&root)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        // killed: nothing under logs/; finished first: the complete import
        if root.join("logs").exists() {
            assert!(status.success() || root.join("logs/_import.json").exists());
            assert_eq!(summary(&root)["imported_rows"], 600_000);
        } else {
            assert!(parquet_files(&root).iter().all(|p| {
                p.components()
                    .any(|c| c.as_os_str().to_string_lossy().starts_with(".esmc-import-"))
            }));
        }
    }
    // the next import cleans the killed one's staging
    ok(&esmc(&[
        "import",
        "taobao",
        "--input",
        input.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--overwrite",
    ]));
    assert_eq!(summary(&root)["imported_rows"], 600_000);
    assert!(
        parquet_files(&root)
            .iter()
            .all(|p| p.starts_with(root.join("logs")))
    );
}
