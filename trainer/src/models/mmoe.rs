//! MMoE (Ma et al., KDD 2018): shared experts, one softmax gate per task, a tower per
//! task. Tasks: pCTR (click) and pCTCVR (click and purchase) over all exposures; the
//! reported pCVR is pCTCVR / pCTR, clamped to [0, 1].

use super::{EPS, Heads, Model, Net, Pass, bce, net_accessors};
use crate::config::{LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::{Linear, Mlp};
use crate::spec::Resolved;
use esmc_schemas::Label;
use std::sync::Arc;
use tch::{Kind, Tensor};

pub struct Mmoe {
    net: Net,
    experts: Vec<Mlp>,
    gates: [Linear; 2],
    towers: [Mlp; 2],
    weights: LossWeights,
}

impl Mmoe {
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig) -> Self {
        let mut net = Net::new(spec, cfg, 1);
        let w = net.width();
        let out = *cfg.expert_hidden.last().unwrap_or(&64);
        let inner = &cfg.expert_hidden[..cfg.expert_hidden.len().saturating_sub(1)];
        let experts = (0..cfg.experts)
            .map(|i| {
                Mlp::new(
                    &mut net.ps,
                    &format!("expert{i}"),
                    w,
                    inner,
                    out,
                    cfg.activation,
                    0.0,
                )
            })
            .collect();
        let n = cfg.experts as i64;
        let gates = [
            net.ps.linear("gate_ctr", w, n),
            net.ps.linear("gate_ctcvr", w, n),
        ];
        let towers = [
            Mlp::new(
                &mut net.ps,
                "ctr",
                out,
                &cfg.hidden,
                1,
                cfg.activation,
                cfg.dropout,
            ),
            Mlp::new(
                &mut net.ps,
                "ctcvr",
                out,
                &cfg.hidden,
                1,
                cfg.activation,
                cfg.dropout,
            ),
        ];
        Mmoe {
            net,
            experts,
            gates,
            towers,
            weights: cfg.loss_weights,
        }
    }
}

impl Model for Mmoe {
    net_accessors!(|_| ModelKind::Mmoe);

    /// # Shapes
    /// experts `[B, E, out]`, gates `[B, E]`, mixed `[B, out]`
    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let experts: Vec<Tensor> = self
            .experts
            .iter()
            .map(|e| e.forward(&x, train).relu())
            .collect();
        let experts = Tensor::stack(&experts, 1);
        let mut probs = self.gates.iter().zip(&self.towers).map(|(g, t)| {
            let gate = g.forward(&x).softmax(1, Kind::Float).unsqueeze(2);
            let mixed = (&experts * gate).sum_dim_intlist(1, false, Kind::Float);
            t.prob(&mixed, train)
        });
        let (ctr, ctcvr) = (probs.next().unwrap(), probs.next().unwrap());
        let loss = bce(&ctr, batch.label_of(Label::Click)) * self.weights.ctr
            + bce(&ctcvr, batch.label_of(Label::Purchase)) * self.weights.cvr;
        let cvr = (&ctcvr / ctr.clamp_min(EPS)).clamp(0.0, 1.0);
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }
}
