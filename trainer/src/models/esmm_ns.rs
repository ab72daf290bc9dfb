//! ESMM-NS (ESMM paper's ablation): ESMM without the shared embedding; each tower has
//! its own embedding tables.

use super::esmm::Esmm;
use crate::config::TrainConfig;
use crate::spec::Resolved;
use std::sync::Arc;

pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Esmm {
    Esmm::new(spec, cfg, true)
}
