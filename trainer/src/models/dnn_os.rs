//! DNN-OS (ESMM paper's baseline): BASE with the positive (converting) clicked rows of
//! the CVR task oversampled `cfg.oversample` times. Oversampling is done as a loss
//! weight, which equals drawing each positive k times in expectation without growing
//! the epoch.

use super::base::Base;
use crate::config::TrainConfig;
use crate::spec::Resolved;
use std::sync::Arc;

pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Base {
    Base::new(spec, cfg, Some(cfg.oversample))
}
