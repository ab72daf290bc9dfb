//! The feature spec (TOML): which sample columns feed the model and how.
//!
//! ```text
//! [[sparse]]  column -> hash(id ^ group salt) % buckets -> row of an embedding table
//! [[dense]]   column -> tanh((x - mu) / sigma), or bucketized into a sparse field
//! [[list]]    list<id> column -> rows of a group's table -> mean or DIN attention pooling
//! ```
//!
//! Hashing instead of a vocabulary means a new user or item on a later day trains and
//! scores without a rebuild: it lands in its bucket like any other id. Fields in the same
//! `group` share one table region (one id space): `item_id` and the list of recently
//! clicked items, say. Every region has one extra row for nulls. Regions of the same
//! embedding dimension live in one physical table, so a batch gathers each table once.
//! Label columns (`esmc_schemas::LABEL_COLUMNS`) can never be features.

mod resolve;
mod resolved;

pub use resolved::{
    DenseField, ListField, Region, Resolved, SparseField, SparseSource, TableShape,
};

use crate::error::{Result, TrainerError};
use serde::{Deserialize, Serialize};

/// A sparse (categorical) field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SparseSpec {
    /// The sample column (integer or string ids).
    pub column: String,
    /// Field name; defaults to the column.
    #[serde(default)]
    pub name: Option<String>,
    /// Hash buckets (rows of the embedding region, plus one for nulls).
    #[serde(default)]
    pub buckets: Option<u64>,
    /// Embedding dimension; defaults to the training config's `embedding_dim`.
    #[serde(default)]
    pub dim: Option<i64>,
    /// Shared embedding group; defaults to the field's own name.
    #[serde(default)]
    pub group: Option<String>,
}

/// How a dense field enters the model.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DenseTransform {
    /// `tanh((x - mu) / sigma)` with mu, sigma from the first training day (ESM² eq. 17).
    #[default]
    TanhNorm,
    /// The same on `ln(1 + max(x, 0))`, for heavy-tailed counts and prices.
    Log1pTanhNorm,
}

/// A dense (numeric) field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    pub column: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub transform: DenseTransform,
    /// When given, the value is bucketized at these ascending boundaries and becomes a
    /// sparse field of `boundaries.len() + 1` buckets instead.
    #[serde(default)]
    pub boundaries: Option<Vec<f64>>,
    /// Embedding dimension of the bucketized field.
    #[serde(default)]
    pub dim: Option<i64>,
}

/// Pooling of a list field.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    #[default]
    Mean,
    /// Target attention in the style of DIN: weights from an MLP over
    /// `[e, q, e - q, e * q]` with the target field's embedding q, masked, not normalised.
    Din,
}

/// A list field (a behaviour sequence such as the last clicked item ids).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    pub column: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The embedding group of the ids (e.g. `item_id`'s); required.
    pub group: String,
    /// Keep the last `max_len` ids.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    #[serde(default)]
    pub pooling: Pooling,
    /// For DIN: the sparse field whose embedding is the attention query.
    #[serde(default)]
    pub target: Option<String>,
}

fn default_max_len() -> usize {
    50
}

/// The feature spec as written in TOML.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    #[serde(default)]
    pub sparse: Vec<SparseSpec>,
    #[serde(default)]
    pub dense: Vec<DenseSpec>,
    #[serde(default)]
    pub list: Vec<ListSpec>,
}

/// Default bucket count of a sparse field that does not set one.
pub const DEFAULT_BUCKETS: u64 = 1 << 18;

impl FeatureSpec {
    /// Parses a TOML spec.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| TrainerError::Spec(e.to_string()))
    }

    /// The spec written as TOML (stored beside every model).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a feature spec always serialises")
    }

    /// The default spec over the columns `esmc build` writes: ids and dimension columns
    /// as sparse fields, the price as a dense one.
    pub fn samples_default() -> Self {
        let sparse = |column: &str, buckets: u64| SparseSpec {
            column: column.into(),
            name: None,
            buckets: Some(buckets),
            dim: None,
            group: None,
        };
        FeatureSpec {
            sparse: vec![
                sparse("user_id", 1 << 18),
                sparse("item_id", 1 << 18),
                sparse("category_id", 1 << 12),
                sparse("shop_id", 1 << 16),
                sparse("brand_id", 1 << 14),
                sparse("position", 64),
                sparse("age_bucket", 16),
                sparse("gender", 4),
                sparse("city", 1 << 10),
                sparse("purchase_power", 16),
            ],
            dense: vec![DenseSpec {
                column: "price".into(),
                name: None,
                transform: DenseTransform::Log1pTanhNorm,
                boundaries: None,
                dim: None,
            }],
            list: vec![],
        }
    }
}

/// FNV-1a, for stable salts from group names.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The id hash: splitmix64's finaliser over `id ^ salt`.
#[inline]
pub fn hash_id(id: u64, salt: u64) -> u64 {
    let mut z = id ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
