//! The catalogue of named queries: `sql/queries/<name>.sql`, embedded in the binary.
//!
//! A query file opens with a header of `--` comment lines:
//!
//! ```sql
//! -- One line saying what the query answers (shown by `esmc sql --list`).
//! -- More lines of description, as many as needed.
//! --
//! -- @param from date = 0001-01-01  First day (dt), inclusive.
//! -- @param top int = 20  How many rows.
//! -- @param day date  The day (no default: required).
//! -- @health
//! SELECT ... WHERE dt BETWEEN ${from} AND ${to} ...
//! ```
//!
//! `@param NAME KIND [= DEFAULT] DOC` declares a parameter; KIND is `date`
//! (YYYY-MM-DD), `int`, `float` or `text`; a default is one word. `@health` puts the
//! query in the daily-health subset that `esmc stats` prints. `${NAME}` in the body is
//! replaced by the value as a SQL literal (dates and text quoted, numbers checked), so a
//! parameter can never change the statement's shape.

use crate::error::{Result, SqlError};
use chrono::NaiveDate;
use std::fmt;

/// The query files, embedded so that the binary works from any directory.
const FILES: &[(&str, &str)] = &[
    ("daily_funnel", include_str!("../queries/daily_funnel.sql")),
    (
        "psc_case_shares",
        include_str!("../queries/psc_case_shares.sql"),
    ),
    (
        "cart_purchase_delay",
        include_str!("../queries/cart_purchase_delay.sql"),
    ),
    ("label_rates", include_str!("../queries/label_rates.sql")),
    (
        "top_categories",
        include_str!("../queries/top_categories.sql"),
    ),
    (
        "session_stats",
        include_str!("../queries/session_stats.sql"),
    ),
    (
        "quarantine_summary",
        include_str!("../queries/quarantine_summary.sql"),
    ),
];

/// What a parameter's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Date,
    Int,
    Float,
    Text,
}

impl ParamKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "date" => ParamKind::Date,
            "int" => ParamKind::Int,
            "float" => ParamKind::Float,
            "text" => ParamKind::Text,
            _ => return None,
        })
    }

    fn expected(self) -> &'static str {
        match self {
            ParamKind::Date => "a date (YYYY-MM-DD)",
            ParamKind::Int => "an integer",
            ParamKind::Float => "a finite number",
            ParamKind::Text => "text",
        }
    }

    /// `value` as a SQL literal of this kind, or `None` when it is not one.
    fn literal(self, value: &str) -> Option<String> {
        match self {
            ParamKind::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .map(|d| format!("'{}'", d.format("%Y-%m-%d"))),
            ParamKind::Int => value.parse::<i64>().ok().map(|v| v.to_string()),
            ParamKind::Float => value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| format!("{v:?}")),
            ParamKind::Text => Some(format!("'{}'", value.replace('\'', "''"))),
        }
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamKind::Date => "date",
            ParamKind::Int => "int",
            ParamKind::Float => "float",
            ParamKind::Text => "text",
        })
    }
}

/// One declared parameter of a named query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// `None`: the parameter is required.
    pub default: Option<String>,
    pub doc: String,
}

/// One query of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    pub name: String,
    /// The header's first line.
    pub summary: String,
    /// The header's description lines (summary included), joined by newlines.
    pub description: String,
    pub params: Vec<Param>,
    /// Part of the daily-health subset (`esmc stats`).
    pub health: bool,
    /// The body, with `${param}` placeholders.
    pub sql: String,
}

impl NamedQuery {
    /// Parses a query file: header comment, then the body.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let bad = |msg: String| SqlError::Internal(format!("catalogue query `{name}`: {msg}"));
        let mut description = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut health = false;
        let mut body = "";
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let Some(comment) = line.trim().strip_prefix("--") else {
                body = &text[offset..];
                break;
            };
            offset += line.len();
            let comment = comment.trim();
            if let Some(decl) = comment.strip_prefix("@param") {
                params.push(parse_param(decl).map_err(bad)?);
            } else if comment == "@health" {
                health = true;
            } else if comment.starts_with('@') {
                return Err(bad(format!("unknown header tag `{comment}`")));
            } else if params.is_empty() && !comment.is_empty() {
                description.push(comment.to_string());
            }
        }
        let sql = body.trim().to_string();
        if sql.is_empty() {
            return Err(bad("no SQL after the header".into()));
        }
        let summary = description
            .first()
            .cloned()
            .ok_or_else(|| bad("no description in the header".into()))?;
        // every placeholder declared, every parameter used
        for used in placeholders(&sql) {
            if !params.iter().any(|p| p.name == used) {
                return Err(bad(format!("uses undeclared parameter `${{{used}}}`")));
            }
        }
        for p in &params {
            if !sql.contains(&format!("${{{}}}", p.name)) {
                return Err(bad(format!("declares `{}` but never uses it", p.name)));
            }
            if let Some(d) = &p.default
                && p.kind.literal(d).is_none()
            {
                return Err(bad(format!(
                    "default of `{}` is not {}",
                    p.name,
                    p.kind.expected()
                )));
            }
        }
        Ok(NamedQuery {
            name: name.to_string(),
            summary,
            description: description.join("\n"),
            params,
            health,
            sql,
        })
    }

    /// The body with every `${param}` replaced by its value (given, else the default)
    /// as a SQL literal.
    pub fn bind(&self, given: &[(String, String)]) -> Result<String> {
        for (k, _) in given {
            if !self.params.iter().any(|p| &p.name == k) {
                return Err(SqlError::UnknownParam {
                    query: self.name.clone(),
                    param: k.clone(),
                    known: self.param_names(),
                });
            }
        }
        let mut sql = self.sql.clone();
        for p in &self.params {
            let value = given
                .iter()
                .rev()
                .find(|(k, _)| k == &p.name)
                .map(|(_, v)| v.as_str())
                .or(p.default.as_deref())
                .ok_or_else(|| SqlError::MissingParam {
                    query: self.name.clone(),
                    param: p.name.clone(),
                    doc: p.doc.clone(),
                })?;
            let literal = p.kind.literal(value).ok_or_else(|| SqlError::BadParam {
                query: self.name.clone(),
                param: p.name.clone(),
                value: value.to_string(),
                expected: p.kind.expected(),
            })?;
            sql = sql.replace(&format!("${{{}}}", p.name), &literal);
        }
        Ok(sql)
    }

    fn param_names(&self) -> String {
        if self.params.is_empty() {
            return "none".into();
        }
        let names: Vec<_> = self.params.iter().map(|p| p.name.as_str()).collect();
        names.join(", ")
    }
}

/// `NAME KIND [= DEFAULT] DOC`
fn parse_param(decl: &str) -> std::result::Result<Param, String> {
    let mut words = decl.split_whitespace();
    let name = words.next().ok_or("@param without a name")?.to_string();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("parameter name `{name}` is not a word"));
    }
    let kind_word = words
        .next()
        .ok_or(format!("@param {name} without a kind"))?;
    let kind = ParamKind::parse(kind_word).ok_or(format!(
        "@param {name}: unknown kind `{kind_word}` (date, int, float, text)"
    ))?;
    let rest: Vec<&str> = words.collect();
    let (default, doc) = match rest.split_first() {
        Some((&"=", tail)) => {
            let (d, doc) = tail
                .split_first()
                .ok_or(format!("@param {name}: `=` without a default"))?;
            (Some(d.to_string()), doc.join(" "))
        }
        _ => (None, rest.join(" ")),
    };
    Ok(Param {
        name,
        kind,
        default,
        doc,
    })
}

/// The names inside `${...}` in `sql`.
fn placeholders(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find("${") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find('}') {
            out.push(rest[..end].to_string());
            rest = &rest[end + 1..];
        } else {
            break;
        }
    }
    out
}

/// `name=value` of a `--param`.
pub fn parse_param_arg(arg: &str) -> Result<(String, String)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(SqlError::ParamSyntax(arg.to_string())),
    }
}

/// The named queries, in catalogue order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    queries: Vec<NamedQuery>,
}

impl Catalogue {
    /// The queries of `sql/queries/`, embedded at build time.
    pub fn builtin() -> Result<Self> {
        let queries = FILES
            .iter()
            .map(|(name, text)| NamedQuery::parse(name, text))
            .collect::<Result<_>>()?;
        Ok(Catalogue { queries })
    }

    pub fn queries(&self) -> &[NamedQuery] {
        &self.queries
    }

    /// The query called `name`.
    pub fn get(&self, name: &str) -> Result<&NamedQuery> {
        self.queries
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| SqlError::UnknownQuery {
                name: name.to_string(),
                known: self
                    .queries
                    .iter()
                    .map(|q| q.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "-- Counts rows.\n-- Second line.\n--\n\
                     -- @param from date = 2026-01-01  First day.\n\
                     -- @param top int  How many.\n\
                     SELECT * FROM t WHERE dt >= ${from} LIMIT ${top}\n";

    #[test]
    fn header_gives_description_and_params() {
        let q = NamedQuery::parse("q", Q).unwrap();
        assert_eq!(q.summary, "Counts rows.");
        assert_eq!(q.description, "Counts rows.\nSecond line.");
        assert_eq!(q.params.len(), 2);
        assert_eq!(q.params[0].default.as_deref(), Some("2026-01-01"));
        assert_eq!(q.params[0].doc, "First day.");
        assert_eq!(q.params[1].default, None);
        assert!(!q.health);
        assert!(q.sql.starts_with("SELECT"));
    }

    #[test]
    fn bind_quotes_validates_and_names_what_is_wrong() {
        let q = NamedQuery::parse("q", Q).unwrap();
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            q.bind(&[p("top", "5")]).unwrap(),
            "SELECT * FROM t WHERE dt >= '2026-01-01' LIMIT 5"
        );
        let e = q.bind(&[]).unwrap_err().to_string();
        assert_eq!(e, "query `q` needs parameter `top` (How many.)");
        let e = q
            .bind(&[p("top", "5"), p("form", "x")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "query `q` has no parameter `form` (parameters: from, top)"
        );
        let e = q.bind(&[p("top", "5; DROP")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "parameter `top` of query `q`: `5; DROP` is not an integer"
        );
        let e = q
            .bind(&[p("top", "1"), p("from", "2026-02-30")])
            .unwrap_err();
        assert!(matches!(e, SqlError::BadParam { .. }), "{e}");
        assert_eq!(ParamKind::Text.literal("it's").unwrap(), "'it''s'");
        assert_eq!(ParamKind::Float.literal("0.2").unwrap(), "0.2");
        assert_eq!(ParamKind::Float.literal("NaN"), None);
    }

    #[test]
    fn malformed_headers_are_our_bug() {
        let undeclared = "-- X.\nSELECT ${nope}";
        assert!(matches!(
            NamedQuery::parse("q", undeclared),
            Err(SqlError::Internal(_))
        ));
        let unused = "-- X.\n-- @param a int = 1  A.\nSELECT 1";
        assert!(NamedQuery::parse("q", unused).is_err());
        let bad_default = "-- X.\n-- @param a int = x  A.\nSELECT ${a}";
        assert!(NamedQuery::parse("q", bad_default).is_err());
        assert!(NamedQuery::parse("q", "-- X.\n").is_err());
    }

    #[test]
    fn builtin_catalogue_parses() {
        let c = Catalogue::builtin().unwrap();
        assert_eq!(c.queries().len(), FILES.len());
        assert!(c.queries().iter().any(|q| q.health));
        assert!(matches!(c.get("nope"), Err(SqlError::UnknownQuery { .. })));
    }

    #[test]
    fn param_args_split_on_the_first_equals() {
        assert_eq!(
            parse_param_arg("a=b=c").unwrap(),
            ("a".to_string(), "b=c".to_string())
        );
        assert!(parse_param_arg("novalue").is_err());
    }
}
