//! ESMM (Ma et al., SIGIR 2018): a CTR tower and a CVR tower over one shared embedding;
//! SCM pCTCVR = pCTR * pCVR; losses on click and on click-and-purchase over every
//! exposure, so the CVR tower learns in the entire space without ever seeing a
//! clicked-only sample. `separate` gives each tower its own embedding (ESMM-NS).

use super::{Heads, Model, Net, Pass, bce, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;

pub struct Esmm {
    net: Net,
    ctr: Mlp,
    cvr: Mlp,
    separate: bool,
    weights: LossWeights,
}

impl Esmm {
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig, separate: bool) -> Self {
        let mut net = Net::new(spec, cfg, if separate { 2 } else { 1 });
        let ctr = net.tower("ctr", cfg);
        let cvr = net.tower("cvr", cfg);
        Esmm {
            net,
            ctr,
            cvr,
            separate,
            weights: cfg.loss_weights,
        }
    }
}

impl Model for Esmm {
    net_accessors!(|s: &Esmm| if s.separate {
        ModelKind::EsmmNs
    } else {
        ModelKind::Esmm
    });

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let x_cvr = if self.separate {
            self.net.input(1, batch, train, &mut touched)
        } else {
            x.shallow_clone()
        };
        let ctr = self.ctr.prob(&x, train);
        let cvr = self.cvr.prob(&x_cvr, train);
        let ctcvr = &ctr * &cvr;
        // purchase implies click (a checked invariant of the samples): it is the CTCVR label.
        let loss = bce(&ctr, batch.label_of(Label::Click)) * self.weights.ctr
            + bce(&ctcvr, batch.label_of(Label::Purchase)) * self.weights.cvr;
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
