//! Training and evaluation loops over sample files.
//!
//! ```text
//! Loader (thread) --Batch--> forward (loss) --> backward --> Adam/Adagrad on dense
//!                                                        \-> row-wise step on touched rows
//! evaluate: Loader (file order) --> forward, no grad --> Predictions --> Evaluation
//! ```

use crate::config::TrainConfig;
use crate::data::{self, LoadTimes, Loader, LoaderConfig, NormStats};
use crate::error::{Result, TrainerError};
use crate::metrics::{TaskMetrics, task_metrics};
use crate::models::{self, Model};
use crate::optim::Optimizer;
use crate::spec::{FeatureSpec, Resolved};
use arrow::datatypes::Schema;
use esmc_schemas::Label;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::Tensor;

/// No progress display.
pub use esmc_schemas::NoProgress as Silent;
/// Receives progress of long loops (the CLI draws it; libraries never print): esmc's one
/// progress trait; training and prediction report `start(samples)`, `advance(rows)`,
/// `finish()`.
pub use esmc_schemas::Progress;

/// A model with its optimizer, config, feature spec and normalisation statistics.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub features: FeatureSpec,
    pub spec: Arc<Resolved>,
    pub norm: Arc<NormStats>,
    pub model: Box<dyn Model>,
    pub optim: Optimizer,
}

/// What one training pass did.
#[derive(Debug, Clone, Default)]
pub struct TrainStats {
    pub samples: u64,
    pub batches: u64,
    /// Mean training loss over the pass, and over its first and last tenth of batches.
    pub mean_loss: f64,
    pub first_loss: f64,
    pub last_loss: f64,
    pub wall: Duration,
    /// Time the training thread computed (forward, backward, optimizer).
    pub compute: Duration,
    pub load: LoadTimes,
}

impl TrainStats {
    pub fn samples_per_s(&self) -> f64 {
        self.samples as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

impl Trainer {
    /// A fresh model. `schema` (of the sample files) checks the feature spec; `norm` are
    /// the dense fields' statistics (see `data::norm_stats`).
    pub fn new(
        cfg: TrainConfig,
        features: FeatureSpec,
        schema: Option<&Schema>,
        norm: NormStats,
    ) -> Result<Self> {
        cfg.validate()?;
        let spec = Arc::new(features.resolve(schema, cfg.embedding_dim)?);
        if norm.mu.len() != spec.dense.len() {
            return Err(TrainerError::Config(format!(
                "normalisation statistics for {} dense fields, spec has {}",
                norm.mu.len(),
                spec.dense.len()
            )));
        }
        tch::set_num_threads(cfg.threads);
        tch::manual_seed(cfg.seed as i64);
        let model = models::build(&cfg, spec.clone());
        let net = model.net();
        let tables: Vec<&[Tensor]> = net.emb.iter().map(|e| e.tables.as_slice()).collect();
        let optim = Optimizer::new(cfg.optimizer, &net.ps.tensors, &tables);
        Ok(Trainer {
            cfg,
            features,
            spec,
            norm: Arc::new(norm),
            model,
            optim,
        })
    }

    /// One optimisation step on a batch; returns the loss.
    pub fn step(&mut self, batch: &data::Batch) -> f64 {
        let pass = self.model.forward(batch, true);
        pass.loss.backward();
        let loss = pass.loss.double_value(&[]);
        let net = self.model.net_mut();
        self.optim.step_dense(&mut net.ps.tensors);
        for (e, touched) in pass.touched.iter().enumerate() {
            self.optim.step_rows(e, &mut net.emb[e].tables, touched);
        }
        loss
    }

    /// One epoch over `files`, shuffled through the bounded buffer. The pass's randomness
    /// (shuffle order, libtorch's generator for dropout) is seeded from the config's seed
    /// and `seed_offset` alone (the day, in incremental training), so a pass gives the
    /// same result whatever ran before it in the process.
    pub fn train_files(
        &mut self,
        files: &[PathBuf],
        seed_offset: u64,
        progress: &dyn Progress,
    ) -> Result<TrainStats> {
        let start = Instant::now();
        let seed = self.cfg.seed ^ seed_offset.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        tch::manual_seed((seed >> 1) as i64);
        let mut loader = Loader::start(
            files.to_vec(),
            self.spec.clone(),
            self.norm.clone(),
            LoaderConfig {
                batch_size: self.cfg.batch_size,
                shuffle_rows: self.cfg.shuffle_rows,
                seed,
            },
        );
        let mut stats = TrainStats::default();
        let mut losses = Vec::new();
        // test instrumentation: die like a killed process after k batches of the process
        static BATCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let abort_after: Option<u64> = std::env::var("ESMC_FAILPOINT")
            .ok()
            .and_then(|f| f.strip_prefix("train-abort-after-batches:")?.parse().ok());
        while let Some(batch) = loader.next_batch() {
            let batch = batch?;
            if abort_after == Some(BATCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                std::process::abort();
            }
            let t = Instant::now();
            losses.push(self.step(&batch));
            stats.compute += t.elapsed();
            stats.samples += batch.len as u64;
            stats.batches += 1;
            progress.advance(batch.len as u64);
        }
        stats.load = loader.times;
        stats.wall = start.elapsed();
        if !losses.is_empty() {
            let tenth = (losses.len() / 10).max(1);
            let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
            stats.mean_loss = mean(&losses);
            stats.first_loss = mean(&losses[..tenth]);
            stats.last_loss = mean(&losses[losses.len() - tenth..]);
        }
        Ok(stats)
    }

    /// Scores every sample of `files`, in file order.
    pub fn predict_files(&self, files: &[PathBuf], progress: &dyn Progress) -> Result<Predictions> {
        let mut loader = Loader::start(
            files.to_vec(),
            self.spec.clone(),
            self.norm.clone(),
            LoaderConfig {
                batch_size: 8192,
                shuffle_rows: 0,
                seed: 0,
            },
        );
        let mut p = Predictions::default();
        let _guard = tch::no_grad_guard();
        while let Some(batch) = loader.next_batch() {
            let batch = batch?;
            let pass = self.model.forward(&batch, false);
            let v = |t: &Tensor| Vec::<f32>::try_from(t).expect("a float vector");
            p.ctr.extend(v(&pass.heads.ctr));
            p.cvr.extend(v(&pass.heads.cvr));
            p.ctcvr.extend(v(&pass.heads.ctcvr));
            p.click.extend(v(batch.label_of(Label::Click)));
            p.purchase.extend(v(batch.label_of(Label::Purchase)));
            let meta = batch.meta;
            p.sample_id.extend(meta.sample_id);
            p.user_id.extend(meta.user_id);
            p.bad_case.extend(meta.bad_case);
            for (d, s) in p.truth.iter_mut().zip(meta.truth) {
                d.extend(s);
            }
            progress.advance(batch.len as u64);
        }
        Ok(p)
    }
}

/// Scores and labels of evaluated samples.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    pub sample_id: Vec<i64>,
    pub user_id: Vec<i64>,
    pub bad_case: Vec<bool>,
    pub click: Vec<f32>,
    pub purchase: Vec<f32>,
    pub ctr: Vec<f32>,
    pub cvr: Vec<f32>,
    pub ctcvr: Vec<f32>,
    /// Simulator truth p_click, p_cart, p_cvr (NaN where absent).
    pub truth: [Vec<f32>; 3],
}

/// The spec's metrics of one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// pCTR against click, all exposures.
    pub ctr: TaskMetrics,
    /// pCTCVR against purchase, all exposures.
    pub ctcvr: TaskMetrics,
    /// pCVR against purchase, clicked exposures.
    pub cvr: TaskMetrics,
    /// CVR over clicked exposures whose positives are bad cases (cart and purchase in
    /// different visits) ...
    pub cvr_bad: TaskMetrics,
    /// ... and good cases; the negatives (clicked, not bought) are in both.
    pub cvr_good: TaskMetrics,
    /// The same three tasks scored with the simulator's true probabilities: the oracle
    /// ceiling. None when the samples carry no truth.
    pub oracle: Option<[TaskMetrics; 3]>,
    /// Scores against the simulator's true probabilities over all exposures (and clicked
    /// ones): expected AUC, rank correlation, calibration. None without truth.
    pub entire_space: Option<crate::metrics::EntireSpace>,
}

/// Evaluates predictions: CTR and CTCVR over exposures, CVR over clicked rows, GAUC by
/// user, the bad/good case split, and the oracle where truth exists.
pub fn evaluate(p: &Predictions) -> Evaluation {
    let users = Some(p.user_id.as_slice());
    let clicked: Vec<bool> = p.click.iter().map(|c| *c > 0.5).collect();
    let split = |bad: bool| -> Vec<bool> {
        (0..p.click.len())
            .map(|i| clicked[i] && (p.purchase[i] < 0.5 || p.bad_case[i] == bad))
            .collect()
    };
    let (bad, good) = (split(true), split(false));
    let has_truth =
        !p.truth[0].is_empty() && p.truth.iter().all(|t| t.iter().all(|v| v.is_finite()));
    let oracle = has_truth.then(|| {
        let oc: Vec<f32> = p.truth[0]
            .iter()
            .zip(&p.truth[2])
            .map(|(a, b)| a * b)
            .collect();
        [
            task_metrics(&p.truth[0], &p.click, users, None),
            task_metrics(&oc, &p.purchase, users, None),
            task_metrics(&p.truth[2], &p.purchase, users, Some(&clicked)),
        ]
    });
    Evaluation {
        ctr: task_metrics(&p.ctr, &p.click, users, None),
        ctcvr: task_metrics(&p.ctcvr, &p.purchase, users, None),
        cvr: task_metrics(&p.cvr, &p.purchase, users, Some(&clicked)),
        cvr_bad: task_metrics(&p.cvr, &p.purchase, users, Some(&bad)),
        cvr_good: task_metrics(&p.cvr, &p.purchase, users, Some(&good)),
        oracle,
        entire_space: has_truth.then(|| {
            let t = &p.truth;
            crate::metrics::entire_space(&p.ctr, &p.cvr, &p.ctcvr, &clicked, &t[0], &t[2])
        }),
    }
}

impl Evaluation {
    /// Flat `(name, value)` pairs (undefined values left out), the form written to
    /// metrics files and tables.
    pub fn flat(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let mut task = |prefix: &str, m: &TaskMetrics| {
            out.push((format!("{prefix}_n"), m.n as f64));
            out.push((format!("{prefix}_positives"), m.positives as f64));
            let mut opt = |name: &str, v: Option<f64>| {
                if let Some(v) = v {
                    out.push((format!("{prefix}_{name}"), v));
                }
            };
            opt("auc", m.auc);
            opt("gauc", m.gauc);
            opt("log_loss", m.log_loss);
            opt("calibration", m.calibration);
            for (k, prf) in [
                ("0_1", &m.top_0_1pct),
                ("0_6", &m.top_0_6pct),
                ("1", &m.top_1pct),
            ] {
                if let Some(prf) = prf {
                    opt(&format!("precision_top{k}pct"), Some(prf.precision));
                    opt(&format!("recall_top{k}pct"), Some(prf.recall));
                    opt(&format!("f1_top{k}pct"), Some(prf.f1));
                }
            }
        };
        task("ctr", &self.ctr);
        task("ctcvr", &self.ctcvr);
        task("cvr", &self.cvr);
        task("cvr_bad", &self.cvr_bad);
        task("cvr_good", &self.cvr_good);
        if let Some([c, cc, cv]) = &self.oracle {
            task("oracle_ctr", c);
            task("oracle_ctcvr", cc);
            task("oracle_cvr", cv);
        }
        if let Some(es) = &self.entire_space {
            out.extend(es.flat());
        }
        out
    }
}
