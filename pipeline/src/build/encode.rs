//! A Parquet file written with its columns encoded in parallel.
//!
//! `ArrowWriter` encodes the columns of a batch one after another on the calling thread:
//! the writing stage of a build was single-threaded, and with ~90 columns (the feature
//! columns, the click sequences' lists) Parquet's dictionary interning and RLE encoding
//! took most of it (`perf`: `Interner::intern` alone ~30% of the stage). This writer
//! keeps `ArrowWriter`'s file layout (it starts from one, so the schema metadata and the
//! properties are the same) and hands each batch's leaf columns to a thread team: the
//! same column writers, fed the same values in the same order, so the file's bytes are
//! those `ArrowWriter` writes.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;
use std::io::Write;

type Result<T> = std::result::Result<T, ParquetError>;

/// A Parquet file whose row groups' columns are encoded by a thread team.
pub(super) struct ColumnsWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The column writers of the row group being filled, one per leaf column.
    columns: Vec<ArrowColumnWriter>,
    /// Index of that row group.
    row_group: usize,
    /// Rows written to it.
    buffered: usize,
    /// Rows per row group (the properties' limit).
    max_rows: usize,
    team: rayon::ThreadPool,
}

impl<W: Write + Send> ColumnsWriter<W> {
    /// A writer of `schema` into `out` with `props`, encoding on `threads` threads.
    pub(super) fn try_new(
        out: W,
        schema: SchemaRef,
        props: WriterProperties,
        threads: usize,
    ) -> Result<Self> {
        let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let (file, factory) =
            ArrowWriter::try_new(out, schema.clone(), Some(props))?.into_serialized_writer()?;
        let columns = factory.create_column_writers(0)?;
        let team = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("esmc-encode-{i}"))
            .build()
            .map_err(|e| ParquetError::General(format!("encoding threads: {e}")))?;
        Ok(ColumnsWriter {
            file,
            factory,
            schema,
            columns,
            row_group: 0,
            buffered: 0,
            max_rows,
            team,
        })
    }

    /// Encodes `batch`, closing row groups at the properties' row limit as
    /// `ArrowWriter` does (not at a byte limit: the partitions' properties set none).
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let room = self.max_rows - self.buffered;
        if batch.num_rows() > room {
            self.write(&batch.slice(0, room))?;
            return self.write(&batch.slice(room, batch.num_rows() - room));
        }
        let mut leaves: Vec<ArrowLeafColumn> = Vec::with_capacity(self.columns.len());
        for (array, field) in batch.columns().iter().zip(self.schema.fields()) {
            leaves.extend(compute_leaves(field, array)?);
        }
        let columns = &mut self.columns;
        self.team.install(|| {
            columns
                .par_iter_mut()
                .zip(leaves.par_iter())
                .try_for_each(|(column, leaf)| column.write(leaf))
        })?;
        self.buffered += batch.num_rows();
        if self.buffered >= self.max_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Closes the row group being filled (when it has rows) and appends it to the file.
    fn flush(&mut self) -> Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let next = self.factory.create_column_writers(self.row_group + 1)?;
        let columns = std::mem::replace(&mut self.columns, next);
        let chunks = self.team.install(|| {
            columns
                .into_par_iter()
                .map(|c| c.close())
                .collect::<Result<Vec<_>>>()
        })?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.row_group += 1;
        self.buffered = 0;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub(super) fn close(mut self) -> Result<()> {
        self.flush()?;
        self.file.close()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Float32Array, Int64Array, ListBuilder, StringArray};
    use arrow::array::{Int64Builder, RecordBatch};
    use std::sync::Arc;

    /// Batches of ids, floats with repeats, strings with nulls and lists.
    fn batches() -> Vec<RecordBatch> {
        (0..7)
            .map(|b| {
                let n = 1000 + 37 * b;
                let ids: ArrayRef =
                    Arc::new(Int64Array::from_iter_values((0..n).map(|i| i * 7 + b)));
                let floats: ArrayRef = Arc::new(Float32Array::from_iter_values(
                    (0..n).map(|i| (i % 13) as f32 / 3.0),
                ));
                let strings: ArrayRef = Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then(|| format!("s{}", i % 17))),
                ));
                let mut lists = ListBuilder::new(Int64Builder::new());
                for i in 0..n {
                    for j in 0..(i % 4) {
                        lists.values().append_value(i * j);
                    }
                    lists.append(i % 9 != 0);
                }
                let lists: ArrayRef = Arc::new(lists.finish());
                RecordBatch::try_from_iter([
                    ("id", ids),
                    ("f", floats),
                    ("s", strings),
                    ("l", lists),
                ])
                .expect("batch")
            })
            .collect()
    }

    fn props() -> WriterProperties {
        // small row groups, so that batches cross their limit
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(2500))
            .build()
    }

    #[test]
    fn writes_the_bytes_arrow_writer_writes() {
        let batches = batches();
        let schema = batches[0].schema();
        let mut expected = Vec::new();
        let mut w = ArrowWriter::try_new(&mut expected, schema.clone(), Some(props())).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        for threads in [1, 3] {
            let mut got = Vec::new();
            let mut w = ColumnsWriter::try_new(&mut got, schema.clone(), props(), threads).unwrap();
            for b in &batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
            assert!(got == expected, "{threads} threads: the bytes differ");
        }
    }

    #[test]
    fn an_empty_file_is_the_one_arrow_writer_writes() {
        let batches = batches();
        let schema = batches[0].schema();
        let empty = batches[0].slice(0, 0);
        let mut expected = Vec::new();
        let mut w = ArrowWriter::try_new(&mut expected, schema.clone(), Some(props())).unwrap();
        w.write(&empty).unwrap();
        w.close().unwrap();
        let mut got = Vec::new();
        let mut w = ColumnsWriter::try_new(&mut got, schema, props(), 2).unwrap();
        w.write(&empty).unwrap();
        w.close().unwrap();
        assert!(got == expected, "the bytes of a file without rows differ");
    }
}
