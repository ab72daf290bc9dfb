//! BASE / DNN (ESMM paper, §3): two independent networks with their own embeddings, a
//! CTR DNN trained on every exposure and a CVR DNN trained on clicked exposures only
//! (the sample selection bias the family is about). pCTCVR = pCTR * pCVR. With
//! `oversample` the converting clicked rows weigh k times (DNN-OS).

use super::{Heads, Model, Net, Pass, bce, bce_weighted, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;

pub struct Base {
    pub(crate) net: Net,
    ctr: Mlp,
    cvr: Mlp,
    weights: LossWeights,
    oversample: Option<f64>,
}

impl Base {
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig, oversample: Option<f64>) -> Self {
        let mut net = Net::new(spec, cfg, 2);
        let ctr = net.tower("ctr", cfg);
        let cvr = net.tower("cvr", cfg);
        Base {
            net,
            ctr,
            cvr,
            weights: cfg.loss_weights,
            oversample,
        }
    }
}

impl Model for Base {
    net_accessors!(|s: &Base| if s.oversample.is_some() {
        ModelKind::DnnOs
    } else {
        ModelKind::Base
    });

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x_ctr = self.net.input(0, batch, train, &mut touched);
        let x_cvr = self.net.input(1, batch, train, &mut touched);
        let ctr = self.ctr.prob(&x_ctr, train);
        let cvr = self.cvr.prob(&x_cvr, train);
        let (click, buy) = (
            batch.label_of(Label::Click),
            batch.label_of(Label::Purchase),
        );
        let w = match self.oversample {
            Some(k) => click * (buy * (k - 1.0) + 1.0),
            None => click.shallow_clone(),
        };
        let loss =
            bce(&ctr, click) * self.weights.ctr + bce_weighted(&cvr, buy, &w) * self.weights.cvr;
        let ctcvr = &ctr * &cvr;
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
