//! `esmc cluster scheduler`, `esmc cluster executor` and `esmc nightly --cluster` as a
//! user runs them: separate processes on free ports, the partitions compared with a
//! local nightly's; a scheduler that is not there fails the build in seconds.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn esmc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_esmc"))
}

fn run(args: &[&str]) -> Output {
    esmc().args(args).output().expect("esmc runs")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Processes stopped (SIGKILL) when the test ends, passing or not.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(port: u16) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn(args: &[String]) -> Child {
    esmc()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn simulate(root: &Path) {
    let out = run(&[
        "simulate",
        "--root",
        root.to_str().unwrap(),
        "--preset",
        "eleme",
        "--days",
        "4",
        "--exposures-per-day",
        "5000",
        "--start",
        "2026-11-01",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn parts(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for day in std::fs::read_dir(root.join("samples")).unwrap() {
        let day = day.unwrap().path();
        if !day
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("dt=")
        {
            continue;
        }
        for f in std::fs::read_dir(&day).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "parquet") {
                out.push((f.display().to_string(), std::fs::read(&f).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_nightly_on_a_cluster_of_processes_writes_the_local_partitions() {
    let local = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    simulate(local.path());
    simulate(remote.path());
    let sp = free_port();
    let mut nodes = Nodes(vec![spawn(&[
        "cluster".into(),
        "scheduler".into(),
        "--port".into(),
        sp.to_string(),
    ])]);
    wait_port(sp);
    let (fp, gp) = (free_port(), free_port());
    let work = remote.path().join("executor-work");
    nodes.0.push(spawn(&[
        "cluster".into(),
        "executor".into(),
        "--scheduler".into(),
        format!("df://localhost:{sp}"),
        "--port".into(),
        fp.to_string(),
        "--grpc-port".into(),
        gp.to_string(),
        "--concurrent-tasks".into(),
        "2".into(),
        "--work-dir".into(),
        work.display().to_string(),
    ]));
    wait_port(fp);
    let nightly = |root: &Path, cluster: Option<String>| {
        let mut args = vec![
            "nightly".to_string(),
            "--root".into(),
            root.display().to_string(),
            "--dt".into(),
            "2026-11-04".into(),
            "--quiet".into(),
        ];
        if let Some(c) = cluster {
            args.extend([
                "--cluster".into(),
                c,
                "--cluster-job-timeout-secs".into(),
                "120".into(),
            ]);
        }
        let out = esmc().args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let here = nightly(local.path(), None);
    let there = nightly(remote.path(), Some(format!("df://localhost:{sp}")));
    assert!(here.contains("4 of 4 partitions rebuilt"), "{here}");
    assert_eq!(here, there, "the nightly's summary differs");
    let (a, b) = (parts(local.path()), parts(remote.path()));
    assert_eq!(a.len(), 4);
    for ((pa, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{pa} differs from the cluster's");
    }
    drop(nodes);
}

#[test]
fn a_build_on_a_scheduler_that_is_not_there_fails_in_seconds() {
    let root = tempfile::tempdir().unwrap();
    simulate(root.path());
    let port = free_port();
    let t = Instant::now();
    let out = run(&[
        "build",
        "--root",
        root.path().to_str().unwrap(),
        "--dt",
        "2026-11-02",
        "--cluster",
        &format!("df://127.0.0.1:{port}"),
    ]);
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach the Ballista scheduler at df://127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(!root.path().join("samples").exists(), "nothing is written");
}
