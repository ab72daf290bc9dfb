//! `esmc sql` and `esmc stats`: SQL over a warehouse, the catalogue of named queries, an
//! interactive prompt ([`prompt`]), and the daily health check ([`stats`]).
//!
//! ```text
//!  "<sql>" | --file F | --query NAME --param k=v | prompt / stdin statements ending in ;
//!      ─> esmc_sql::open(root) ─> plan (errors: message + line with a caret) ─> run
//!      ─> table | csv | json | parquet  ─> stdout or --out FILE
//! ```

mod prompt;
mod stats;

pub use stats::{StatsArgs, stats};

use anyhow::{Context, Result, bail};
use esmc_sql::output::{Format, ResultWriter};
use esmc_sql::{Catalogue, OpenOptions, SqlError};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Result formats (`--format`).
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// Aligned table with a row count.
    Table,
    /// CSV with a header line.
    Csv,
    /// JSON lines, one object per row.
    Json,
    /// Parquet (needs --out).
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "With no SQL, --file or --query: an interactive prompt (statements end \
with `;`; \\d lists tables, \\d NAME its columns, \\l the named queries, \\n NAME [k=v].. runs \
one, \\q quits), or, when stdin is not a terminal, the statements read from it."
)]
pub struct Args {
    /// Warehouse root.
    #[arg(long, required_unless_present = "list")]
    root: Option<PathBuf>,
    /// One SQL statement to run.
    #[arg(value_name = "SQL", conflicts_with_all = ["file", "query", "list"])]
    sql: Option<String>,
    /// Run the SQL statement in this file.
    #[arg(long, conflicts_with_all = ["query", "list"])]
    file: Option<PathBuf>,
    /// Run a named query of the catalogue (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "list")]
    query: Option<String>,
    /// A parameter of the named query (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", requires = "query")]
    params: Vec<String>,
    /// List the named queries with their parameters and defaults.
    #[arg(long)]
    list: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// Write results to this file instead of stdout (required for parquet).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Engine threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Memory the engine may use before spilling to disk, MiB (default: unbounded).
    #[arg(long)]
    memory_mib: Option<usize>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// An error of the sql crate, with the query line and caret when it has a position.
fn explain(e: SqlError) -> anyhow::Error {
    match e.snippet() {
        Some(snippet) => anyhow::anyhow!("{e}\n{snippet}"),
        None => anyhow::Error::new(e),
    }
}

/// Where results go.
fn sink(out: Option<&Path>, format: Format) -> Result<Box<dyn Write + Send>> {
    match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok(Box::new(std::io::BufWriter::new(file)))
        }
        None if format == Format::Parquet => bail!("--format parquet needs --out FILE"),
        None => Ok(Box::new(std::io::BufWriter::new(std::io::stdout()))),
    }
}

/// A session: the warehouse context and where results go.
struct Session {
    rt: tokio::runtime::Runtime,
    ctx: esmc_sql::SessionContext,
    catalogue: Catalogue,
    format: Format,
    out: Option<PathBuf>,
}

impl Session {
    fn open(root: &Path, threads: usize, memory_mib: Option<usize>) -> Result<Self> {
        let rt = runtime()?;
        let opts = OpenOptions {
            threads,
            memory_limit: memory_mib.map(|m| m << 20),
        };
        let ctx = rt.block_on(esmc_sql::open(root, &opts)).map_err(explain)?;
        Ok(Session {
            rt,
            ctx,
            catalogue: Catalogue::builtin()?,
            format: Format::Table,
            out: None,
        })
    }

    /// Runs one statement and writes its result.
    fn run(&self, sql: &str) -> Result<()> {
        let sink = sink(self.out.as_deref(), self.format)?;
        self.rt
            .block_on(async {
                let df = esmc_sql::plan_sql(&self.ctx, sql).await?;
                let schema = df.schema().inner().clone();
                let batches = esmc_sql::collect(df, sql).await?;
                let mut w = ResultWriter::new(self.format, sink, schema)?;
                for b in &batches {
                    w.write(b)?;
                }
                w.finish()
            })
            .map_err(explain)?;
        Ok(())
    }

    fn run_named(&self, name: &str, params: &[String]) -> Result<()> {
        let params = params
            .iter()
            .map(|p| esmc_sql::catalogue::parse_param_arg(p))
            .collect::<Result<Vec<_>, _>>()?;
        let sql = self.catalogue.get(name)?.bind(&params)?;
        self.run(&sql)
    }

    /// `\d` (every table and its columns' names) or `\d NAME` (columns, types, docs).
    fn describe(&self, table: Option<&str>) -> Result<()> {
        let tables = self
            .rt
            .block_on(esmc_sql::describe(&self.ctx, table))
            .map_err(explain)?;
        let mut out = std::io::stdout().lock();
        for t in tables {
            if table.is_some() {
                writeln!(out, "{}", t.name)?;
                for (name, ty, nullable, doc) in &t.columns {
                    let null = if *nullable { "" } else { " not null" };
                    writeln!(out, "  {name:<24} {:<28} {doc}", format!("{ty}{null}"))?;
                }
            } else {
                let names: Vec<&str> = t.columns.iter().map(|c| c.0.as_str()).collect();
                writeln!(out, "{:<20} {}", t.name, names.join(", "))?;
            }
        }
        Ok(())
    }
}

/// `esmc sql --list`: every named query, its summary and parameters.
fn list(catalogue: &Catalogue) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for q in catalogue.queries() {
        let health = if q.health { "  [stats]" } else { "" };
        writeln!(out, "{:<20} {}{health}", q.name, q.summary)?;
        for p in &q.params {
            let value = p.default.as_deref().unwrap_or("(required)");
            writeln!(
                out,
                "{:<20}   --param {}={value}  ({}) {}",
                "", p.name, p.kind, p.doc
            )?;
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    if args.list {
        return list(&Catalogue::builtin()?);
    }
    let root = args.root.as_deref().expect("clap: --root required");
    if !root.is_dir() {
        bail!("warehouse root {} is not a directory", root.display());
    }
    let mut session = Session::open(root, args.threads, args.memory_mib)?;
    session.format = args.format.into();
    session.out = args.out.clone();
    if let Some(sql) = &args.sql {
        session.run(sql)
    } else if let Some(file) = &args.file {
        let sql = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        session.run(&sql)
    } else if let Some(name) = &args.query {
        session.run_named(name, &args.params)
    } else if session.format == Format::Parquet {
        bail!("--format parquet writes one result: give SQL, --file or --query")
    } else if std::io::stdin().is_terminal() {
        prompt::interactive(&session)
    } else {
        prompt::piped(&session, std::io::stdin().lock())
    }
}
