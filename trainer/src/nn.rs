//! Layers the models are made of: a named parameter store, linear layers and MLP towers.
//!
//! Parameters live in a `ParamStore` in creation order with names (`ctr.l0.weight`), so
//! that checkpoints are keyed by the module tree and the optimizer walks them in a fixed
//! order.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Dense parameters of a model, named, in creation order.
#[derive(Debug, Default)]
pub struct ParamStore {
    pub names: Vec<String>,
    pub tensors: Vec<Tensor>,
}

impl ParamStore {
    /// A parameter initialised uniformly in [-bound, bound].
    pub fn uniform(&mut self, name: String, shape: &[i64], bound: f64) -> Tensor {
        let t = (Tensor::rand(shape, (Kind::Float, tch::Device::Cpu)) * (2.0 * bound) - bound)
            .set_requires_grad(true);
        self.names.push(name);
        self.tensors.push(t.shallow_clone());
        t
    }

    /// A linear layer with PyTorch's default initialisation (bound 1/sqrt(fan_in)).
    pub fn linear(&mut self, name: &str, input: i64, output: i64) -> Linear {
        let bound = 1.0 / (input as f64).sqrt();
        Linear {
            weight: self.uniform(format!("{name}.weight"), &[output, input], bound),
            bias: self.uniform(format!("{name}.bias"), &[output], bound),
        }
    }

    /// Number of scalar parameters.
    pub fn numel(&self) -> i64 {
        self.tensors.iter().map(|t| t.numel() as i64).sum()
    }
}

/// `y = x W^T + b`.
#[derive(Debug)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Linear {
    /// # Shapes
    /// `[B, in]` -> `[B, out]`
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }
}

/// Activation of hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    #[default]
    Relu,
    /// Slope 0.01 (the ESMC paper's choice).
    LeakyRelu,
}

impl Act {
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Act::Relu => x.relu(),
            Act::LeakyRelu => x.leaky_relu(),
        }
    }
}

/// A tower: hidden layers with activation and dropout, then a linear output layer.
#[derive(Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    act: Act,
    dropout: f64,
}

impl Mlp {
    /// `hidden` sizes, then `output` units (1 for a logit). Layers are named
    /// `{name}.l0`, `{name}.l1`, ...
    pub fn new(
        ps: &mut ParamStore,
        name: &str,
        input: i64,
        hidden: &[i64],
        output: i64,
        act: Act,
        dropout: f64,
    ) -> Self {
        let mut layers = Vec::new();
        let mut width = input;
        for (i, &h) in hidden.iter().chain(std::iter::once(&output)).enumerate() {
            layers.push(ps.linear(&format!("{name}.l{i}"), width, h));
            width = h;
        }
        Mlp {
            layers,
            act,
            dropout,
        }
    }

    /// # Shapes
    /// `[B, input]` -> `[B, output]` (no activation on the output layer)
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h);
            if i < last {
                h = self.act.apply(&h);
                if self.dropout > 0.0 && train {
                    h = h.dropout(self.dropout, train);
                }
            }
        }
        h
    }

    /// The tower as a probability: `sigmoid(forward(x))` squeezed to `[B]`.
    pub fn prob(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward(x, train).squeeze_dim(1).sigmoid()
    }
}
