//! Shared-Bottom (Caruana's multi-task baseline): one shared layer over the embedding,
//! then a CTR head over exposures and a CVR head over clicked rows.

use super::{Heads, Model, Net, Pass, bce, bce_weighted, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;

pub struct SharedBottom {
    net: Net,
    bottom: Mlp,
    ctr: Mlp,
    cvr: Mlp,
    weights: LossWeights,
}

impl SharedBottom {
    /// The bottom is the first hidden layer of the config; the heads the rest.
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Self {
        let mut net = Net::new(spec, cfg, 1);
        let w = net.width();
        let first = cfg.hidden.first().copied().unwrap_or(128);
        let rest: Vec<i64> = cfg.hidden.iter().skip(1).copied().collect();
        let bottom = Mlp::new(&mut net.ps, "bottom", w, &[], first, cfg.activation, 0.0);
        let ctr = Mlp::new(
            &mut net.ps,
            "ctr",
            first,
            &rest,
            1,
            cfg.activation,
            cfg.dropout,
        );
        let cvr = Mlp::new(
            &mut net.ps,
            "cvr",
            first,
            &rest,
            1,
            cfg.activation,
            cfg.dropout,
        );
        SharedBottom {
            net,
            bottom,
            ctr,
            cvr,
            weights: cfg.loss_weights,
        }
    }
}

impl Model for SharedBottom {
    net_accessors!(|_| ModelKind::SharedBottom);

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let h = self.bottom.forward(&x, train).relu();
        let ctr = self.ctr.prob(&h, train);
        let cvr = self.cvr.prob(&h, train);
        let click = batch.label_of(Label::Click);
        let loss = bce(&ctr, click) * self.weights.ctr
            + bce_weighted(&cvr, batch.label_of(Label::Purchase), click) * self.weights.cvr;
        let ctcvr = &ctr * &cvr;
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
