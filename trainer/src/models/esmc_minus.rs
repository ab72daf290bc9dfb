//! ESMC- (the ESMC paper's ablation of sample calibration): ESMC trained on the raw
//! post-click `cart` label instead of the calibrated `cart_cal`.

use super::esmc::{Esmc, Variant};
use crate::config::TrainConfig;
use crate::spec::Resolved;
use std::sync::Arc;

pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Esmc {
    Esmc::new(spec, cfg, Variant::EsmcMinus)
}
