//! The merges chunk by chunk of samples: each chunk's keys are read back from their
//! spill file, every feature family computed over it in parallel, and its columns
//! appended to the features' spill file in sample_id order (the click sequences as
//! ranges of the chunk's arena, which goes to a second spill file).

use super::events::Events;
use super::prior::Prior;
use super::recency::recency;
use super::sequences::{Sequences, sequences};
use super::spill::{FeatureTable, SpillReader, SpillWriter, Targets};
use super::trace;
use super::windows::{entity, smoothed};
use crate::BuildError;
use crate::config::FeatureConfig;
use arrow::array::{ArrayRef, AsArray, Float32Array, Int32Array};
use arrow::datatypes::{DataType, Field, Int64Type};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The feature columns (in `cfg.columns()` order, but the two sequences) of a chunk of
/// samples (`sample_id, ts, user_id, item_id, category_id`) and its click sequences, the
/// entities and the rest computed in parallel.
fn chunk(
    cfg: &FeatureConfig,
    events: &Events,
    prior: &Prior,
    cols: &[ArrayRef],
) -> Result<(Vec<ArrayRef>, Sequences), BuildError> {
    let [ts, user, item, cat] = [1, 2, 3, 4].map(|j| cols[j].as_primitive::<Int64Type>());
    let w = cfg.windows_days.len();
    let f = &prior.files;
    let ((a, b), (c, d)) = rayon::join(
        || {
            rayon::join(
                || entity([item], ts, &events.item, &f[0], w),
                || entity([cat], ts, &events.cat, &f[1], w),
            )
        },
        || {
            rayon::join(
                || entity([user], ts, &events.user, &f[2], w),
                || entity([user, cat], ts, &events.uc, &f[3], w),
            )
        },
    );
    let (rec, seq) = rayon::join(
        || recency(cfg, user, item, ts, &events.acts),
        || sequences(cfg, user, ts, &events.clicks),
    );
    let mut columns = window_columns(cfg.smoothing, prior, [a?, b?, c?], d?);
    columns.extend(rec?);
    Ok((columns, seq?))
}

/// One entity's counts: per window, the four counters' columns (exp, clk, cart, buy).
type Counts = Vec<[Vec<i32>; 4]>;

/// The trailing-window columns of a chunk, in `cfg.columns()` order: per entity (item,
/// category, user) and window the four counts and the smoothed CTR and CVR (`m`
/// pseudo-counts towards the shop's rates), then per window the user × category clicks,
/// purchases and affinity (its share of the user's clicks).
fn window_columns(m: f64, prior: &Prior, entities: [Counts; 3], uc: Counts) -> Vec<ArrayRef> {
    let mut columns: Vec<ArrayRef> = Vec::new();
    let user_clicks: Vec<Vec<i32>> = entities[2].iter().map(|c| c[1].clone()).collect();
    for counts in entities {
        for [exp, clk, cart, buy] in counts {
            let ctr = Float32Array::from_iter_values(
                clk.iter()
                    .zip(&exp)
                    .map(|(&c, &e)| smoothed(c, e, m, prior.p_ctr)),
            );
            let cvr = Float32Array::from_iter_values(
                buy.iter()
                    .zip(&clk)
                    .map(|(&b, &c)| smoothed(b, c, m, prior.p_cvr)),
            );
            for v in [exp, clk, cart, buy] {
                columns.push(Arc::new(Int32Array::from(v)));
            }
            columns.push(Arc::new(ctr));
            columns.push(Arc::new(cvr));
        }
    }
    for ([_, clk, _, buy], user_clk) in uc.into_iter().zip(&user_clicks) {
        let affinity = Float32Array::from_iter_values(
            clk.iter()
                .zip(user_clk)
                .map(|(&c, &u)| if u > 0 { c as f32 / u as f32 } else { 0.0 }),
        );
        columns.push(Arc::new(Int32Array::from(clk)));
        columns.push(Arc::new(Int32Array::from(buy)));
        columns.push(Arc::new(affinity));
    }
    columns
}

/// Samples per chunk of the as-of merges for a memory budget: 1 KiB of the budget per
/// sample (measured: a chunk of 1M samples adds about 500 MiB; larger chunks save
/// passes over the events but were not faster at 10M, the merges' random writes into
/// the chunk's columns cost more as they outgrow the caches).
fn chunk_rows(budget: usize) -> usize {
    (budget / 1024).max(1024)
}

/// Computes the feature columns (see the module docs) chunk by chunk of samples, in
/// sample_id order, into one spill file in `dir`.
pub(crate) fn compute(
    cfg: &FeatureConfig,
    events: Events,
    prior: Prior,
    targets: Targets,
    dir: &Path,
    budget: usize,
) -> Result<FeatureTable, BuildError> {
    let started = Instant::now();
    let fields = cfg.columns();
    let field = |n: &str, t: DataType| Arc::new(Field::new(n, t, false));
    let mut all = vec![field("sample_id", DataType::Int64)];
    all.extend(fields[..fields.len() - 2].iter().cloned());
    all.extend([
        field("seq_from", DataType::UInt32),
        field("seq_to", DataType::UInt32),
    ]);
    let schema = Arc::new(arrow::datatypes::Schema::new(all));
    let mut out = SpillWriter::create(dir.join("features.arrow"), schema)?;
    let arena_schema = Arc::new(arrow::datatypes::Schema::new(vec![
        Field::new("item", DataType::Int64, true),
        Field::new("cat", DataType::Int64, true),
    ]));
    let mut arena = SpillWriter::create(dir.join("sequences.arrow"), arena_schema)?;
    let mut chunks = std::collections::VecDeque::new();
    let mut input = SpillReader::open(targets.path.clone())?;
    let step = chunk_rows(budget);
    let mut done = 0;
    while done < targets.rows {
        let len = step.min(targets.rows - done);
        let cols = input.take(len)?;
        let (features, seq) = chunk(cfg, &events, &prior, &cols)?;
        let mut columns = vec![cols[0].clone()];
        columns.extend(features);
        columns.extend([Arc::new(seq.from) as ArrayRef, Arc::new(seq.to)]);
        out.write(&columns)?;
        chunks.push_back((done + len, seq.items.len()));
        arena.write(&[Arc::new(seq.items), Arc::new(seq.cats)])?;
        done += len;
        trace(&format!("chunk to row {done}"), started);
    }
    drop(input);
    std::fs::remove_file(&targets.path).map_err(|e| BuildError::io(&targets.path, e))?;
    let path = out.finish()?;
    Ok(FeatureTable {
        rows: targets.rows,
        fields,
        spill: SpillReader::open(path)?,
        arena: SpillReader::open(arena.finish()?)?,
        chunks,
        current: None,
        gather_secs: 0.0,
        compute_secs: started.elapsed().as_secs_f64(),
    })
}
