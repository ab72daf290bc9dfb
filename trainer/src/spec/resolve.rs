//! Resolving a feature spec: every field checked on its own and against the sample
//! schema, then bound to an embedding region; regions packed into physical tables.

use super::resolved::{
    DenseField, ListField, Region, Resolved, SparseField, SparseSource, TableShape,
};
use super::{DEFAULT_BUCKETS, DenseSpec, FeatureSpec, ListSpec, Pooling, SparseSpec, fnv1a};
use crate::error::{Result, TrainerError};
use arrow::datatypes::{DataType, Schema};
use std::collections::BTreeMap;

fn err<T>(m: String) -> Result<T> {
    Err(TrainerError::Spec(m))
}

impl FeatureSpec {
    /// Checks the spec on its own and against the sample schema (when given), and lays
    /// out the embedding tables. `default_dim` fills fields that set no dimension.
    pub fn resolve(&self, schema: Option<&Schema>, default_dim: i64) -> Result<Resolved> {
        if default_dim <= 0 {
            return err(format!("embedding_dim must be positive, got {default_dim}"));
        }
        let mut r = Resolver {
            schema,
            default_dim,
            names: BTreeMap::new(),
            layout: Layout::default(),
            sparse: Vec::new(),
            dense: Vec::new(),
            lists: Vec::new(),
        };
        for s in &self.sparse {
            r.sparse_field(s)?;
        }
        for d in &self.dense {
            r.dense_field(d)?;
        }
        for l in &self.list {
            r.list_field(l)?;
        }
        if r.sparse.is_empty() && r.dense.is_empty() {
            return err("the spec declares no feature".into());
        }
        Ok(Resolved {
            tables: r.layout.tables(),
            regions: r.layout.regions,
            sparse: r.sparse,
            dense: r.dense,
            lists: r.lists,
        })
    }
}

/// The fields resolved so far, in the order the spec declares them.
struct Resolver<'a> {
    schema: Option<&'a Schema>,
    default_dim: i64,
    names: BTreeMap<String, ()>,
    layout: Layout,
    sparse: Vec<SparseField>,
    dense: Vec<DenseField>,
    lists: Vec<ListField>,
}

impl Resolver<'_> {
    /// Checks that field `name` is new and that its `column` is no label and (with a
    /// schema) exists; returns the column's type when the schema is known.
    fn check_column(&mut self, name: &str, column: &str, what: &str) -> Result<Option<DataType>> {
        if esmc_schemas::LABEL_COLUMNS.contains(&column) {
            return err(format!(
                "field '{name}': '{column}' is a label column and can never be a feature"
            ));
        }
        if self.names.insert(name.to_string(), ()).is_some() {
            return err(format!("field '{name}' is declared twice"));
        }
        let Some(schema) = self.schema else {
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
    }

    fn sparse_field(&mut self, s: &SparseSpec) -> Result<()> {
        let name = s.name.clone().unwrap_or_else(|| s.column.clone());
        if let Some(dt) = self.check_column(&name, &s.column, "sparse")?
            && !(dt.is_integer() || matches!(dt, DataType::Utf8 | DataType::LargeUtf8))
        {
            return err(format!(
                "sparse field '{name}': column '{}' is {dt}, expected integer or string ids",
                s.column
            ));
        }
        let group = s.group.clone().unwrap_or_else(|| name.clone());
        let region = self
            .layout
            .region(&name, &group, s.buckets, s.dim, self.default_dim)?;
        self.sparse.push(SparseField {
            name,
            column: s.column.clone(),
            region,
            source: SparseSource::Ids,
        });
        Ok(())
    }

    /// A dense field, or a sparse one when it is bucketized.
    fn dense_field(&mut self, d: &DenseSpec) -> Result<()> {
        let name = d.name.clone().unwrap_or_else(|| d.column.clone());
        if let Some(dt) = self.check_column(&name, &d.column, "dense")?
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
                let region = self
                    .layout
                    .region(&name, &name, buckets, d.dim, self.default_dim)?;
                self.sparse.push(SparseField {
                    name,
                    column: d.column.clone(),
                    region,
                    source: SparseSource::Bucketize(b.clone()),
                });
            }
            None => self.dense.push(DenseField {
                name,
                column: d.column.clone(),
                transform: d.transform,
            }),
        }
        Ok(())
    }

    fn list_field(&mut self, l: &ListSpec) -> Result<()> {
        let name = l.name.clone().unwrap_or_else(|| l.column.clone());
        let dt = self.check_column(&name, &l.column, "list")?;
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
        let Some(&region) = self.layout.groups.get(&l.group) else {
            return err(format!(
                "list field '{name}': group '{}' is not the group of any sparse field",
                l.group
            ));
        };
        let target = self.list_target(&name, l, region)?;
        self.lists.push(ListField {
            name,
            column: l.column.clone(),
            region,
            max_len: l.max_len,
            pooling: l.pooling,
            target,
        });
        Ok(())
    }

    /// The index of list field `name`'s target sparse field, of the dimension of its
    /// `region`; DIN pooling needs one.
    fn list_target(&self, name: &str, l: &ListSpec, region: usize) -> Result<Option<usize>> {
        let layout = &self.layout;
        let sparse = &self.sparse;
        match (&l.pooling, &l.target) {
            (Pooling::Din, None) => err(format!("list field '{name}': din pooling needs a target")),
            (_, None) => Ok(None),
            (_, Some(t)) => match sparse.iter().position(|s| &s.name == t) {
                Some(i) if layout.regions[sparse[i].region].dim == layout.regions[region].dim => {
                    Ok(Some(i))
                }
                Some(_) => err(format!(
                    "list field '{name}': target '{t}' has another embedding dimension"
                )),
                None => err(format!(
                    "list field '{name}': target '{t}' is not a sparse field"
                )),
            },
        }
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
