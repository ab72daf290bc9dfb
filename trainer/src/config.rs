//! The training config: model, architecture, optimizer, loss weights, batches; the
//! papers' presets; written beside every checkpoint.

use crate::error::{Result, TrainerError};
use crate::nn::Act;
use crate::optim::{OptimConfig, OptimKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The models of the family (docs/models.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Independent CTR DNN and CVR DNN trained on clicked rows only.
    Base,
    /// BASE with converting clicked rows oversampled `oversample` times.
    DnnOs,
    SharedBottom,
    Mmoe,
    Esmm,
    EsmmNs,
    Esm2,
    Hm3,
    Esmc,
    Esms,
    Esmc2,
    Esms2,
    /// ESMC trained on the uncalibrated `cart` label.
    EsmcMinus,
}

impl ModelKind {
    pub const ALL: [ModelKind; 13] = [
        ModelKind::Base,
        ModelKind::DnnOs,
        ModelKind::SharedBottom,
        ModelKind::Mmoe,
        ModelKind::Esmm,
        ModelKind::EsmmNs,
        ModelKind::Esm2,
        ModelKind::Hm3,
        ModelKind::Esmc,
        ModelKind::Esms,
        ModelKind::Esmc2,
        ModelKind::Esms2,
        ModelKind::EsmcMinus,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Base => "base",
            ModelKind::DnnOs => "dnn-os",
            ModelKind::SharedBottom => "shared-bottom",
            ModelKind::Mmoe => "mmoe",
            ModelKind::Esmm => "esmm",
            ModelKind::EsmmNs => "esmm-ns",
            ModelKind::Esm2 => "esm2",
            ModelKind::Hm3 => "hm3",
            ModelKind::Esmc => "esmc",
            ModelKind::Esms => "esms",
            ModelKind::Esmc2 => "esmc2",
            ModelKind::Esms2 => "esms2",
            ModelKind::EsmcMinus => "esmc-minus",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = TrainerError;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.to_ascii_lowercase().replace('_', "-");
        let s = match s.as_str() {
            "dnn" => "base",
            "esmm2" | "esm²" => "esm2",
            "esmc²" => "esmc2",
            "esms²" => "esms2",
            "esmc-" => "esmc-minus",
            other => other,
        };
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                TrainerError::Config(format!(
                    "unknown model '{s}' (one of: {})",
                    ModelKind::ALL.map(|m| m.name()).join(", ")
                ))
            })
    }
}

/// Loss weights of the tasks (all 1 in the papers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossWeights {
    pub ctr: f64,
    /// CTCVR (ESMM family) or CVR (BASE, Shared-Bottom).
    pub cvr: f64,
    /// CTCAR (ESMC family), CTAVR / D-Ma (ESM², HM³).
    pub car: f64,
    /// D-Mi (HM³).
    pub dmi: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        LossWeights {
            ctr: 1.0,
            cvr: 1.0,
            car: 1.0,
            dmi: 1.0,
        }
    }
}

/// The two readings of ESMC's parameter constraint D(θ_car || θ_cvr), summed over the
/// towers' corresponding weight matrices W_l (biases are not constrained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Constraint {
    /// KL(softmax(vec W_l^car) || softmax(vec W_l^cvr)): each matrix read as one
    /// distribution over its entries. Scale-free: it is ~1e-3 with gradients ~1e-7 per
    /// weight, so w4 acts mostly through an adaptive optimizer's normalisation.
    Softmax,
    /// ||W_l^car − W_l^cvr||² / 2: the KL divergence of two unit-variance Gaussians
    /// centred on the weights. Its gradient is the weight gap itself.
    Gaussian,
}

/// Everything that shapes a training run except the feature spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub model: ModelKind,
    /// The preset applied (informational; its values are already in the fields).
    pub preset: Option<String>,
    pub embedding_dim: i64,
    /// Standard deviation of the embedding initialisation.
    pub embedding_init_std: f64,
    /// Hidden layers of each tower.
    pub hidden: Vec<i64>,
    pub activation: Act,
    pub dropout: f64,
    pub optimizer: OptimConfig,
    pub batch_size: usize,
    /// Rows of the shuffle buffer.
    pub shuffle_rows: usize,
    pub seed: u64,
    /// The most libtorch intra-op threads of training: `esmc train` shrinks the team while
    /// other processes keep the cores busy (`team::Governor`; `ESMC_FIXED_THREADS=1` keeps
    /// it at this size).
    pub threads: i32,
    pub loss_weights: LossWeights,
    /// ESMC's w4: weight of the parameter constraint.
    pub constraint_weight: f64,
    /// Which divergence the constraint is (see [`Constraint`]).
    pub constraint: Constraint,
    /// Detach the CAR tower in the constraint (the spec's default: "CTCAR controls CTCVR").
    pub constraint_detach_car: bool,
    /// ESMC²/ESMS²: weight of the CTCAR loss on `cart_global_cal`.
    pub global_cart_weight: f64,
    /// DNN-OS: how many times converting clicked rows count.
    pub oversample: f64,
    /// MMoE: number of experts and their hidden layers.
    pub experts: usize,
    pub expert_hidden: Vec<i64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::Esmc,
            preset: None,
            embedding_dim: 16,
            embedding_init_std: 0.05,
            hidden: vec![200, 80],
            activation: Act::Relu,
            dropout: 0.0,
            optimizer: OptimConfig {
                kind: OptimKind::adam(),
                lr: 1e-3,
                embedding_lr: None,
            },
            batch_size: 1024,
            shuffle_rows: 65_536,
            seed: 42,
            threads: 2,
            loss_weights: LossWeights::default(),
            constraint_weight: 0.05,
            constraint: Constraint::Softmax,
            constraint_detach_car: true,
            global_cart_weight: 0.5,
            oversample: 5.0,
            experts: 4,
            expert_hidden: vec![128],
        }
    }
}

/// The presets of the papers (docs/models.md, presets).
pub const PRESETS: [&str; 4] = ["esmm-2018", "esm2-2020", "hm3-2021", "esmc-2023"];

impl TrainConfig {
    /// The defaults for `model`.
    pub fn for_model(model: ModelKind) -> Self {
        TrainConfig {
            model,
            ..Default::default()
        }
    }

    /// Applies a paper preset on top of the current values.
    pub fn apply_preset(&mut self, preset: &str) -> Result<()> {
        match preset {
            "esmm-2018" => {
                self.embedding_dim = 18;
                self.hidden = vec![200, 80];
                self.activation = Act::Relu;
                self.optimizer = OptimConfig {
                    kind: OptimKind::adam(),
                    lr: 1e-3,
                    embedding_lr: None,
                };
            }
            "esm2-2020" | "hm3-2021" => {
                self.embedding_dim = 128;
                self.hidden = vec![512, 256, 128, 32];
                self.activation = Act::Relu;
                self.dropout = if preset == "esm2-2020" {
                    0.5
                } else {
                    self.dropout
                };
                self.optimizer = OptimConfig {
                    kind: OptimKind::adam(),
                    lr: 5e-4,
                    embedding_lr: None,
                };
                self.batch_size = 1000;
            }
            "esmc-2023" => {
                self.activation = Act::LeakyRelu;
                self.optimizer = OptimConfig {
                    // PyTorch's initial accumulator (0), not TensorFlow's (0.1): the paper
                    // does not say, and 0.1 kept every model at AUC 0.50-0.52 after three
                    // 200k-sample days of the default world (0: CTR-AUC 0.65 as Adam)
                    kind: OptimKind::Adagrad {
                        initial_accumulator: 0.0,
                        accumulator_decay: 0.9999,
                        eps: 1e-10,
                    },
                    lr: 5e-3,
                    embedding_lr: None,
                };
                self.batch_size = 1024;
                self.loss_weights = LossWeights::default();
                self.constraint_weight = 0.05;
                self.global_cart_weight = 0.5;
            }
            other => {
                return Err(TrainerError::Config(format!(
                    "unknown preset '{other}' (one of: {})",
                    PRESETS.join(", ")
                )));
            }
        }
        self.preset = Some(preset.to_string());
        Ok(())
    }

    /// Checks values a run cannot start with.
    pub fn validate(&self) -> Result<()> {
        let err = |m: &str| Err(TrainerError::Config(m.to_string()));
        if self.batch_size == 0 {
            return err("batch_size must be positive");
        }
        if self
            .hidden
            .iter()
            .chain(&self.expert_hidden)
            .any(|h| *h <= 0)
        {
            return err("hidden layer sizes must be positive");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return err("dropout must be in [0, 1)");
        }
        if self.optimizer.lr <= 0.0 {
            return err("learning rate must be positive");
        }
        if self.experts == 0 {
            return err("experts must be positive");
        }
        Ok(())
    }
}
