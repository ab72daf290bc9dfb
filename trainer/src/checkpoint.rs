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
//! Written into a private hidden temporary (`.dt=D.tmp-<pid>-<nanos>`), fsynced and
//! swapped into place in one step (`esmc_schemas::durable::publish_dir`); a crash or a
//! power loss leaves either the old checkpoint or the new one, never a mix.

use crate::config::TrainConfig;
use crate::data::NormStats;
use crate::error::{Result, TrainerError};
use crate::spec::FeatureSpec;
use crate::train::Trainer;
use std::collections::HashMap;
use std::path::Path;
use tch::Tensor;

/// Writes `trainer` and `meta` to `dir` atomically and durably (replacing an older
/// checkpoint there): the files go into a private temporary directory, are fsynced, and
/// the directory is swapped in with one `renameat2(RENAME_EXCHANGE)`. The caller holds the
/// run's lock, under which temporaries of dead jobs are removed first.
pub fn save(dir: &Path, trainer: &Trainer, meta: &serde_json::Value) -> Result<()> {
    use esmc_schemas::durable;
    let durable_err = |e: durable::IoError| TrainerError::Io {
        path: e.path,
        source: e.source,
    };
    durable::remove_stale(dir).map_err(durable_err)?;
    let tmp = durable::private_tmp(dir);
    std::fs::create_dir_all(&tmp).map_err(TrainerError::io(&tmp))?;
    let result = (|| -> Result<()> {
        write_files(&tmp, trainer, meta)?;
        if std::env::var("ESMC_FAILPOINT").as_deref() == Ok("checkpoint-before-rename") {
            panic!("failpoint checkpoint-before-rename");
        }
        durable::publish_dir(&tmp, dir).map_err(durable_err)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn write_files(tmp: &Path, trainer: &Trainer, meta: &serde_json::Value) -> Result<()> {
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
    // meta.json last: a directory without it is never taken for a checkpoint
    write(
        "meta.json",
        serde_json::to_string_pretty(meta).expect("json serialises"),
    )
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
