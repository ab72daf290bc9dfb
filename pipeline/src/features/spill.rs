//! The feature stage's spill files (Arrow IPC): written in fixed-size batches, read back
//! in order any number of rows at a time. The samples' keys go out this way before the
//! merges ([`Targets`]) and the feature columns come back this way as the samples are
//! written ([`FeatureTable`]).

use super::column;
use crate::BuildError;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{FieldRef, Int64Type, SchemaRef};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per record batch of the spill files.
pub(super) const SPILL_ROWS: usize = 64 * 1024;

/// An Arrow IPC spill file being written.
pub(super) struct SpillWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: FileWriter<BufWriter<File>>,
}

impl SpillWriter {
    pub(super) fn create(path: PathBuf, schema: SchemaRef) -> Result<Self, BuildError> {
        let file = File::create(&path).map_err(|e| BuildError::io(&path, e))?;
        let writer = FileWriter::try_new(BufWriter::new(file), &schema)
            .map_err(|e| BuildError::Internal(format!("{}: {e}", path.display())))?;
        Ok(SpillWriter {
            path,
            schema,
            writer,
        })
    }

    /// Appends `columns` (equal lengths), in batches of at most `SPILL_ROWS` rows.
    pub(super) fn write(&mut self, columns: &[ArrayRef]) -> Result<(), BuildError> {
        let err = |e: arrow::error::ArrowError| {
            BuildError::Internal(format!("{}: {e}", self.path.display()))
        };
        let n = columns.first().map_or(0, |c| c.len());
        for start in (0..n).step_by(SPILL_ROWS) {
            let len = SPILL_ROWS.min(n - start);
            let batch = RecordBatch::try_new(
                self.schema.clone(),
                columns.iter().map(|c| c.slice(start, len)).collect(),
            )
            .map_err(err)?;
            self.writer.write(&batch).map_err(err)?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<PathBuf, BuildError> {
        self.writer
            .finish()
            .map_err(|e| BuildError::Internal(format!("{}: {e}", self.path.display())))?;
        Ok(self.path)
    }
}

/// A reader of the Arrow IPC file at `path`.
pub(super) fn ipc_reader(path: &Path) -> Result<FileReader<BufReader<File>>, BuildError> {
    let file = File::open(path).map_err(|e| BuildError::io(path, e))?;
    FileReader::try_new(BufReader::new(file), None)
        .map_err(|e| BuildError::Internal(format!("{}: {e}", path.display())))
}

/// A spill file being read back in order, any number of rows at a time.
pub(super) struct SpillReader {
    path: PathBuf,
    schema: SchemaRef,
    reader: FileReader<BufReader<File>>,
    pending: Option<RecordBatch>,
}

impl SpillReader {
    pub(super) fn open(path: PathBuf) -> Result<Self, BuildError> {
        let reader = ipc_reader(&path)?;
        Ok(SpillReader {
            schema: reader.schema(),
            path,
            reader,
            pending: None,
        })
    }

    /// The next `n` rows' columns.
    pub(super) fn take(&mut self, n: usize) -> Result<Vec<ArrayRef>, BuildError> {
        let err = |e: &dyn std::fmt::Display| {
            BuildError::Internal(format!("{}: {e}", self.path.display()))
        };
        let mut parts = Vec::new();
        let mut got = 0;
        while got < n {
            let batch = match self.pending.take() {
                Some(b) => b,
                None => match self.reader.next() {
                    Some(b) => b.map_err(|e| err(&e))?,
                    None => return Err(err(&"fewer rows than asked for")),
                },
            };
            let need = n - got;
            if batch.num_rows() > need {
                self.pending = Some(batch.slice(need, batch.num_rows() - need));
                parts.push(batch.slice(0, need));
                got = n;
            } else {
                got += batch.num_rows();
                parts.push(batch);
            }
        }
        let batch = arrow::compute::concat_batches(&self.schema, &parts).map_err(|e| err(&e))?;
        Ok(batch.columns().to_vec())
    }
}

/// The features of a partition, in sample_id order, in one Arrow IPC spill file
/// (`sample_id` and the feature columns) read back batch by batch as the samples are
/// written.
pub(crate) struct FeatureTable {
    pub(super) rows: usize,
    pub(super) fields: Vec<FieldRef>,
    pub(super) spill: SpillReader,
    /// Seconds: reading DataFusion's inputs and sorting them, and computing the
    /// features.
    pub gather_secs: f64,
    pub compute_secs: f64,
}

impl FeatureTable {
    pub fn fields(&self) -> &[FieldRef] {
        &self.fields
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    /// `batch` (the next samples sorted by sample_id, starting at row `offset` of the
    /// partition) with the feature columns appended. The sample ids must line up.
    pub fn append(
        &mut self,
        batch: &RecordBatch,
        offset: usize,
    ) -> Result<RecordBatch, BuildError> {
        let n = batch.num_rows();
        let ids = batch
            .column_by_name("sample_id")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| BuildError::Internal("samples without sample_id".into()))?;
        let misaligned = || {
            BuildError::Internal(format!(
                "feature rows do not line up with the samples at row {offset}"
            ))
        };
        if offset + n > self.rows {
            return Err(misaligned());
        }
        let mut features = self.spill.take(n)?;
        if features[0].as_primitive::<Int64Type>().values()[..] != ids.values()[..] {
            return Err(misaligned());
        }
        let mut fields: Vec<FieldRef> = batch.schema().fields().iter().cloned().collect();
        fields.extend(self.fields.iter().cloned());
        let mut columns = batch.columns().to_vec();
        columns.extend(features.drain(1..));
        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
            .map_err(|e| BuildError::Internal(format!("feature columns: {e}")))
    }
}

/// The samples' keys (`sample_id, ts, user_id, item_id, category_id`), in sample_id
/// order, spilled to an Arrow IPC file.
pub(crate) struct Targets {
    pub(super) path: PathBuf,
    pub(super) rows: usize,
}

/// Spills the samples' keys DataFusion streams in sample_id order.
pub(crate) async fn spill_targets(
    mut stream: SendableRecordBatchStream,
    dir: &Path,
) -> Result<Targets, BuildError> {
    let mut writer = SpillWriter::create(dir.join("targets.arrow"), stream.schema())?;
    let (mut rows, mut last) = (0, i64::MIN);
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let ids = column::<Int64Type>(&batch, "samples", "sample_id")?;
        let ts = column::<Int64Type>(&batch, "samples", "ts")?;
        if ids.null_count() + ts.null_count() > 0 {
            return Err(BuildError::Internal(
                "samples without sample_id or ts".into(),
            ));
        }
        for &id in ids.values() {
            if id < last {
                return Err(BuildError::Internal(
                    "feature samples are not in sample_id order".into(),
                ));
            }
            last = id;
        }
        rows += batch.num_rows();
        writer.write(batch.columns())?;
    }
    Ok(Targets {
        path: writer.finish()?,
        rows,
    })
}
