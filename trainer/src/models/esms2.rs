//! ESMS² (ESMG with a siamese tower): ESMS plus the CTCAR loss on `cart_global_cal`,
//! weighted `global_cart_weight`; no constraint (w5 = 0).

use super::esms::Esms;
use crate::config::{ModelKind, TrainConfig};
use crate::spec::Resolved;
use std::sync::Arc;

pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Esms {
    Esms::new(spec, cfg, cfg.global_cart_weight, ModelKind::Esms2)
}
