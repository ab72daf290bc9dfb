//! The nightly job's exit codes, and eval's entire-space figure against a direct
//! computation from predict's output.

use super::*;

#[test]
fn nightly_builds_trains_new_mature_days_and_says_so_in_its_exit_code() {
    let (_d, w) = warehouse();
    let root = w.to_str().unwrap();
    let cfg = w.join("train.toml");
    let night = |dt: &str| {
        esmc(&[
            "nightly",
            "--root",
            root,
            "--dt",
            dt,
            "--run",
            "n",
            "--model",
            "esmc",
            "--train-config",
            cfg.to_str().unwrap(),
        ])
    };
    let first = night("2026-11-05");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("training 2 newly matured day(s)") || text.contains("newly matured"),
        "{text}"
    );
    assert!(w.join("models/n/dt=2026-11-01/meta.json").exists());
    // the same night again: nothing rebuilt, nothing trained
    let again = night("2026-11-05");
    assert_eq!(
        again.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    // a night without logs
    let missing = night("2026-11-09");
    assert_eq!(
        missing.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&missing.stdout)
    );
}

/// Every value of a Float32/Int64 column of the Parquet files under `dir` (or of `file`).
fn parquet_column(files: &[PathBuf], name: &str) -> Vec<f64> {
    use arrow::array::{Array, Float32Array, Float64Array, Int64Array};
    let mut out = Vec::new();
    for f in files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let c = batch.column_by_name(name).unwrap();
            if let Some(a) = c.as_any().downcast_ref::<Float32Array>() {
                out.extend((0..a.len()).map(|i| f64::from(a.value(i))));
            } else if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
                out.extend((0..a.len()).map(|i| a.value(i)));
            } else {
                let a = c.as_any().downcast_ref::<Int64Array>().unwrap();
                out.extend((0..a.len()).map(|i| a.value(i) as f64));
            }
        }
    }
    out
}

#[test]
fn eval_prints_the_entire_space_expected_auc_that_the_predictions_and_truth_give() {
    let (_d, w) = warehouse();
    let out = ok(&train(
        &w,
        "es",
        &[
            "--model",
            "esmc",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ],
        &[],
    ));
    assert!(out.contains("ES-CVR"), "{out}");
    let root = w.to_str().unwrap();
    let args = ["--root", root, "--run", "es", "--dt", "2026-11-03"];
    let eval = ok(&esmc(&[&["eval"], &args[..]].concat()));
    let line = eval
        .lines()
        .find(|l| l.starts_with("pCVR entire-space"))
        .unwrap_or_else(|| panic!("no entire-space line: {eval}"));
    let printed: f64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(eval.contains("tower gap"), "{eval}");
    ok(&esmc(&[&["predict"], &args[..]].concat()));

    // independently: the predictions joined to the samples' truth by sample_id, and the
    // definition summed over every ordered pair of distinct exposures
    let preds = [w.join("models/es/predictions/dt=2026-11-03.parquet")];
    let score: std::collections::HashMap<i64, f64> = parquet_column(&preds, "sample_id")
        .into_iter()
        .map(|v| v as i64)
        .zip(parquet_column(&preds, "p_cvr"))
        .collect();
    let dir = w.join("samples/dt=2026-11-03");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    let ids = parquet_column(&files, "sample_id");
    let truth = parquet_column(&files, "truth_p_cvr");
    assert_eq!(
        ids.len(),
        score.len(),
        "every exposure of the day is scored"
    );
    // scores as f32, as the model wrote them; truth as the samples hold it
    let rows: Vec<(f32, f64)> = ids
        .iter()
        .zip(&truth)
        .map(|(id, t)| (score[&(*id as i64)] as f32, *t))
        .collect();
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (i, (si, pi)) in rows.iter().enumerate() {
        for (j, (sj, pj)) in rows.iter().enumerate() {
            if i != j {
                let m = pi * (1.0 - pj);
                den += m;
                if si > sj {
                    num += m;
                } else if si == sj {
                    num += m / 2.0;
                }
            }
        }
    }
    let direct = num / den;
    println!(
        "entire-space pCVR E-AUC: eval printed {printed}, direct {direct:.6} over {} exposures",
        rows.len()
    );
    assert!(
        (printed - direct).abs() < 0.002,
        "eval printed {printed}, direct computation {direct} over {} exposures",
        rows.len()
    );
    // the run's metrics file carries the entire-space figures and the tower gap
    let out = ok(&esmc(&[
        "sql",
        "--root",
        root,
        "--format",
        "csv",
        "SELECT es_cvr_eauc > 0.5 AS ok, tower_gap > 0 AS gap FROM model_metrics \
         WHERE run = 'es' AND dt = '2026-11-02'",
    ]));
    assert_eq!(out.trim(), "ok,gap\ntrue,true", "{out}");
}
