//! The kill harness: `esmc build`, `esmc nightly` and `esmc train` killed with SIGKILL at
//! random instants. After each kill: every partition is byte-identical to a complete
//! build (with the calibration its manifest names) or absent, never a mix; every
//! checkpoint directory is complete and loads; the rerun completes; and a training
//! resumed after its kills ends bit-identical to an uninterrupted one.
//!
//! `ESMC_KILLS` sets the number of kills that land on a running process (default 6,
//! spread over the three commands; attempts that find the process done do not count);
//! `ESMC_KILL_SEED` the seed of the instants. `scripts/kill-harness.sh` runs the full one.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DAYS: [&str; 3] = ["2026-11-01", "2026-11-02", "2026-11-03"];

fn esmc(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_esmc"));
    c.arg(args[0])
        .arg("--quiet")
        .arg("--root")
        .arg(root)
        .args(&args[1..]);
    c.current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn ok(out: Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small deterministic generator for the kill instants (xorshift64*).
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `cmd` to the end (a reference run); returns how long it took.
fn timed(mut cmd: Command, what: &str) -> Duration {
    let t = Instant::now();
    ok(cmd.output().unwrap(), what);
    t.elapsed()
}

/// Starts `cmd` and SIGKILLs it after `after` (if it has not ended by then). Returns
/// whether it was killed while running.
fn kill_after(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd.stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while t.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    killed
}

/// The reference bytes of each day's partition, by calibration.
type Refs = BTreeMap<(String, &'static str), Vec<u8>>;

/// Every partition is absent or exactly a complete build with its manifest's
/// calibration; the manifest copy under `_manifests` is valid. Returns the number of
/// partitions checked.
fn check_partitions(root: &Path, refs: &Refs) -> usize {
    let mut seen = 0;
    for day in DAYS {
        let dir = root.join(format!("samples/dt={day}"));
        if !dir.exists() {
            continue;
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["_manifest.json", "part-00000.parquet"],
            "{day}: mixed"
        );
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("_manifest.json")).unwrap()).unwrap();
        let cal = m["config"]["calibration"].as_str().unwrap().to_string();
        let cal: &'static str = if cal == "move" { "move" } else { "copy" };
        let bytes = std::fs::read(dir.join("part-00000.parquet")).unwrap();
        assert!(
            refs[&(day.to_string(), cal)] == bytes,
            "{day}: the partition is not the complete {cal} build its manifest names"
        );
        let copy = root.join(format!("samples/_manifests/dt={day}.json"));
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(copy).unwrap()).unwrap();
        assert!(c["rows"].is_u64());
        seen += 1;
    }
    seen
}

/// Every visible checkpoint directory is complete and loads.
fn check_checkpoints(root: &Path, run: &str) -> usize {
    let dir = root.join("models").join(run);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with("dt=") {
            continue;
        }
        let ck = dir.join(&name);
        for f in [
            "config.json",
            "features.toml",
            "norm.json",
            "state.pt",
            "meta.json",
        ] {
            assert!(
                ck.join(f).exists(),
                "{name}: {f} missing: a mixed checkpoint"
            );
        }
        esmc_trainer::checkpoint::load(&ck).unwrap();
        n += 1;
    }
    n
}

#[path = "support/checkpoint.rs"]
mod checkpoint_state;
use checkpoint_state::state;

const TRAIN_TO: &str = "2026-11-02";

/// Resumes run `k` (or starts it) until it has trained up to TRAIN_TO.
fn train_to_end(root: &Path) {
    let has = root
        .join("models/k")
        .read_dir()
        .is_ok_and(|mut d| d.any(|e| e.unwrap().file_name().to_string_lossy().starts_with("dt=")));
    let args: Vec<&str> = if has {
        vec!["train", "--run", "k", "--resume", "--to", TRAIN_TO]
    } else {
        vec!["train", "--run", "k", "--from", DAYS[0], "--to", TRAIN_TO]
    };
    let mut all = args.clone();
    all.extend(["--train-config", "t.toml"]);
    ok(
        esmc(root, if has { &args } else { &all }).output().unwrap(),
        "train rerun",
    );
}

// Long because: one scenario in order: references, random kills, reruns checked.
#[test]
fn sigkill_at_random_instants_never_leaves_a_mix() {
    let kills: usize = std::env::var("ESMC_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("ESMC_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    ok(
        esmc(
            root,
            &[
                "simulate",
                "--days",
                "6",
                "--exposures-per-day",
                "4000",
                "--start",
                DAYS[0],
            ],
        )
        .output()
        .unwrap(),
        "simulate",
    );
    std::fs::write(
        root.join("t.toml"),
        "embedding_dim = 4\nhidden = [8]\nthreads = 1\nbatch_size = 256\n",
    )
    .unwrap();
    // references: each day built complete with each calibration, timed
    let mut refs = Refs::new();
    let mut build_time = Duration::ZERO;
    for cal in ["copy", "move"] {
        for day in DAYS {
            let args = ["build", "--dt", day, "--calibration", cal];
            build_time = build_time.max(timed(esmc(root, &args), "reference build"));
            let p = root.join(format!("samples/dt={day}/part-00000.parquet"));
            refs.insert((day.to_string(), cal), std::fs::read(p).unwrap());
        }
    }
    let nightly = |cal: &str| esmc(root, &["nightly", "--dt", DAYS[2], "--calibration", cal]);
    let nightly_time = timed(nightly("copy"), "reference nightly");
    // an uninterrupted training (run u), then the run k that is killed and resumed
    let mut args = vec!["train", "--run", "u", "--from", DAYS[0], "--to", TRAIN_TO];
    args.extend(["--train-config", "t.toml"]);
    let train_time = timed(esmc(root, &args), "reference training");
    let reference = state(root, "u", TRAIN_TO);

    let (mut killed, mut finished) = (BTreeMap::new(), 0);
    let mut cal = "move";
    let mut i = 0;
    // until `kills` kills have landed on a running process (attempts capped)
    while killed.values().sum::<usize>() < kills && i < 3 * kills {
        i += 1;
        cal = if cal == "move" { "copy" } else { "move" };
        let (what, cmd, span) = match i % 3 {
            0 => (
                "build",
                esmc(root, &["build", "--dt", DAYS[1], "--calibration", cal]),
                build_time,
            ),
            1 => ("nightly", nightly(cal), nightly_time),
            _ => {
                if root.join(format!("models/k/dt={TRAIN_TO}")).exists() {
                    std::fs::remove_dir_all(root.join("models/k")).unwrap();
                }
                let mut a = vec!["train", "--run", "k", "--from", DAYS[0], "--to", TRAIN_TO];
                let has = root.join(format!("models/k/dt={}", DAYS[0])).exists();
                if has {
                    a = vec!["train", "--run", "k", "--resume", "--to", TRAIN_TO];
                }
                a.extend(["--train-config", "t.toml"]);
                ("train", esmc(root, &a), train_time)
            }
        };
        let after = span.mul_f64(0.9 * rng.unit());
        if kill_after(cmd, after) {
            *killed.entry(what).or_insert(0) += 1;
        } else {
            finished += 1;
        }
        check_partitions(root, &refs);
        check_checkpoints(root, "k");
        if what == "train" {
            // the resumed run ends bit-identical to the uninterrupted one
            train_to_end(root);
            assert!(
                state(root, "k", TRAIN_TO) == reference,
                "kill {i}: resumed training differs"
            );
        }
    }
    // reruns complete and leave no staging behind
    let out = nightly(cal).output().unwrap();
    // 0: rebuilt what the kills left stale; 3: nothing to do
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "nightly rerun: {out:?}"
    );
    ok(
        esmc(root, &["build", "--dt", DAYS[1], "--calibration", cal])
            .output()
            .unwrap(),
        "build rerun",
    );
    assert_eq!(check_partitions(root, &refs), DAYS.len());
    let stale: Vec<String> = std::fs::read_dir(root.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
    let total: usize = killed.values().sum();
    eprintln!(
        "kill harness: {i} attempts, {total} killed while running {killed:?}, {finished} \
         finished first; 0 mixed states; reference times build {build_time:?}, nightly \
         {nightly_time:?}, train {train_time:?}"
    );
    assert!(
        total >= kills,
        "too few kills landed: {killed:?} of {i} attempts"
    );
}
