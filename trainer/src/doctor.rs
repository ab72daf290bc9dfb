//! `esmc doctor`'s libtorch check: which libtorch is linked, how many threads it uses,
//! and a real fit (logistic regression with Adam on a seeded synthetic problem) whose
//! loss must fall.

use crate::TrainerError;
use tch::{Device, Kind, Tensor, nn, nn::Module, nn::OptimizerConfig};

/// What the libtorch check found.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchReport {
    /// Intra-op threads libtorch runs with.
    pub threads: i32,
    /// Whether a CUDA device is visible (esmc trains on the CPU either way).
    pub cuda: bool,
    /// Mean log loss before the fit.
    pub loss_before: f64,
    /// Mean log loss after `steps` Adam steps.
    pub loss_after: f64,
    /// Optimizer steps taken.
    pub steps: usize,
}

/// Fits a 16-feature logistic regression to labels drawn from a known linear model for
/// `steps` full-batch Adam steps and reports the log loss before and after.
pub fn torch_report(steps: usize) -> Result<TorchReport, TrainerError> {
    tch::manual_seed(7);
    let device = Device::Cpu;
    let x = Tensor::randn([4096, 16], (Kind::Float, device));
    let w_true = Tensor::randn([16, 1], (Kind::Float, device));
    let p_true = x.matmul(&w_true).sigmoid();
    let y = p_true.bernoulli();

    let vs = nn::VarStore::new(device);
    let model = nn::linear(vs.root() / "logit", 16, 1, Default::default());
    let mut opt = nn::Adam::default().build(&vs, 0.05)?;
    let loss = |model: &nn::Linear| {
        model
            .forward(&x)
            .binary_cross_entropy_with_logits::<Tensor>(&y, None, None, tch::Reduction::Mean)
    };
    let loss_before = loss(&model).double_value(&[]);
    for _ in 0..steps {
        opt.backward_step(&loss(&model));
    }
    let loss_after = loss(&model).double_value(&[]);
    Ok(TorchReport {
        threads: tch::get_num_threads(),
        cuda: tch::Cuda::is_available(),
        loss_before,
        loss_after,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_trains_a_logistic_regression() {
        let r = torch_report(100).unwrap();
        assert!(r.threads >= 1);
        assert!(
            r.loss_after < 0.8 * r.loss_before,
            "loss did not fall: {} -> {}",
            r.loss_before,
            r.loss_after
        );
    }
}
