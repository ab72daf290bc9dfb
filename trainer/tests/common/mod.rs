//! A small simulated world with built samples, made once per test binary.

#![allow(dead_code)]

use chrono::{Days, NaiveDate};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, NoProgress};
use esmc_schemas::Warehouse;
use esmc_sim::{NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use esmc_trainer::{FeatureSpec, ModelKind, TrainConfig, Trainer, data};
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct World {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    /// Days with samples: a training day and the day after it.
    pub train_day: NaiveDate,
    pub test_day: NaiveDate,
}

impl World {
    pub fn files(&self, day: NaiveDate) -> Vec<PathBuf> {
        let wh = Warehouse::new(&self.root);
        wh.partition_files(&wh.samples_dir(day)).unwrap()
    }
}

/// `eleme`, 60k rec exposures a day, 5 days, samples built for days 2 and 3.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let mut cfg = SimConfig::sized(Preset::Eleme, 60_000, 5, 5);
        cfg.shards = 1;
        esmc_sim::simulate(
            &cfg,
            &root,
            RunOptions {
                threads: 2,
                overwrite: true,
            },
            &SimQuiet,
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let builder = Builder::new(&root, BuildConfig::default(), BuildOptions::default());
        let train_day = cfg.start + Days::new(1);
        let test_day = cfg.start + Days::new(2);
        for d in [train_day, test_day] {
            rt.block_on(builder.build(d, &NoProgress)).unwrap();
        }
        World {
            _dir: dir,
            root,
            train_day,
            test_day,
        }
    })
}

/// A small, fast config for tests.
pub fn small_config(model: ModelKind) -> TrainConfig {
    TrainConfig {
        model,
        embedding_dim: 8,
        hidden: vec![64, 32],
        expert_hidden: vec![32],
        batch_size: 512,
        threads: 1,
        seed: 7,
        ..TrainConfig::default()
    }
}

/// A fresh trainer over the world's training day.
pub fn trainer(cfg: TrainConfig) -> Trainer {
    let w = world();
    let files = w.files(w.train_day);
    let schema = data::file_schema(&files[0]).unwrap();
    let features = FeatureSpec::samples_default();
    let spec = features.resolve(Some(&schema), cfg.embedding_dim).unwrap();
    let norm = data::norm_stats(&files, &spec).unwrap();
    Trainer::new(cfg, features, Some(&schema), norm).unwrap()
}
