//! The model family. One file per model; each builds its towers over the shared
//! embedding (`Net`) and composes tower probabilities in its sequential composition
//! module (SCM): products of probabilities, never of logits, clamped before the log loss.
//!
//! Every model returns the same three heads, so that training, evaluation and the
//! comparison treat them alike: pCTR (over exposures), pCVR (the model's post-click
//! conversion estimate) and pCTCVR.

pub mod base;
pub mod dnn_os;
pub mod esm2;
pub mod esmc;
pub mod esmc2;
pub mod esmc_minus;
pub mod esmm;
pub mod esmm_ns;
pub mod esms;
pub mod esms2;
pub mod hm3;
pub mod mmoe;
pub mod shared_bottom;

use crate::config::{ModelKind, TrainConfig};
use crate::data::Batch;
use crate::embed::{Embedder, Touched};
use crate::nn::{Mlp, ParamStore};
use crate::spec::Resolved;
use std::sync::Arc;
use tch::{Kind, Reduction, Tensor};

pub use esmc::{constraint, divergence};

/// Probabilities a model outputs, each `[B]`.
#[derive(Debug)]
pub struct Heads {
    pub ctr: Tensor,
    pub cvr: Tensor,
    pub ctcvr: Tensor,
}

/// The result of a forward pass.
#[derive(Debug)]
pub struct Pass {
    pub heads: Heads,
    /// The weighted training loss (a scalar).
    pub loss: Tensor,
    /// Embedding rows touched, per embedder (training only).
    pub touched: Vec<Vec<Touched>>,
}

/// Parameters shared by every model: dense parameters and embedders.
#[derive(Debug)]
pub struct Net {
    pub ps: ParamStore,
    pub emb: Vec<Embedder>,
}

impl Net {
    /// `embedders` separate embedding layers over the same spec (1 for all models but
    /// the -NS/BASE variants, which give each tower its own).
    pub fn new(spec: &Arc<Resolved>, cfg: &TrainConfig, embedders: usize) -> Self {
        let mut ps = ParamStore::default();
        let emb = (0..embedders)
            .map(|e| {
                Embedder::new(
                    spec.clone(),
                    &mut ps,
                    &format!("emb{e}"),
                    cfg.embedding_init_std,
                )
            })
            .collect();
        Net { ps, emb }
    }

    /// Width of a tower input.
    pub fn width(&self) -> i64 {
        self.emb[0].spec.input_width()
    }

    /// A tower of the config's shape ending in one logit.
    pub fn tower(&mut self, name: &str, cfg: &TrainConfig) -> Mlp {
        let w = self.width();
        Mlp::new(
            &mut self.ps,
            name,
            w,
            &cfg.hidden,
            1,
            cfg.activation,
            cfg.dropout,
        )
    }

    /// The input of embedder `e` for `batch`; touched rows go to `touched[e]`.
    pub fn input(
        &self,
        e: usize,
        batch: &Batch,
        train: bool,
        touched: &mut Vec<Vec<Touched>>,
    ) -> Tensor {
        if touched.len() < self.emb.len() {
            touched.resize_with(self.emb.len(), Vec::new);
        }
        self.emb[e].input(batch, train, &mut touched[e])
    }
}

/// A trainable model of the family.
pub trait Model: Send {
    fn kind(&self) -> ModelKind;
    fn net(&self) -> &Net;
    fn net_mut(&mut self) -> &mut Net;
    /// Forward pass and loss.
    fn forward(&self, batch: &Batch, train: bool) -> Pass;
    /// ESMC family: Σ_l ||W_l^car − W_l^cvr||² over the towers' weight matrices (the
    /// distance the parameter constraint pulls in). None for models without the pair.
    fn tower_gap(&self) -> Option<f64> {
        None
    }
}

/// Probabilities are clamped to [EPS, 1 - EPS] before the log loss.
pub const EPS: f64 = 1e-7;

/// Mean binary cross entropy of probabilities `p` against labels `y`.
pub fn bce(p: &Tensor, y: &Tensor) -> Tensor {
    p.clamp(EPS, 1.0 - EPS)
        .binary_cross_entropy::<Tensor>(y, None, Reduction::Mean)
}

/// Binary cross entropy weighted per row, averaged over the weights (rows of weight 0,
/// such as unclicked rows for a clicked-only CVR, do not count).
pub fn bce_weighted(p: &Tensor, y: &Tensor, w: &Tensor) -> Tensor {
    let l = p
        .clamp(EPS, 1.0 - EPS)
        .binary_cross_entropy::<Tensor>(y, None, Reduction::None);
    (l * w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0)
}

/// Builds the model of `cfg.model`.
pub fn build(cfg: &TrainConfig, spec: Arc<Resolved>) -> Box<dyn Model> {
    match cfg.model {
        ModelKind::Base => Box::new(base::Base::new(&spec, cfg, None)),
        ModelKind::DnnOs => Box::new(dnn_os::new(&spec, cfg)),
        ModelKind::SharedBottom => Box::new(shared_bottom::SharedBottom::new(&spec, cfg)),
        ModelKind::Mmoe => Box::new(mmoe::Mmoe::new(&spec, cfg)),
        ModelKind::Esmm => Box::new(esmm::Esmm::new(&spec, cfg, false)),
        ModelKind::EsmmNs => Box::new(esmm_ns::new(&spec, cfg)),
        ModelKind::Esm2 => Box::new(esm2::Esm2::new(&spec, cfg)),
        ModelKind::Hm3 => Box::new(hm3::Hm3::new(&spec, cfg)),
        ModelKind::Esmc => Box::new(esmc::Esmc::new(&spec, cfg, esmc::Variant::Esmc)),
        ModelKind::Esmc2 => Box::new(esmc2::new(&spec, cfg)),
        ModelKind::EsmcMinus => Box::new(esmc_minus::new(&spec, cfg)),
        ModelKind::Esms => Box::new(esms::Esms::new(&spec, cfg, 0.0, ModelKind::Esms)),
        ModelKind::Esms2 => Box::new(esms2::new(&spec, cfg)),
    }
}

/// Implements the `net`/`net_mut`/`kind` accessors of `Model` for a struct with a `net`
/// field and a `kind` field or constant.
macro_rules! net_accessors {
    ($kind:expr) => {
        fn kind(&self) -> crate::config::ModelKind {
            #[allow(clippy::redundant_closure_call)]
            ($kind)(self)
        }
        fn net(&self) -> &crate::models::Net {
            &self.net
        }
        fn net_mut(&mut self) -> &mut crate::models::Net {
            &mut self.net
        }
    };
}
pub(crate) use net_accessors;
