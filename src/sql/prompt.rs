//! `esmc sql`'s prompt and piped input: `;`-terminated statements and backslash commands
//! (`\d`, `\l`, `\n`, `\q`), with history for the interactive prompt.

use super::{Session, list};
use anyhow::{Context, Result, bail};
use std::io::BufRead;
use std::path::PathBuf;

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
pub(super) fn piped(s: &Session, input: impl BufRead) -> Result<()> {
    for stmt in read_statements(input) {
        if let Next::Quit = dispatch(s, &stmt?)? {
            break;
        }
    }
    Ok(())
}

/// The prompt: history in `$ESMC_CACHE/sql_history` (default `~/.cache/esmc/`), multi-line
/// statements ended by `;`, errors printed and the prompt kept.
pub(super) fn interactive(s: &Session) -> Result<()> {
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
                    Err(e) => eprintln!("error: {}", crate::error::Causes(&e)),
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
