//! Byte-for-byte pins: with every mechanism knob at its off value, the simulator writes
//! the same files (logs and `_simulation.json`) as the code before the knobs existed.
//! The hashes below were computed by that earlier code; a change to them is a change to
//! every default world and must be deliberate.

use esmc_sim::{Messiness, NoProgress, Preset, RunOptions, SimConfig, simulate};
use sha2::{Digest, Sha256};
use std::path::Path;

/// sha256 over "relative path<TAB>sha256 of the file<LF>" of every file, sorted by path.
fn tree_hash(root: &Path) -> String {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let digest = Sha256::digest(std::fs::read(&path).unwrap());
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, format!("{digest:x}")));
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.sort();
    let mut h = Sha256::new();
    for (path, digest) in &files {
        h.update(format!("{path}\t{digest}\n"));
    }
    format!("{} files {:x}", files.len(), h.finalize())
}

fn written(cfg: &SimConfig) -> String {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        threads: 2,
        overwrite: false,
    };
    simulate(cfg, dir.path(), opts, &NoProgress).unwrap();
    tree_hash(dir.path())
}

fn taobao() -> SimConfig {
    let mut cfg = SimConfig::sized(Preset::Taobao, 6_000, 2, 7);
    cfg.shards = 2;
    cfg
}

fn messy_eleme() -> SimConfig {
    let mut cfg = SimConfig::sized(Preset::Eleme, 8_000, 3, 11);
    cfg.shards = 3;
    cfg.messiness = Messiness {
        duplicate_rate: 0.02,
        late_rate: 0.01,
        missing_exposure_id_rate: 0.05,
        malformed_rate: 0.005,
    };
    cfg
}

#[test]
fn default_taobao_world_is_written_as_before_the_knobs() {
    assert_eq!(
        written(&taobao()),
        "31 files 41108c549e46e40e6494685c511d51cda315e1d16f80277c6963996caa6237fb"
    );
}

#[test]
fn messy_eleme_world_is_written_as_before_the_knobs() {
    assert_eq!(
        written(&messy_eleme()),
        "67 files d5ad78987836b08cb51ef1442109449929438092795659cfcfca681c1ec9ed53"
    );
}

#[test]
fn each_mechanism_turned_off_again_writes_the_same_bytes() {
    // on and back off through the public API: the same world as never touched
    let mut cfg = taobao();
    for m in esmc_sim::Mechanism::ALL {
        cfg = cfg.with(m, true).with(m, false);
    }
    assert_eq!(cfg, taobao());
    assert_eq!(written(&cfg), written(&taobao()));
    // and an on knob does change the bytes
    let on = taobao().with(esmc_sim::Mechanism::SelectionBias, true);
    assert_ne!(written(&on), written(&taobao()));
}
