//! ESM² (Wen et al., SIGIR 2020): four towers over the shared embedding.
//! y1 = p(click), y2 = p(DAction | click), y3 = p(buy | DAction), y4 = p(buy | OAction).
//! SCM: pCTAVR = y1*y2; pCVR = y2*y3 + (1-y2)*y4; pCTCVR = y1*pCVR.
//! Losses: click on y1, DAction (`dma`: cart or wish) on pCTAVR, purchase on pCTCVR.

use super::{Heads, Model, Net, Pass, bce, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;
use tch::Tensor;

pub struct Esm2 {
    net: Net,
    towers: [Mlp; 4],
    weights: LossWeights,
}

/// The SCM of ESM²: (pCTAVR, pCVR, pCTCVR) from y1..y4.
pub fn compose(y: &[Tensor; 4]) -> (Tensor, Tensor, Tensor) {
    let [y1, y2, y3, y4] = y;
    let ctavr = y1 * y2;
    let cvr = y2 * y3 + (1.0 - y2) * y4;
    let ctcvr = y1 * &cvr;
    (ctavr, cvr, ctcvr)
}

impl Esm2 {
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Self {
        let mut net = Net::new(spec, cfg, 1);
        let towers = ["y1_ctr", "y2_davr", "y3_dcvr", "y4_ocvr"].map(|n| net.tower(n, cfg));
        Esm2 {
            net,
            towers,
            weights: cfg.loss_weights,
        }
    }
}

impl Model for Esm2 {
    net_accessors!(|_| ModelKind::Esm2);

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let y = [0, 1, 2, 3].map(|i| self.towers[i].prob(&x, train));
        let (ctavr, cvr, ctcvr) = compose(&y);
        let loss = bce(&y[0], batch.label_of(Label::Click)) * self.weights.ctr
            + bce(&ctavr, batch.label_of(Label::Dma)) * self.weights.car
            + bce(&ctcvr, batch.label_of(Label::Purchase)) * self.weights.cvr;
        let [ctr, ..] = y;
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
