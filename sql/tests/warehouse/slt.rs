//! Runs every `sql/slt/*.slt` file against the fixture warehouse with the `sqllogictest`
//! runner and a small adapter over `esmc_sql`.
//!
//! Besides SQL, a record may be `NAMED <query> [name=value]...`: the catalogue query,
//! bound as `esmc sql --query <query> --param name=value` would. Errors are shown as the
//! CLI shows them: the message, then the query line with a caret when the engine said
//! where. Cells: NULL for null, `(empty)` for an empty string; column types are pinned
//! (I integer, R float, T anything else).
//!
//! Regenerate the expected results after a reviewed change with
//! `ESMC_SLT_COMPLETE=1 cargo test -p esmc-sql --test warehouse slt`, and read the diff.

use crate::fixture;
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use esmc_sql::Catalogue;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::PathBuf;

/// The error an `.slt` record sees: message and caret snippet.
#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

impl From<esmc_sql::SqlError> for SltError {
    fn from(e: esmc_sql::SqlError) -> Self {
        match e.snippet() {
            Some(s) => SltError(format!("{e}\n{s}")),
            None => SltError(e.to_string()),
        }
    }
}

struct Esmc {
    rt: tokio::runtime::Runtime,
    ctx: SessionContext,
    catalogue: Catalogue,
}

impl Esmc {
    fn new() -> Self {
        let (rt, ctx) = fixture::session();
        Esmc {
            rt,
            ctx,
            catalogue: Catalogue::builtin().unwrap(),
        }
    }

    fn sql_of(&self, text: &str) -> Result<String, SltError> {
        let Some(rest) = text.trim().strip_prefix("NAMED ") else {
            return Ok(text.to_string());
        };
        let mut words = rest.split_whitespace();
        let name = words.next().unwrap_or("");
        let params = words
            .map(esmc_sql::catalogue::parse_param_arg)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.catalogue.get(name)?.bind(&params)?)
    }
}

fn column_type(t: &DataType) -> DefaultColumnType {
    if t.is_integer() {
        DefaultColumnType::Integer
    } else if t.is_floating() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

impl sqllogictest::DB for Esmc {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, text: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let sql = self.sql_of(text)?;
        let (schema, batches) = self.rt.block_on(async {
            let df = esmc_sql::plan_sql(&self.ctx, &sql).await?;
            let schema = df.schema().inner().clone();
            let batches = esmc_sql::collect(df, &sql).await?;
            Ok::<_, esmc_sql::SqlError>((schema, batches))
        })?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SltError(e.to_string()))?;
            for row in 0..batch.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .zip(batch.columns())
                        .map(|(f, c)| {
                            let cell = f.value(row).to_string();
                            if cell.is_empty() && !c.is_null(row) {
                                "(empty)".to_string()
                            } else {
                                cell
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    fn engine_name(&self) -> &str {
        "esmc"
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[test]
fn slt_files_pin_catalogue_results_and_errors() {
    fixture::warehouse();
    let complete = std::env::var_os("ESMC_SLT_COMPLETE").is_some();
    let files = slt_files();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = sqllogictest::Runner::new(|| async { Ok(Esmc::new()) });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        if complete {
            futures::executor::block_on(runner.update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::strict_column_validator,
            ))
            .unwrap();
        } else if let Err(e) = runner.run_file(file) {
            failures.push(format!("{}:\n{}", file.display(), e.display(true)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_catalogue_query_is_pinned_by_an_slt_file() {
    let text: String = slt_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for q in Catalogue::builtin().unwrap().queries() {
        assert!(
            text.contains(&format!("NAMED {}", q.name)),
            "no .slt record runs `{}`",
            q.name
        );
    }
}
