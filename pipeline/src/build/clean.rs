//! The cleaning stage: per event table over the window, every row with the first rule
//! it breaks (`sql/builder/clean.sql`); the day's rejects go to quarantine, the good
//! rows go to `good_<table>` for the event union, whose reader drops exact duplicates
//! (`event_rows.rs`; purchases are deduplicated here). A table whose reject share is
//! over the limit fails the build.

use super::Builder;
use super::event_rows::DISTINCT_BEFORE;
use super::output::writer_properties;
use crate::write::StagedDir;
use crate::{BuildError, Progress};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use esmc_schemas::Table;
use esmc_schemas::time::{DAY_US, day_start_us};
use parquet::arrow::ArrowWriter;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What cleaning one table over the window found.
struct Cleaned {
    /// Rows of the day's own partition rejected (quarantined).
    rejected: u64,
    /// Good rows over the window, duplicates included (the distinct ones are counted by
    /// the attribution pass that drops the others: the difference is the duplicates).
    good: u64,
}

/// What the cleaning stage found over every event table.
pub(super) struct CleanedTables {
    /// Rows of the day's partitions sent to quarantine, per table.
    pub(super) quarantined: BTreeMap<String, u64>,
    /// Good rows over the window per table, in `Table::EVENTS` order, duplicates
    /// included.
    pub(super) good: Vec<u64>,
}

impl Builder {
    /// The cleaning stage: [`Builder::clean`] for every event table, reporting tables.
    pub(super) async fn clean_all(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        present: &BTreeSet<Table>,
        progress: &dyn Progress,
    ) -> Result<CleanedTables, BuildError> {
        progress.stage(day, "cleaning");
        let (first, last) = self.window(day);
        let mut quarantined = BTreeMap::new();
        let mut good = Vec::new();
        let tables = Table::EVENTS.len() as u64;
        progress.position(day, 0, tables, "tables");
        for (i, table) in Table::EVENTS.into_iter().enumerate() {
            let cleaned = self
                .clean(ctx, table, day, first, last, present.contains(&table))
                .await?;
            quarantined.insert(table.name().to_string(), cleaned.rejected);
            good.push(cleaned.good);
            progress.position(day, i as u64 + 1, tables, "tables");
        }
        Ok(CleanedTables { quarantined, good })
    }

    /// Cleans one table over the window: rejected rows of the day's own partition go to
    /// quarantine, good rows into `good_<table>`, duplicates and all (but purchases').
    async fn clean(
        &self,
        ctx: &SessionContext,
        table: Table,
        day: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
        present: bool,
    ) -> Result<Cleaned, BuildError> {
        let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        let clean = ctx.sql(&self.clean_sql(table, first, last)).await?;
        ctx.register_table(format!("clean_{}", table.name()), clean.into_view())?;
        // not deduplicated here: the attribution pass drops exact duplicates from the
        // sorted event union, where they arrive side by side, and counts the distinct
        // rows (the hash DISTINCT of the exposures took half the stage's time); but the
        // union does not carry all of a purchase's columns
        let cols = columns.join(", ");
        let distinct = if table == Table::EVENTS[DISTINCT_BEFORE as usize] {
            "DISTINCT "
        } else {
            ""
        };
        let good_view = ctx
            .sql(&format!(
                "SELECT {distinct}{cols} FROM clean_{} WHERE reject_reason IS NULL",
                table.name()
            ))
            .await?;
        ctx.register_table(format!("good_{}", table.name()), good_view.into_view())?;
        if !present {
            // no file: nothing to count or quarantine (and a cluster's plans cannot
            // carry a count over an empty relation's columns)
            self.quarantine(ctx, table, day, 0).await?;
            return Ok(Cleaned {
                rejected: 0,
                good: 0,
            });
        }

        // one pass for every count: the day's rows, its rejects, the good rows of the window
        let dt = day.to_string();
        let counts = ctx
            .sql(&format!(
                "SELECT count(*) FILTER (WHERE dt = '{dt}'), \
                 count(*) FILTER (WHERE dt = '{dt}' AND reject_reason IS NOT NULL), \
                 count(*) FILTER (WHERE reject_reason IS NULL) FROM clean_{}",
                table.name()
            ))
            .await?
            .collect()
            .await?;
        let value = |c: usize| -> Result<u64, BuildError> {
            counts
                .first()
                .and_then(|b| b.column(c).as_primitive_opt::<Int64Type>())
                .map(|a| a.value(0) as u64)
                .ok_or_else(|| BuildError::Internal("count query returned no row".into()))
        };
        let (day_rows, rejected, good) = (value(0)?, value(1)?, value(2)?);
        self.quarantine(ctx, table, day, rejected).await?;
        if day_rows > 0 && rejected as f64 > self.cfg.max_reject_rate * day_rows as f64 {
            return Err(BuildError::TooManyRejects {
                table: table.name(),
                day,
                rejected,
                rows: day_rows,
                max_rate: self.cfg.max_reject_rate,
                quarantine: self.warehouse.quarantine_dir(table, day),
            });
        }
        Ok(Cleaned { rejected, good })
    }

    /// Writes the day's `rejected` rows of `clean_<table>` as its quarantine partition
    /// (staged, swapped in), or removes a stale one when there are none.
    async fn quarantine(
        &self,
        ctx: &SessionContext,
        table: Table,
        day: NaiveDate,
        rejected: u64,
    ) -> Result<(), BuildError> {
        let quarantine = self.warehouse.quarantine_dir(table, day);
        if rejected > 0 {
            let rejects = ctx
                .sql(&format!(
                    "SELECT * FROM clean_{0} WHERE reject_reason IS NOT NULL AND dt = '{day}'",
                    table.name()
                ))
                .await?
                .collect()
                .await?;
            let staged = StagedDir::new(&quarantine)?;
            write_batches(&rejects, &staged.tmp.join("part-00000.parquet"))?;
            staged.commit()?;
        } else if quarantine.exists() {
            std::fs::remove_dir_all(&quarantine).map_err(|e| BuildError::io(&quarantine, e))?;
        }
        Ok(())
    }

    /// `clean.sql` for `table` over the partitions [first, last]: every row with the
    /// rule it breaks, if any.
    pub(super) fn clean_sql(&self, table: Table, first: NaiveDate, last: NaiveDate) -> String {
        let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        include_str!("../../../sql/builder/clean.sql")
            .replace("{table}", table.name())
            .replace("{columns}", &columns.join(", "))
            .replace("{first_dt}", &first.to_string())
            .replace("{last_dt}", &last.to_string())
            .replace("{reject_reason}", &self.reject_reason(table, first, last))
    }

    /// The SQL CASE naming the first rule a row of `table` breaks (NULL when none).
    fn reject_reason(&self, table: Table, first: NaiveDate, last: NaiveDate) -> String {
        let mut rules: Vec<String> = table
            .spec()
            .required()
            .map(|c| format!("WHEN {0} IS NULL THEN 'null {0}'", c.name))
            .collect();
        // a CSV/NDJSON value that did not parse (its column is null now): named first
        rules.insert(0, "WHEN parse_error IS NOT NULL THEN parse_error".into());
        // event time within [partition day - late tolerance, partition day end)
        let mut lo = String::from("CASE dt");
        let mut hi = String::from("CASE dt");
        let mut d = first;
        while d <= last {
            let start = day_start_us(d);
            let tol = self.cfg.late_tolerance_days as i64 * DAY_US;
            lo.push_str(&format!(" WHEN '{d}' THEN {}", start - tol));
            hi.push_str(&format!(" WHEN '{d}' THEN {}", start + DAY_US));
            d = d.succ_opt().expect("valid day");
        }
        lo.push_str(" END");
        hi.push_str(" END");
        let micros = "arrow_cast(ts, 'Int64')";
        rules.push(format!(
            "WHEN {micros} < {lo} THEN 'event time before its partition beyond the late tolerance'"
        ));
        rules.push(format!(
            "WHEN {micros} >= {hi} THEN 'event time after its partition'"
        ));
        if table == Table::Purchase {
            rules.push("WHEN amount < 0 THEN 'negative amount'".into());
        }
        format!("CASE {} END", rules.join(" "))
    }
}

/// Writes batches (possibly empty) into one Parquet file.
fn write_batches(batches: &[RecordBatch], path: &Path) -> Result<(), BuildError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
    let parquet_err = |source| BuildError::BadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, first.schema(), Some(writer_properties()))
        .map_err(parquet_err)?;
    for b in batches {
        writer.write(b).map_err(parquet_err)?;
    }
    writer.close().map_err(parquet_err)?;
    Ok(())
}
