//! Which extension is read how.

use crate::LogError;
use std::path::Path;

/// How a raw log file is read, decided by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.parquet`: typed columns, checked against the contract from the footer.
    Parquet,
    /// `.csv`: comma-separated with a header row naming the columns.
    Csv,
    /// `.ndjson` or `.jsonl`: one JSON object per line, keys naming the columns.
    NdJson,
}

impl Format {
    /// The format of `path`, or an error naming the file when its extension is unknown
    /// (an unknown file is never skipped silently): [`LogError::UnknownFormat`].
    /// Extensions compare case-insensitively.
    pub fn of(path: &Path) -> Result<Format, LogError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("ndjson" | "jsonl") => Ok(Format::NdJson),
            _ => Err(LogError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(
            Format::of(Path::new("a/part-0.parquet")).unwrap(),
            Format::Parquet
        );
        assert_eq!(Format::of(Path::new("a/part-0.CSV")).unwrap(), Format::Csv);
        assert_eq!(
            Format::of(Path::new("a/part-0.jsonl")).unwrap(),
            Format::NdJson
        );
        assert_eq!(
            Format::of(Path::new("a/part-0.ndjson")).unwrap(),
            Format::NdJson
        );
        let err = Format::of(Path::new("a/part-0.csv.gz"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("a/part-0.csv.gz: unsupported log file format"),
            "{err}"
        );
    }
}
