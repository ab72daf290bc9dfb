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

/// The features of a partition, in sample_id order, read back batch by batch as the
/// samples are written: one Arrow IPC spill file of `sample_id`, the scalar feature
/// columns and each row's range of its chunk's click arena (`seq_from`, `seq_to`), and
/// one of the chunks' arenas in chunk order, from which the sequences' list columns are
/// made as the rows go out (`sequences.rs`).
pub(crate) struct FeatureTable {
    pub(super) rows: usize,
    pub(super) fields: Vec<FieldRef>,
    pub(super) spill: SpillReader,
    pub(super) arena: SpillReader,
    /// Per chunk, in order: its first row after it and its arena's length.
    pub(super) chunks: std::collections::VecDeque<(usize, usize)>,
    /// The arena of the chunk the next rows are in (items, categories), and the first
    /// row after that chunk.
    pub(super) current: Option<(usize, [ArrayRef; 2])>,
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

    /// The chunk arena holding row `row` (rows are asked for in order), and the first
    /// row after its chunk.
    fn arena_of(&mut self, row: usize) -> Result<(usize, [ArrayRef; 2]), BuildError> {
        while self.current.as_ref().is_none_or(|c| c.0 <= row) {
            let (end, len) = self.chunks.pop_front().ok_or_else(|| {
                BuildError::Internal(format!("feature row {row} is past the last chunk"))
            })?;
            let cols = self.arena.take(len)?;
            self.current = Some((end, [cols[0].clone(), cols[1].clone()]));
        }
        Ok(self.current.clone().expect("loaded"))
    }

    /// The sequences' list columns of the rows `offset..` whose arena ranges are
    /// `from`, `to`, chunk by chunk.
    fn sequence_lists(
        &mut self,
        offset: usize,
        from: &ArrayRef,
        to: &ArrayRef,
    ) -> Result<[ArrayRef; 2], BuildError> {
        let k = self.fields.len();
        let fields = [self.fields[k - 2].clone(), self.fields[k - 1].clone()];
        let mut parts: Vec<[ArrayRef; 2]> = Vec::new();
        let mut done = 0;
        while done < from.len() {
            let (end, arena) = self.arena_of(offset + done)?;
            let len = (end - offset - done).min(from.len() - done);
            parts.push(super::sequences::lists(
                arena[0].as_primitive(),
                arena[1].as_primitive(),
                from.slice(done, len).as_primitive(),
                to.slice(done, len).as_primitive(),
                [&fields[0], &fields[1]],
            )?);
            done += len;
        }
        if parts.len() == 1 {
            return Ok(parts.pop().expect("one"));
        }
        let concat = |j: usize| {
            let arrays: Vec<&dyn Array> = parts.iter().map(|p| p[j].as_ref()).collect();
            arrow::compute::concat(&arrays)
                .map_err(|e| BuildError::Internal(format!("{}: {e}", fields[j].name())))
        };
        Ok([concat(0)?, concat(1)?])
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
        let to = features.pop().expect("seq_to");
        let from = features.pop().expect("seq_from");
        let lists = self.sequence_lists(offset, &from, &to)?;
        let mut fields: Vec<FieldRef> = batch.schema().fields().iter().cloned().collect();
        fields.extend(self.fields.iter().cloned());
        let mut columns = batch.columns().to_vec();
        columns.extend(features.drain(1..));
        columns.extend(lists);
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
