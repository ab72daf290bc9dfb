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

use crate::error::{Result, TrainerError};
use arrow::datatypes::{DataType, Schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

    /// Checks the spec on its own and against the sample schema (when given), and lays
    /// out the embedding tables. `default_dim` fills fields that set no dimension.
    pub fn resolve(&self, schema: Option<&Schema>, default_dim: i64) -> Result<Resolved> {
        fn err<T>(m: String) -> Result<T> {
            Err(TrainerError::Spec(m))
        }
        if default_dim <= 0 {
            return err(format!("embedding_dim must be positive, got {default_dim}"));
        }
        let mut names = BTreeMap::new();
        let mut check_column = |name: &str, column: &str, what: &str| -> Result<Option<DataType>> {
            if esmc_schemas::LABEL_COLUMNS.contains(&column) {
                return err(format!(
                    "field '{name}': '{column}' is a label column and can never be a feature"
                ));
            }
            if names.insert(name.to_string(), ()).is_some() {
                return err(format!("field '{name}' is declared twice"));
            }
            let Some(schema) = schema else {
                return Ok(None);
            };
            match schema.field_with_name(column) {
                Ok(f) => Ok(Some(f.data_type().clone())),
                Err(_) => err(format!(
                    "{what} field '{name}': no column '{column}' in the samples (columns: {})",
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        };

        let mut layout = Layout::default();
        let mut sparse = Vec::new();
        for s in &self.sparse {
            let name = s.name.clone().unwrap_or_else(|| s.column.clone());
            if let Some(dt) = check_column(&name, &s.column, "sparse")?
                && !(dt.is_integer() || matches!(dt, DataType::Utf8 | DataType::LargeUtf8))
            {
                return err(format!(
                    "sparse field '{name}': column '{}' is {dt}, expected integer or string ids",
                    s.column
                ));
            }
            let group = s.group.clone().unwrap_or_else(|| name.clone());
            let region = layout.region(&name, &group, s.buckets, s.dim, default_dim)?;
            sparse.push(SparseField {
                name,
                column: s.column.clone(),
                region,
                source: SparseSource::Ids,
            });
        }
        let mut dense = Vec::new();
        for d in &self.dense {
            let name = d.name.clone().unwrap_or_else(|| d.column.clone());
            if let Some(dt) = check_column(&name, &d.column, "dense")?
                && !dt.is_numeric()
            {
                return err(format!(
                    "dense field '{name}': column '{}' is {dt}, expected a number",
                    d.column
                ));
            }
            match &d.boundaries {
                Some(b) => {
                    if b.is_empty() || b.windows(2).any(|w| w[0] >= w[1]) {
                        return err(format!(
                            "dense field '{name}': boundaries must be non-empty and strictly ascending"
                        ));
                    }
                    let buckets = Some(b.len() as u64 + 1);
                    let region = layout.region(&name, &name, buckets, d.dim, default_dim)?;
                    sparse.push(SparseField {
                        name,
                        column: d.column.clone(),
                        region,
                        source: SparseSource::Bucketize(b.clone()),
                    });
                }
                None => dense.push(DenseField {
                    name,
                    column: d.column.clone(),
                    transform: d.transform,
                }),
            }
        }
        let mut lists = Vec::new();
        for l in &self.list {
            let name = l.name.clone().unwrap_or_else(|| l.column.clone());
            let dt = check_column(&name, &l.column, "list")?;
            let ok = match &dt {
                Some(DataType::List(f) | DataType::LargeList(f)) => f.data_type().is_integer(),
                Some(_) => false,
                None => true,
            };
            if !ok {
                let dt = dt.expect("checked");
                return err(format!(
                    "list field '{name}': column '{}' is {dt}, expected a list of integer ids",
                    l.column
                ));
            }
            if l.max_len == 0 {
                return err(format!("list field '{name}': max_len must be positive"));
            }
            let Some(&region) = layout.groups.get(&l.group) else {
                return err(format!(
                    "list field '{name}': group '{}' is not the group of any sparse field",
                    l.group
                ));
            };
            let target = match (&l.pooling, &l.target) {
                (Pooling::Din, None) => {
                    return err(format!("list field '{name}': din pooling needs a target"));
                }
                (_, None) => None,
                (_, Some(t)) => match sparse.iter().position(|s| &s.name == t) {
                    Some(i) if sparse[i].region_dim(&layout) == layout.regions[region].dim => {
                        Some(i)
                    }
                    Some(_) => {
                        return err(format!(
                            "list field '{name}': target '{t}' has another embedding dimension"
                        ));
                    }
                    None => {
                        return err(format!(
                            "list field '{name}': target '{t}' is not a sparse field"
                        ));
                    }
                },
            };
            lists.push(ListField {
                name,
                column: l.column.clone(),
                region,
                max_len: l.max_len,
                pooling: l.pooling,
                target,
            });
        }
        if sparse.is_empty() && dense.is_empty() {
            return err("the spec declares no feature".into());
        }
        Ok(Resolved {
            tables: layout.tables(),
            regions: layout.regions,
            sparse,
            dense,
            lists,
        })
    }
}

/// Where a sparse value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SparseSource {
    /// Hashed ids.
    Ids,
    /// A number bucketized at these boundaries.
    Bucketize(Vec<f64>),
}

/// A contiguous block of rows of one physical table: one id space.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub group: String,
    pub dim: i64,
    pub buckets: u64,
    /// Physical table (index into `Resolved::tables`).
    pub table: usize,
    /// First row of the region in its table.
    pub offset: i64,
    /// Mixed into every id before hashing, so that groups use different hashes.
    pub salt: u64,
}

/// A sparse field after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseField {
    pub name: String,
    pub column: String,
    pub region: usize,
    pub source: SparseSource,
}

impl SparseField {
    fn region_dim(&self, layout: &Layout) -> i64 {
        layout.regions[self.region].dim
    }
}

/// A dense field after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseField {
    pub name: String,
    pub column: String,
    pub transform: DenseTransform,
}

/// A list field after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ListField {
    pub name: String,
    pub column: String,
    pub region: usize,
    pub max_len: usize,
    pub pooling: Pooling,
    /// Index of the target sparse field (DIN).
    pub target: Option<usize>,
}

/// A physical embedding table: every region of one dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableShape {
    pub rows: i64,
    pub dim: i64,
}

/// The resolved spec: what the data path and the embedding layer work from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub tables: Vec<TableShape>,
    pub regions: Vec<Region>,
    pub sparse: Vec<SparseField>,
    pub dense: Vec<DenseField>,
    pub lists: Vec<ListField>,
}

impl Resolved {
    /// Width of the concatenated input of the towers: sparse embeddings, pooled lists,
    /// dense values.
    pub fn input_width(&self) -> i64 {
        let dim = |r: usize| self.regions[r].dim;
        self.sparse.iter().map(|s| dim(s.region)).sum::<i64>()
            + self.lists.iter().map(|l| dim(l.region)).sum::<i64>()
            + self.dense.len() as i64
    }

    /// Every column the data path reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut c: Vec<&str> = self.sparse.iter().map(|s| s.column.as_str()).collect();
        c.extend(self.dense.iter().map(|d| d.column.as_str()));
        c.extend(self.lists.iter().map(|l| l.column.as_str()));
        c.sort_unstable();
        c.dedup();
        c
    }
}

#[derive(Default)]
struct Layout {
    regions: Vec<Region>,
    groups: BTreeMap<String, usize>,
}

impl Layout {
    fn region(
        &mut self,
        field: &str,
        group: &str,
        buckets: Option<u64>,
        dim: Option<i64>,
        default_dim: i64,
    ) -> Result<usize> {
        if let Some(b) = buckets
            && !(1..=(1u64 << 31)).contains(&b)
        {
            return Err(TrainerError::Spec(format!(
                "field '{field}': buckets must be in 1..=2^31, got {b}"
            )));
        }
        if let Some(d) = dim
            && d <= 0
        {
            return Err(TrainerError::Spec(format!(
                "field '{field}': dim must be positive, got {d}"
            )));
        }
        if let Some(&r) = self.groups.get(group) {
            let region = &self.regions[r];
            if buckets.is_some_and(|b| b != region.buckets) || dim.is_some_and(|d| d != region.dim)
            {
                return Err(TrainerError::Spec(format!(
                    "field '{field}': group '{group}' was declared with {} buckets of dim {}",
                    region.buckets, region.dim
                )));
            }
            return Ok(r);
        }
        let r = self.regions.len();
        self.regions.push(Region {
            group: group.to_string(),
            dim: dim.unwrap_or(default_dim),
            buckets: buckets.unwrap_or(DEFAULT_BUCKETS),
            table: 0,
            offset: 0,
            salt: fnv1a(group.as_bytes()),
        });
        self.groups.insert(group.to_string(), r);
        Ok(r)
    }

    /// Assigns regions to tables by dimension (in order of first appearance) and offsets.
    fn tables(&mut self) -> Vec<TableShape> {
        let mut tables: Vec<TableShape> = Vec::new();
        for region in &mut self.regions {
            let t = match tables.iter().position(|t| t.dim == region.dim) {
                Some(t) => t,
                None => {
                    tables.push(TableShape {
                        rows: 0,
                        dim: region.dim,
                    });
                    tables.len() - 1
                }
            };
            region.table = t;
            region.offset = tables[t].rows;
            tables[t].rows += region.buckets as i64 + 1;
        }
        tables
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
