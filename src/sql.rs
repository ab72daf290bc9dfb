//! `esmc sql` and `esmc stats`: SQL over a warehouse, the catalogue of named queries, an
//! interactive prompt, and the daily health check.
//!
//! ```text
//!  "<sql>" | --file F | --query NAME --param k=v | prompt / stdin statements ending in ;
//!      ─> esmc_sql::open(root) ─> plan (errors: message + line with a caret) ─> run
//!      ─> table | csv | json | parquet  ─> stdout or --out FILE
//! ```

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use esmc_sql::output::{Format, ResultWriter};
use esmc_sql::{Catalogue, OpenOptions, SqlError, stats};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

#[derive(clap::Args)]
pub struct StatsArgs {
    /// Warehouse root.
    #[arg(long)]
    root: PathBuf,
    /// The day to check (YYYY-MM-DD); its samples must be built.
    #[arg(long)]
    dt: NaiveDate,
    /// Flag a label rate that moved more than this (relative) from the trailing-week mean.
    #[arg(long, default_value_t = 0.2, value_parser = parse_threshold)]
    threshold: f64,
    /// Engine threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn parse_threshold(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number >= 0")),
    }
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
        interactive(&session)
    } else {
        piped(&session, std::io::stdin().lock())
    }
}

/// What a backslash command or statement asks of the prompt.
enum Next {
    Continue,
    Quit,
}

const HELP: &str =
    "\\d [TABLE]  tables and columns    \\l  named queries    \\n NAME [k=v]..  run one
\\q  quit    \\?  this help    SQL statements end with `;`";

/// Runs one `;`-terminated statement or backslash command.
fn dispatch(s: &Session, input: &str) -> Result<Next> {
    let input = input.trim();
    let Some(cmd) = input.strip_prefix('\\') else {
        s.run(input)?;
        return Ok(Next::Continue);
    };
    let mut words = cmd.split_whitespace();
    match words.next().unwrap_or("") {
        "q" | "quit" => return Ok(Next::Quit),
        "d" => s.describe(words.next())?,
        "l" => list(&s.catalogue)?,
        "n" => {
            let name = words
                .next()
                .context("\\n needs a query name (\\l lists them)")?;
            let params: Vec<String> = words.map(String::from).collect();
            s.run_named(name, &params)?;
        }
        "?" | "h" | "help" => println!("{HELP}"),
        other => bail!("unknown command `\\{other}` (\\? for help)"),
    }
    Ok(Next::Continue)
}

/// Statements from a pipe or file: run each in turn, stop at the first error.
fn piped(s: &Session, input: impl BufRead) -> Result<()> {
    for stmt in read_statements(input) {
        if let Next::Quit = dispatch(s, &stmt?)? {
            break;
        }
    }
    Ok(())
}

/// The prompt: history in `$ESMC_CACHE/sql_history` (default `~/.cache/esmc/`), multi-line
/// statements ended by `;`, errors printed and the prompt kept.
fn interactive(s: &Session) -> Result<()> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("esmc sql: statements end with `;`, \\? for help, \\q to quit");
    let mut buf = String::new();
    loop {
        let prompt = if buf.is_empty() { "esmc> " } else { "   -> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let t = line.trim();
                if buf.is_empty() && t.is_empty() {
                    continue;
                }
                let complete = (buf.is_empty() && t.starts_with('\\')) || t.ends_with(';');
                buf.push_str(&line);
                buf.push('\n');
                if !complete {
                    continue;
                }
                let stmt = std::mem::take(&mut buf);
                let _ = editor.add_history_entry(stmt.trim_end());
                match dispatch(s, &stmt) {
                    Ok(Next::Quit) => break,
                    Ok(Next::Continue) => {}
                    Err(e) => eprintln!("error: {e:#}"),
                }
            }
            Err(ReadlineError::Interrupted) => buf.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(h);
    }
    Ok(())
}

fn history_path() -> Option<PathBuf> {
    let cache = std::env::var_os("ESMC_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/esmc")))?;
    Some(cache.join("sql_history"))
}

/// `esmc stats`: exit 0 when healthy, 3 when a label rate is flagged, 1 on error.
pub fn stats(args: StatsArgs) -> ExitCode {
    match stats_inner(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the health report; `Ok(false)` when something is flagged.
fn stats_inner(args: &StatsArgs) -> Result<bool> {
    let session = Session::open(&args.root, args.threads, None)?;
    let health = session
        .rt
        .block_on(stats::daily_health(
            &session.ctx,
            &session.catalogue,
            args.dt,
            args.threshold,
        ))
        .map_err(explain)?;
    let mut out = std::io::stdout().lock();
    let trailing = match (health.trailing_days.first(), health.trailing_days.last()) {
        (Some(a), Some(b)) => format!("{a}..{b} ({} days)", health.trailing_days.len()),
        _ => "none".into(),
    };
    writeln!(
        out,
        "daily health of {}: {} samples; trailing days with samples: {trailing}",
        health.dt, health.samples
    )?;
    writeln!(
        out,
        "{:<16} {:>9} {:>14} {:>9}",
        "label", "rate", "trailing mean", "change"
    )?;
    for c in &health.checks {
        let mean = c.trailing_mean.map_or("-".into(), |m| format!("{m:.5}"));
        let change = c
            .change
            .map_or("-".into(), |v| format!("{:+.1}%", 100.0 * v));
        let flag = if c.flagged { "  FLAGGED" } else { "" };
        writeln!(
            out,
            "{:<16} {:>9.5} {:>14} {:>9}{flag}",
            c.label, c.rate, mean, change
        )?;
    }
    let flagged: Vec<String> = health
        .flagged()
        .map(|c| {
            let change = c.change.unwrap_or(0.0);
            format!("{} ({:+.1}%)", c.label, 100.0 * change)
        })
        .collect();
    if flagged.is_empty() {
        writeln!(
            out,
            "no label rate moved more than {:.0}% from the trailing mean",
            100.0 * args.threshold
        )?;
    } else {
        writeln!(
            out,
            "FLAGGED: {} moved more than {:.0}% from the trailing mean",
            flagged.join(", "),
            100.0 * args.threshold
        )?;
    }
    let first = args.dt - chrono::Days::new(stats::TRAILING_DAYS);
    for (name, batches) in &health.sections {
        writeln!(out, "\n== {name} ({first} .. {}) ==", args.dt)?;
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            writeln!(out, "(no rows)")?;
            continue;
        };
        let bytes = esmc_sql::output::to_bytes(Format::Table, schema, batches)?;
        out.write_all(&bytes)?;
    }
    Ok(flagged.is_empty())
}

/// `;`-terminated statements and one-line backslash commands of `input`; a last
/// statement without `;` counts too.
fn read_statements(input: impl BufRead) -> impl Iterator<Item = std::io::Result<String>> {
    let mut lines = input.lines();
    let mut buf = String::new();
    std::iter::from_fn(move || {
        loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let t = line.trim();
                    if buf.is_empty() && t.starts_with('\\') {
                        return Some(Ok(t.to_string()));
                    }
                    if buf.is_empty() && (t.is_empty() || t.starts_with("--")) {
                        continue;
                    }
                    buf.push_str(&line);
                    buf.push('\n');
                    if t.ends_with(';') {
                        return Some(Ok(std::mem::take(&mut buf)));
                    }
                }
                Some(Err(e)) => return Some(Err(e)),
                None if buf.trim().is_empty() => return None,
                None => return Some(Ok(std::mem::take(&mut buf))),
            }
        }
    })
}
