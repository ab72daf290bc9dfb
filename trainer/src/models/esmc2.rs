//! ESMC² (ESMG with twin towers, ESMC paper eq. 19): ESMC plus a CTCAR loss on carts of
//! every domain (`cart_global_cal`), weighted `global_cart_weight` (paper: 0.5).

use super::esmc::{Esmc, Variant};
use crate::config::TrainConfig;
use crate::spec::Resolved;
use std::sync::Arc;

pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Esmc {
    Esmc::new(spec, cfg, Variant::Esmc2)
}
