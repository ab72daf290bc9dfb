//! HM³ (Wen et al., SIGIR 2021): six towers over the shared embedding, along
//! impression -> click -> D-Mi/O-Mi -> D-Ma/O-Ma -> buy.
//! y1 imp→click, y2 click→D-Mi, y3 D-Mi→D-Ma, y4 D-Ma→buy, y5 O-Mi→D-Ma, y6 O-Ma→buy.
//! SCM (paper eqs. 1-4):
//!   pDMi   = y1*y2
//!   pDMa   = y1*(y2*y3 + (1-y2)*y5)
//!   pCTCVR = y1*y4*(y2*y3 + (1-y2)*y5) + y1*y6*(y2*(1-y3) + (1-y2)*(1-y5))
//! Losses: click, dmi, dma, purchase. Reported pCVR = pCTCVR / y1 (the composed
//! post-click conversion, which needs no division in practice: it is the bracket sum).

use super::{Heads, Model, Net, Pass, bce, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;
use tch::Tensor;

pub struct Hm3 {
    net: Net,
    towers: [Mlp; 6],
    weights: LossWeights,
}

/// The SCM of HM³: (pDMi, pDMa, pCVR, pCTCVR) from y1..y6.
pub fn compose(y: &[Tensor; 6]) -> (Tensor, Tensor, Tensor, Tensor) {
    let [y1, y2, y3, y4, y5, y6] = y;
    let to_dma = y2 * y3 + (1.0 - y2) * y5;
    let to_oma = y2 * (1.0 - y3) + (1.0 - y2) * (1.0 - y5);
    let dmi = y1 * y2;
    let dma = y1 * &to_dma;
    let cvr = y4 * &to_dma + y6 * &to_oma;
    let ctcvr = y1 * &cvr;
    (dmi, dma, cvr, ctcvr)
}

impl Hm3 {
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Self {
        let mut net = Net::new(spec, cfg, 1);
        let towers = ["y1", "y2", "y3", "y4", "y5", "y6"].map(|n| net.tower(n, cfg));
        Hm3 {
            net,
            towers,
            weights: cfg.loss_weights,
        }
    }
}

impl Model for Hm3 {
    net_accessors!(|_| ModelKind::Hm3);

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let y = [0, 1, 2, 3, 4, 5].map(|i| self.towers[i].prob(&x, train));
        let (dmi, dma, cvr, ctcvr) = compose(&y);
        let loss = bce(&y[0], batch.label_of(Label::Click)) * self.weights.ctr
            + bce(&dmi, batch.label_of(Label::Dmi)) * self.weights.dmi
            + bce(&dma, batch.label_of(Label::Dma)) * self.weights.car
            + bce(&ctcvr, batch.label_of(Label::Purchase)) * self.weights.cvr;
        let [ctr, ..] = y;
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
