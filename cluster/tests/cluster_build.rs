//! The build on a Ballista cluster inside this process (a scheduler and two executors
//! on ephemeral ports, talking gRPC and Arrow Flight): the partition of a messy
//! simulated day is byte-identical to the local build's, the manifest's counts agree,
//! and a scheduler that is not there fails in seconds.

use chrono::NaiveDate;
use esmc_cluster::{Cluster, ClusterError, LocalCluster};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, FeatureConfig, NoProgress};
use esmc_schemas::{Table, Warehouse};
use esmc_sim::{Messiness, NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config() -> BuildConfig {
    BuildConfig {
        features: FeatureConfig {
            windows_days: vec![1, 3],
            cart_ttl_days: 2,
            sequence_len: 5,
            ..FeatureConfig::default()
        },
        max_reject_rate: 0.5,
        ..BuildConfig::default()
    }
}

/// A messy eleme world (duplicates, late, malformed rows, missing exposure ids).
fn world(root: &Path) {
    let mut sim = SimConfig::sized(Preset::Eleme, 4_000, 5, 21);
    sim.shards = 2;
    sim.messiness = Messiness {
        duplicate_rate: 0.02,
        late_rate: 0.02,
        missing_exposure_id_rate: 0.02,
        malformed_rate: 0.002,
    };
    let opts = RunOptions {
        threads: 2,
        overwrite: true,
    };
    esmc_sim::simulate(&sim, root, opts, &SimQuiet).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The day's part files, by name, with their bytes.
fn parts(root: &Path, day: NaiveDate) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> =
        std::fs::read_dir(Warehouse::new(root).samples_dir(day))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
    files.sort();
    files
}

fn opts(threads: usize) -> BuildOptions {
    BuildOptions {
        threads,
        ..BuildOptions::default()
    }
}

#[test]
fn a_cluster_build_writes_the_bytes_of_a_local_build() {
    let local = tempfile::tempdir().unwrap();
    world(local.path());
    let remote = tempfile::tempdir().unwrap();
    copy_tree(&local.path().join("logs"), &remote.path().join("logs"));
    let day = Warehouse::new(local.path())
        .log_days(Table::Exposure)
        .unwrap()[2];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let here = rt
        .block_on(Builder::new(local.path(), config(), opts(2)).build(day, &NoProgress))
        .unwrap();
    let there = rt.block_on(async {
        let cluster = LocalCluster::start(2, 2).await.unwrap();
        // 3 partitions of users over 2 executors
        Builder::new(remote.path(), config(), opts(3))
            .on_cluster(Arc::new(cluster.cluster().clone()))
            .build(day, &NoProgress)
            .await
            .unwrap()
    });
    let (a, b) = (&here.manifest, &there.manifest);
    assert!(a.rows > 1_000, "{} samples", a.rows);
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.label_rates, b.label_rates);
    assert_eq!(a.psc_case_counts, b.psc_case_counts);
    assert_eq!(a.quarantined, b.quarantined);
    assert!(
        a.quarantined.values().sum::<u64>() > 0,
        "the messy world has rejects"
    );
    assert_eq!(a.duplicates_dropped, b.duplicates_dropped);
    assert_eq!(a.purchases_attributed, b.purchases_attributed);
    let (pa, pb) = (parts(local.path(), day), parts(remote.path(), day));
    assert!(!pa.is_empty());
    assert_eq!(
        pa.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        pb.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in pa.iter().zip(&pb) {
        assert!(
            x == y,
            "{name} differs: {} vs {} bytes; {}",
            x.len(),
            y.len(),
            first_difference(x, y)
        );
    }
    // the staged partition's spill (the executors' part files) is gone
    let dir = Warehouse::new(remote.path()).samples_dir(day);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("labelled") || n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_scheduler_that_is_not_there_fails_in_seconds() {
    // a port nothing listens on: bind one, then free it
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = Cluster::parse(&format!("df://127.0.0.1:{port}")).unwrap();
    let t = Instant::now();
    let err = cluster.check_reachable().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[test]
fn cluster_addresses_are_checked() {
    assert_eq!(Cluster::parse("df://h:1").unwrap().url(), "df://h:1");
    assert_eq!(Cluster::parse("df://h").unwrap().port(), 50050);
    for bad in ["http://h:1", "df://:1", "df://h:x"] {
        let e = Cluster::parse(bad).unwrap_err();
        assert!(matches!(e, ClusterError::BadUrl { .. }), "{bad}: {e}");
    }
}

/// The first column whose values differ between two Parquet files, for the message.
fn first_difference(x: &[u8], y: &[u8]) -> String {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let read = |b: &[u8]| {
        let batches: Vec<_> =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(b))
                .unwrap()
                .build()
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
    };
    let (a, b) = (read(x), read(y));
    if a.schema() != b.schema() {
        return format!("schemas differ: {:?} vs {:?}", a.schema(), b.schema());
    }
    for (i, f) in a.schema().fields().iter().enumerate() {
        if a.column(i) != b.column(i) {
            let (ca, cb) = (a.column(i), b.column(i));
            let row = (0..ca.len())
                .find(|&r| ca.slice(r, 1) != cb.slice(r, 1))
                .unwrap_or(0);
            let lo = row.saturating_sub(2);
            let n = 5.min(ca.len() - lo);
            return format!(
                "column {} differs first at row {row}: rows {lo}..: {:?} vs {:?}",
                f.name(),
                ca.slice(lo, n),
                cb.slice(lo, n)
            );
        }
    }
    "same values, different encoding".to_string()
}
