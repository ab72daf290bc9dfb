//! Where in the query text an engine error points, and the query line with a caret.
//!
//! DataFusion attaches a [`Diagnostic`](datafusion::common::Diagnostic) with a span to
//! planning errors (unknown table, unknown column, unknown function) when spans are
//! collected ([`crate::open`] turns that on), and its SQL parser ends messages with
//! `at Line: L, Column: C`. Either gives a [`Position`]; a statement that ends too early
//! points just past its end.

use datafusion::error::DataFusionError;

/// A 1-based line and column (in characters) of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The offending line, prefixed `LINE n: `, and a caret under the column:
    ///
    /// ```text
    /// LINE 1: SELECT * FROM nope
    ///                       ^
    /// ```
    pub fn render(&self, sql: &str) -> String {
        let text = sql.lines().nth(self.line.saturating_sub(1)).unwrap_or("");
        let prefix = format!("LINE {}: ", self.line);
        let pad: String = text
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{prefix}{text}\n{}{pad}^", " ".repeat(prefix.len()))
    }
}

/// The position `err` points at in `sql`, if the engine said and it lies within `sql`.
pub fn locate(err: &DataFusionError, sql: &str) -> Option<Position> {
    let from_span = err.diagnostic().and_then(|d| d.span).map(|s| Position {
        line: s.start.line as usize,
        column: s.start.column as usize,
    });
    let message = err.to_string();
    let pos = from_span
        .filter(|p| p.line > 0)
        .or_else(|| parse_line_column(&message))
        .or_else(|| message.contains("found: EOF").then(|| end_of(sql)))?;
    let line = sql.lines().nth(pos.line.checked_sub(1)?)?;
    (pos.column >= 1 && pos.column <= line.chars().count() + 1).then_some(pos)
}

/// Just after the last non-blank character: where a statement that ended too early
/// needed more (the parser reports no position for end of input).
fn end_of(sql: &str) -> Position {
    let trimmed = sql.trim_end();
    let line = trimmed.lines().count().max(1);
    let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) + 1;
    Position { line, column }
}

/// The last `Line: L, Column: C` of a parser message.
fn parse_line_column(message: &str) -> Option<Position> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_messages_give_line_and_column() {
        let p = parse_line_column(
            "sql parser error: Expected: end of statement, found: x at Line: 2, Column: 7",
        );
        assert_eq!(p, Some(Position { line: 2, column: 7 }));
        assert_eq!(parse_line_column("no position here"), None);
    }

    #[test]
    fn caret_sits_under_the_column() {
        let sql = "SELECT 1\nFROM nope WHERE";
        let r = Position { line: 2, column: 6 }.render(sql);
        assert_eq!(r, "LINE 2: FROM nope WHERE\n             ^");
    }
}
