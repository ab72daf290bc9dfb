//! ESMC (ESMC paper, 2023, eq. 17): three towers over the shared embedding, y_ctr, y_car
//! and y_cvr. SCM: pCTCAR = y_ctr*y_car, pCTCVR = y_ctr*y_cvr. Losses: click on y_ctr,
//! the calibrated rec-domain cart (`cart_cal`) on pCTCAR, purchase on pCTCVR, plus
//! w4 * D(theta_car || theta_cvr).
//!
//! The constraint has two readings (`TrainConfig::constraint`), both summed over the
//! pairs of corresponding weight matrices l (biases are not constrained):
//! softmax: D = sum_l KL(softmax(vec W_l^car) || softmax(vec W_l^cvr));
//! gaussian: D = sum_l ||W_l^car - W_l^cvr||^2 / 2.
//! The CAR side is detached by default ("the CTCAR tower controls the CTCVR tower"): the
//! constraint pulls the CVR tower towards the CAR tower, not both towards each other.
//! Every ESMC model reports its tower gap sum_l ||W_l^car - W_l^cvr||^2.
//!
//! Variants: ESMC² adds `global_cart_weight` * CTCAR loss on `cart_global_cal` (eq. 19);
//! ESMC- trains on the uncalibrated `cart` label (the sample-calibration ablation).

use super::{Heads, Model, Net, Pass, bce, net_accessors};
use crate::config::{Constraint, LossWeights, ModelKind, TrainConfig};
use crate::data::Batch;
use crate::nn::Mlp;
use crate::spec::Resolved;
use std::sync::Arc;
use tch::{Kind, Tensor};

/// Which member of the ESMC family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Esmc,
    Esmc2,
    EsmcMinus,
}

pub struct Esmc {
    net: Net,
    pub ctr: Mlp,
    pub car: Mlp,
    pub cvr: Mlp,
    variant: Variant,
    weights: LossWeights,
    constraint_weight: f64,
    reading: Constraint,
    detach_car: bool,
    global_weight: f64,
}

/// The softmax reading of the constraint: sum over layers of
/// KL(softmax(vec W_car) || softmax(vec W_cvr)).
pub fn constraint(car: &Mlp, cvr: &Mlp, detach_car: bool) -> Tensor {
    divergence(car, cvr, Constraint::Softmax, detach_car)
}

/// D(theta_car || theta_cvr) under `reading`, summed over the towers' layers.
pub fn divergence(car: &Mlp, cvr: &Mlp, reading: Constraint, detach_car: bool) -> Tensor {
    let mut total = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
    for (a, b) in car.layers.iter().zip(&cvr.layers) {
        let wa = if detach_car {
            a.weight.detach()
        } else {
            a.weight.shallow_clone()
        };
        total += match reading {
            Constraint::Softmax => {
                let lp = wa.view([-1]).log_softmax(0, Kind::Float);
                let lq = b.weight.view([-1]).log_softmax(0, Kind::Float);
                (lp.exp() * (&lp - lq)).sum(Kind::Float)
            }
            Constraint::Gaussian => (wa - &b.weight).square().sum(Kind::Float) * 0.5,
        };
    }
    total
}

/// sum over layers of ||W_car - W_cvr||^2.
pub fn tower_gap(car: &Mlp, cvr: &Mlp) -> f64 {
    let _guard = tch::no_grad_guard();
    car.layers
        .iter()
        .zip(&cvr.layers)
        .map(|(a, b)| {
            (&a.weight - &b.weight)
                .square()
                .sum(Kind::Double)
                .double_value(&[])
        })
        .sum()
}

impl Esmc {
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig, variant: Variant) -> Self {
        let mut net = Net::new(spec, cfg, 1);
        let ctr = net.tower("ctr", cfg);
        let car = net.tower("car", cfg);
        let cvr = net.tower("cvr", cfg);
        Esmc {
            net,
            ctr,
            car,
            cvr,
            variant,
            weights: cfg.loss_weights,
            constraint_weight: cfg.constraint_weight,
            reading: cfg.constraint,
            detach_car: cfg.constraint_detach_car,
            global_weight: if variant == Variant::Esmc2 {
                cfg.global_cart_weight
            } else {
                0.0
            },
        }
    }
}

impl Model for Esmc {
    net_accessors!(|s: &Esmc| match s.variant {
        Variant::Esmc => ModelKind::Esmc,
        Variant::Esmc2 => ModelKind::Esmc2,
        Variant::EsmcMinus => ModelKind::EsmcMinus,
    });

    fn forward(&self, batch: &Batch, train: bool) -> Pass {
        let mut touched = Vec::new();
        let x = self.net.input(0, batch, train, &mut touched);
        let ctr = self.ctr.prob(&x, train);
        let car = self.car.prob(&x, train);
        let cvr = self.cvr.prob(&x, train);
        let ctcar = &ctr * &car;
        let ctcvr = &ctr * &cvr;
        let cart = match self.variant {
            Variant::EsmcMinus => batch.label("cart"),
            _ => batch.label("cart_cal"),
        };
        let mut loss = bce(&ctr, batch.label("click")) * self.weights.ctr
            + bce(&ctcar, cart) * self.weights.car
            + bce(&ctcvr, batch.label("purchase")) * self.weights.cvr;
        if self.global_weight > 0.0 {
            loss += bce(&ctcar, batch.label("cart_global_cal")) * self.global_weight;
        }
        if self.constraint_weight > 0.0 && train {
            loss += divergence(&self.car, &self.cvr, self.reading, self.detach_car)
                * self.constraint_weight;
        }
        Pass {
            heads: Heads { ctr, cvr, ctcvr },
            loss,
            touched,
        }
    }

    fn tower_gap(&self) -> Option<f64> {
        Some(tower_gap(&self.car, &self.cvr))
    }
}
