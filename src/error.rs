//! How the binary prints an error: its message, then each cause once, outermost first,
//! joined by `: ` (`error: reading F: EOF: file too small`).
//!
//! Our library errors keep a cause out of their own message and return it as their
//! `source()`; some errors of other crates do both (DataFusion's and Parquet's wrappers
//! show the error they wrap and return it too). A cause whose text the last printed
//! message already contains is therefore skipped, so that no cause prints twice.

use std::fmt;

/// An error with its causes, for printing: `eprintln!("error: {}", Causes(&e))`.
pub struct Causes<'a>(pub &'a anyhow::Error);

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last: Option<String> = None;
        for cause in self.0.chain() {
            let text = cause.to_string();
            match &last {
                Some(shown) if shown.contains(&text) => continue,
                Some(_) => f.write_str(": ")?,
                None => {}
            }
            f.write_str(&text)?;
            last = Some(text);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    /// An error whose message is `text` and whose cause is `source`.
    #[derive(Debug)]
    struct Layer {
        text: String,
        source: Option<Box<Layer>>,
    }

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.text)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source.as_deref().map(|s| s as _)
        }
    }

    fn layer(text: &str, source: Option<Layer>) -> Layer {
        Layer {
            text: text.into(),
            source: source.map(Box::new),
        }
    }

    #[test]
    fn each_cause_prints_once_outermost_first() {
        let inner = layer("EOF: file too small", None);
        // a wrapper that shows its source and returns it too, under our context
        let wrapper = layer("Parquet error: EOF: file too small", Some(inner));
        let e = Err::<(), _>(wrapper)
            .context("reading samples/part-0.parquet")
            .context("training day 2026-01-02")
            .unwrap_err();
        assert_eq!(
            Causes(&e).to_string(),
            "training day 2026-01-02: reading samples/part-0.parquet: \
             Parquet error: EOF: file too small"
        );
        // without the wrapper's duplicate, the same chain as anyhow's `{:#}`
        let plain = anyhow::Error::new(layer("no such file", None)).context("opening f");
        assert_eq!(Causes(&plain).to_string(), format!("{plain:#}"));
    }
}
