//! The labelled samples on their way out of the attribution: gathered column-wise into
//! batches of the sample table's schema ([`samples_batch`]), spilled batch by batch to
//! an uncompressed Parquet file in the staged partition, their labels and psc cases
//! counted as they pass (the manifest's rates and counts).

use super::output::WRITE_ROWS;
use crate::BuildError;
use crate::attribute::Sample;
use arrow::array::{
    ArrayRef, AsArray, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::Int8Type;
use esmc_schemas::{ColumnKind, PSC_CASE, PscCase, SAMPLES};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Samples gathered column-wise into batches of the sample table's schema, written to
/// the sink batch by batch.
pub(super) struct SampleBatches {
    rows: Vec<Sample>,
    sink: LabelledSink,
}

impl SampleBatches {
    pub(super) fn new(sink: LabelledSink) -> Self {
        SampleBatches {
            rows: Vec::new(),
            sink,
        }
    }

    pub(super) fn push(&mut self, s: Sample) -> Result<(), BuildError> {
        self.rows.push(s);
        if self.rows.len() == WRITE_ROWS {
            self.sink.write(&samples_batch(&self.rows)?)?;
            self.rows.clear();
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<LabelledSink, BuildError> {
        if !self.rows.is_empty() {
            self.sink.write(&samples_batch(&self.rows)?)?;
        }
        self.sink.close()?;
        Ok(self.sink)
    }
}

/// The labelled samples, in the order they are labelled, spilled to a Parquet file (the
/// build never holds a whole day of them); counts their labels as they pass.
pub(crate) struct LabelledSink {
    path: PathBuf,
    writer: Option<ArrowWriter<std::fs::File>>,
    rows: u64,
    /// Ones per label column, in the sample table's order.
    ones: BTreeMap<String, u64>,
    psc: BTreeMap<String, u64>,
}

impl LabelledSink {
    pub(crate) fn new(path: &Path) -> Result<Self, BuildError> {
        let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
        // fast to write and read back: no compression, small row groups, and no
        // dictionary for the ids, times and floats, nearly unique per row (interning them
        // only to fall back to plain pages cost ~2% of a labels-only build in `perf`)
        let mut props =
            WriterProperties::builder().set_max_row_group_row_count(Some(4 * WRITE_ROWS));
        for c in SAMPLES.columns {
            if matches!(
                c.kind,
                ColumnKind::Id | ColumnKind::Timestamp | ColumnKind::Float64
            ) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(c.name), false);
            }
        }
        let props = props.build();
        let writer =
            ArrowWriter::try_new(file, SAMPLES.arrow_schema(), Some(props)).map_err(|source| {
                BuildError::BadFile {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Ok(LabelledSink {
            path: path.to_path_buf(),
            writer: Some(writer),
            rows: 0,
            ones: SAMPLES
                .columns
                .iter()
                .filter(|c| c.kind == ColumnKind::Label)
                .map(|c| (c.name.to_string(), 0))
                .collect(),
            psc: PscCase::ALL
                .iter()
                .map(|c| (c.as_str().to_string(), 0))
                .collect(),
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<(), BuildError> {
        self.rows += b.num_rows() as u64;
        for c in SAMPLES
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Label)
        {
            let ones: u64 = b
                .column_by_name(c.name)
                .expect("sample column")
                .as_primitive::<Int8Type>()
                .values()
                .iter()
                .map(|&v| v as u64)
                .sum();
            *self.ones.get_mut(c.name).expect("label column") += ones;
        }
        for v in b
            .column_by_name(PSC_CASE)
            .expect("psc")
            .as_string::<i32>()
            .iter()
            .flatten()
        {
            *self.psc.get_mut(v).expect("known case") += 1;
        }
        let path = &self.path;
        self.writer
            .as_mut()
            .expect("open until closed")
            .write(b)
            .map_err(|source| BuildError::BadFile {
                path: path.clone(),
                source,
            })
    }

    fn close(&mut self) -> Result<(), BuildError> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|source| BuildError::BadFile {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Rows written.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Label rates and psc case counts.
    /// Ones per label column and samples per psc case, as counts.
    pub(crate) fn counts(&self) -> (&BTreeMap<String, u64>, &BTreeMap<String, u64>) {
        (&self.ones, &self.psc)
    }

    pub(super) fn stats(&self) -> (BTreeMap<String, f64>, BTreeMap<String, u64>) {
        let rates = self
            .ones
            .iter()
            .map(|(k, &v)| (k.clone(), v as f64 / self.rows.max(1) as f64))
            .collect();
        (rates, self.psc.clone())
    }
}

fn samples_batch(rows: &[Sample]) -> Result<RecordBatch, BuildError> {
    let id = |f: fn(&Sample) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
    };
    let label = |f: fn(&Sample) -> bool| -> ArrayRef {
        Arc::new(Int8Array::from_iter_values(rows.iter().map(|s| f(s) as i8)))
    };
    let truth = |k: usize| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(|s| s.truth[k])))
    };
    let columns: Vec<ArrayRef> = vec![
        id(|s| s.exposure_id),
        id(|s| s.exposure_id),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|s| s.ts))
                .with_timezone("UTC"),
        ),
        id(|s| s.user),
        id(|s| s.item),
        Arc::new(Int32Array::from_iter(rows.iter().map(|s| s.position))),
        id(|s| s.session_id),
        label(|s| s.labels.click),
        label(|s| s.labels.dmi),
        label(|s| s.labels.cart),
        label(|s| s.labels.wish),
        label(|s| s.labels.dma()),
        label(|s| s.labels.purchase),
        label(|s| s.labels.cart_cal),
        label(|s| s.labels.cart_global_cal),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|s| s.labels.psc_case.as_str()),
        )),
        label(|s| s.labels.psc_case.is_bad()),
        truth(0),
        truth(1),
        truth(2),
    ];
    RecordBatch::try_new(SAMPLES.arrow_schema(), columns)
        .map_err(|e| BuildError::Internal(format!("sample batch: {e}")))
}
