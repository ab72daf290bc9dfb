//! Helpers shared by the benchmarks: peak RSS of the current process, medians, and
//! running a measurement in a child process of the bench binary.

#![allow(dead_code)]

use std::process::Command;

/// Peak resident set size (VmHWM) of this process, MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Median of the values.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs the bench binary itself with `args` and parses the numbers of the last line it
/// prints.
pub fn measure(args: &[String]) -> Vec<f64> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    numbers(&out.stdout)
}

/// The numbers of the last line of `stdout`.
pub fn numbers(stdout: &[u8]) -> Vec<f64> {
    String::from_utf8_lossy(stdout)
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}
