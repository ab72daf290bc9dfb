//! Checkpoints: a directory written atomically with everything a run needs to continue.
//!
//! ```text
//! <dir>/config.json     resolved TrainConfig
//! <dir>/features.toml   the feature spec (hash buckets, dims, groups)
//! <dir>/norm.json       normalisation statistics of dense fields
//! <dir>/state.pt        dense parameters, embedding tables, optimizer state and step
//! <dir>/meta.json       the caller's record (day, sample fingerprint, metrics, ...)
//! ```
//!
//! Written into `<dir>.tmp-<pid>` and renamed into place; a crash leaves either the old
//! checkpoint or the new one, never a mix.

use crate::config::TrainConfig;
use crate::data::NormStats;
use crate::error::{Result, TrainerError};
use crate::spec::FeatureSpec;
use crate::train::Trainer;
use std::collections::HashMap;
use std::path::Path;
use tch::Tensor;

/// Writes `trainer` and `meta` to `dir` atomically (replacing an older checkpoint there).
pub fn save(dir: &Path, trainer: &Trainer, meta: &serde_json::Value) -> Result<()> {
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(TrainerError::io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(TrainerError::io(&tmp))?;
    let write = |name: &str, text: String| -> Result<()> {
        let p = tmp.join(name);
        std::fs::write(&p, text).map_err(TrainerError::io(&p))
    };
    write(
        "config.json",
        serde_json::to_string_pretty(&trainer.cfg).expect("config serialises"),
    )?;
    write("features.toml", trainer.features.to_toml())?;
    write(
        "norm.json",
        serde_json::to_string_pretty(&*trainer.norm).expect("stats serialise"),
    )?;
    let tensors = named_tensors(trainer);
    Tensor::save_multi(&tensors, tmp.join("state.pt"))?;
    write(
        "meta.json",
        serde_json::to_string_pretty(meta).expect("json serialises"),
    )?;
    if std::env::var("ESMC_FAILPOINT").as_deref() == Ok("checkpoint-before-rename") {
        panic!("failpoint checkpoint-before-rename");
    }
    let old = dir.with_extension(format!("old-{}", std::process::id()));
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(TrainerError::io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(TrainerError::io(dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(TrainerError::io(&old))?;
    }
    Ok(())
}

fn named_tensors(trainer: &Trainer) -> Vec<(String, Tensor)> {
    let net = trainer.model.net();
    let mut out: Vec<(String, Tensor)> = net
        .ps
        .names
        .iter()
        .zip(&net.ps.tensors)
        .map(|(n, t)| (format!("param.{n}"), t.detach()))
        .collect();
    for e in &net.emb {
        for (n, t) in e.names.iter().zip(&e.tables) {
            out.push((n.clone(), t.shallow_clone()));
        }
    }
    for (n, t) in trainer.optim.named_state() {
        out.push((format!("optim.{n}"), t));
    }
    out
}

/// Loads a checkpoint written by `save`: the trainer and the caller's record.
pub fn load(dir: &Path) -> Result<(Trainer, serde_json::Value)> {
    let read = |name: &str| -> Result<String> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map_err(TrainerError::io(&p))
    };
    let bad = |name: &str, e: String| TrainerError::Data {
        path: dir.join(name),
        message: e,
    };
    let cfg: TrainConfig = serde_json::from_str(&read("config.json")?)
        .map_err(|e| bad("config.json", e.to_string()))?;
    let features = FeatureSpec::from_toml(&read("features.toml")?)?;
    let norm: NormStats =
        serde_json::from_str(&read("norm.json")?).map_err(|e| bad("norm.json", e.to_string()))?;
    let meta: serde_json::Value =
        serde_json::from_str(&read("meta.json")?).map_err(|e| bad("meta.json", e.to_string()))?;
    let mut trainer = Trainer::new(cfg, features, None, norm)?;
    let stored: HashMap<String, Tensor> = Tensor::load_multi(dir.join("state.pt"))?
        .into_iter()
        .collect();
    let targets = named_tensors(&trainer);
    tch::no_grad(|| -> Result<()> {
        for (name, mut t) in targets {
            let src = stored
                .get(&name)
                .ok_or_else(|| bad("state.pt", format!("no tensor '{name}'")))?;
            if src.size() != t.size() {
                return Err(bad(
                    "state.pt",
                    format!(
                        "tensor '{name}' has shape {:?}, the model {:?}",
                        src.size(),
                        t.size()
                    ),
                ));
            }
            t.copy_(src);
        }
        Ok(())
    })?;
    trainer.optim.step = stored
        .get("optim.step")
        .map(|t| t.int64_value(&[0]))
        .unwrap_or(0);
    Ok((trainer, meta))
}
