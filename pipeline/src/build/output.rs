//! The partition's output: the writing stage (`sql/builder/samples.sql` joins the
//! labelled samples with the dimension snapshots, sorted by sample_id, the feature
//! columns zipped on) into one Parquet file in fixed-size batches, and the manifest
//! that fingerprints what built it.

use super::Builder;
use super::encode::ColumnsWriter;
use super::label::Labelled;
use crate::features::FeatureTable;
use crate::features::store::sha256_hex;
use crate::manifest::Manifest;
use crate::write::failpoint;
use crate::{BuildError, Progress};
use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::{Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Rows per record batch written, fixed so that file bytes do not depend on how the
/// engine happened to batch its output.
pub(super) const WRITE_ROWS: usize = 64 * 1024;

/// Parquet settings of sample partitions.
pub(super) fn writer_properties() -> WriterProperties {
    use parquet::basic::{Compression, ZstdLevel};
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid")))
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

impl Builder {
    /// The writing stage: the samples of `day` (`rows` of them) with their features
    /// into `part-00000.parquet` of the staged directory `dir`, reporting rows.
    pub(super) async fn write_part(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        dir: &Path,
        rows: u64,
        features: Option<&mut FeatureTable>,
        progress: &dyn Progress,
    ) -> Result<(), BuildError> {
        progress.stage(day, "writing");
        let out = ctx
            .sql(include_str!("../../../sql/builder/samples.sql"))
            .await?;
        progress.position(day, 0, rows, "rows");
        write_stream(
            out.execute_stream().await?,
            &dir.join("part-00000.parquet"),
            features,
            self.threads(),
            &|written| progress.position(day, written, rows.max(written), "rows"),
        )
        .await
    }

    /// The manifest of `day`'s partition: the inputs and their fingerprint, the config
    /// and its hash, and what came out.
    pub(super) fn manifest(
        &self,
        day: NaiveDate,
        labelled: Labelled,
        quarantined: BTreeMap<String, u64>,
        started: Instant,
    ) -> Result<Manifest, BuildError> {
        let files = self.input_files(day)?;
        let inputs_hash = sha256_hex(
            files
                .iter()
                .map(|f| format!("{} {}\n", f.path, f.sha256))
                .collect::<String>()
                .as_bytes(),
        );
        let config_json = serde_json::to_vec(&self.cfg)
            .map_err(|e| BuildError::Internal(format!("config json: {e}")))?;
        let (label_rates, psc_case_counts) = labelled.stats;
        Ok(Manifest {
            dt: day,
            maturity: if self.is_mature(day)? {
                "mature"
            } else {
                "provisional"
            }
            .into(),
            window: self.window(day),
            config: self.cfg.clone(),
            config_hash: sha256_hex(&config_json),
            inputs: files,
            inputs_hash,
            rows: labelled.rows,
            label_rates,
            psc_case_counts,
            quarantined,
            duplicates_dropped: labelled.duplicates,
            purchases_attributed: labelled.counts.purchases_to_samples,
            clicks_attributed: labelled.counts.clicks_to_samples,
            esmc_version: env!("CARGO_PKG_VERSION").into(),
            built_at: chrono::Utc::now().to_rfc3339(),
            build_secs: started.elapsed().as_secs_f64(),
        })
    }
}

/// One Parquet file being written batch by batch, the feature columns appended to each
/// batch (sample ids line up: both sides are sorted by sample_id).
struct PartWriter<'a> {
    path: PathBuf,
    writer: ColumnsWriter<std::fs::File>,
    features: Option<&'a mut FeatureTable>,
    /// Rows written so far.
    rows: u64,
}

impl PartWriter<'_> {
    fn parquet_err(&self, source: parquet::errors::ParquetError) -> BuildError {
        BuildError::BadFile {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `batch` (with its features), then calls `on_written` with the rows so far.
    fn write(
        &mut self,
        batch: RecordBatch,
        on_written: &(dyn Fn(u64) + Sync),
    ) -> Result<(), BuildError> {
        let n = batch.num_rows();
        let batch = match self.features.as_deref_mut() {
            Some(f) => f.append(&batch, self.rows as usize)?,
            None => batch,
        };
        if let Err(e) = self.writer.write(&batch) {
            return Err(self.parquet_err(e));
        }
        failpoint("mid-write");
        self.rows += n as u64;
        on_written(self.rows);
        Ok(())
    }

    /// Checks that every feature row was used and closes the file.
    fn close(self) -> Result<(), BuildError> {
        if let Some(f) = &self.features
            && self.rows as usize != f.len()
        {
            return Err(BuildError::Internal(format!(
                "{} samples written, {} feature rows",
                self.rows,
                f.len()
            )));
        }
        let path = self.path;
        self.writer
            .close()
            .map_err(|source| BuildError::BadFile { path, source })?;
        Ok(())
    }
}

/// Writes a stream into one Parquet file in fixed-size batches ([`WRITE_ROWS`]),
/// calling `on_written` with the rows written so far after each. With `features`, their
/// columns are appended to the rows as they go.
async fn write_stream(
    mut stream: SendableRecordBatchStream,
    path: &Path,
    features: Option<&mut FeatureTable>,
    threads: usize,
    on_written: &(dyn Fn(u64) + Sync),
) -> Result<(), BuildError> {
    let schema: SchemaRef = stream.schema();
    let out_schema: SchemaRef = match &features {
        Some(f) => {
            let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
            fields.extend(f.fields().iter().cloned());
            Arc::new(Schema::new(fields))
        }
        None => schema.clone(),
    };
    let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
    let writer = ColumnsWriter::try_new(file, out_schema, writer_properties(), threads).map_err(
        |source| BuildError::BadFile {
            path: path.to_path_buf(),
            source,
        },
    )?;
    let mut out = PartWriter {
        path: path.to_path_buf(),
        writer,
        features,
        rows: 0,
    };
    let concat = |buffer: &[RecordBatch]| {
        concat_batches(&schema, buffer).map_err(|e| BuildError::Internal(format!("concat: {e}")))
    };
    let mut buffer: Vec<RecordBatch> = Vec::new();
    let mut buffered = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        buffered += batch.num_rows();
        buffer.push(batch);
        while buffered >= WRITE_ROWS {
            let all = concat(&buffer)?;
            out.write(all.slice(0, WRITE_ROWS), on_written)?;
            let rest = all.slice(WRITE_ROWS, all.num_rows() - WRITE_ROWS);
            buffered = rest.num_rows();
            buffer = vec![rest];
        }
    }
    if buffered > 0 {
        out.write(concat(&buffer)?, on_written)?;
    }
    out.close()
}
