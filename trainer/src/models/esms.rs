//! ESMS (ESMC paper eq. 18): the limit of ESMC's constraint at infinity. A CTR tower and
//! one siamese tower whose output serves as both y_car and y_cvr; losses on click,
//! `cart_cal` (pCTCAR) and purchase (pCTCVR). Only one tower is stored. ESMS² adds the
//! global-domain CTCAR loss (eq. 19 with w5 = 0).

use super::{Heads, Model, Net, Pass, bce, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;

pub struct Esms {
    net: Net,
    ctr: Mlp,
    siamese: Mlp,
    global_weight: f64,
    weights: LossWeights,
    kind: ModelKind,
}

impl Esms {
    pub fn new(
        spec: &Arc<Resolved>,
        cfg: &TrainConfig,
        global_weight: f64,
        kind: ModelKind,
    ) -> Self {
        let mut net = Net::new(spec, cfg, 1);
        let ctr = net.tower("ctr", cfg);
        let siamese = net.tower("siamese", cfg);
        Esms {
            net,
            ctr,
            siamese,
            global_weight,
            weights: cfg.loss_weights,
            kind,
        }
    }
}

impl Model for Esms {
    net_accessors!(|s: &Esms| s.kind);

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let ctr = self.ctr.prob(&x, train);
        let cvr = self.siamese.prob(&x, train);
        let ctcvr = &ctr * &cvr;
        let mut loss = bce(&ctr, batch.label_of(Label::Click)) * self.weights.ctr
            + bce(&ctcvr, batch.label_of(Label::CartCal)) * self.weights.car
            + bce(&ctcvr, batch.label_of(Label::Purchase)) * self.weights.cvr;
        if self.global_weight > 0.0 {
            loss += bce(&ctcvr, batch.label_of(Label::CartGlobalCal)) * self.global_weight;
        }
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
