//! Column kinds: what a column means to esmc, which Arrow types it accepts on input and
//! which canonical type esmc writes.

use arrow::datatypes::{DataType, Field, TimeUnit};
use std::collections::HashMap;

/// The time zone of every timestamp esmc writes (event time is UTC, docs/labels.md).
pub const UTC: &str = "UTC";

/// What a column holds. Input files may use any of the accepted physical types; esmc
/// writes the canonical one ([`ColumnKind::canonical_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// An identifier: integer (any width, signed or not) or string. Canonical `Int64`;
    /// a string maps through [`crate::id_from_str`] (digits: their value; otherwise a
    /// negative 64-bit hash).
    Id,
    /// Event time: any timestamp unit, UTC or no zone (read as UTC). Canonical
    /// microsecond precision, zone `UTC`.
    Timestamp,
    /// Free text or a category name: any string or string dictionary. Canonical `Utf8`.
    Text,
    /// A small integer (position, bucket, quantity): any integer type. Canonical `Int32`.
    Int32,
    /// A real number (price, amount, probability): any float or integer. Canonical
    /// `Float64`.
    Float64,
    /// A 0/1 label: `Int8` (canonical), any integer, or boolean.
    Label,
}

impl ColumnKind {
    /// The type esmc writes for this kind.
    pub fn canonical_type(self) -> DataType {
        match self {
            ColumnKind::Id => DataType::Int64,
            ColumnKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            ColumnKind::Text => DataType::Utf8,
            ColumnKind::Int32 => DataType::Int32,
            ColumnKind::Float64 => DataType::Float64,
            ColumnKind::Label => DataType::Int8,
        }
    }

    /// Whether an input column of type `found` is acceptable for this kind.
    pub fn accepts(self, found: &DataType) -> bool {
        match self {
            ColumnKind::Id => found.is_integer() || is_string(found),
            ColumnKind::Timestamp => match found {
                DataType::Timestamp(_, None) => true,
                DataType::Timestamp(_, Some(tz)) => {
                    matches!(tz.as_ref(), "UTC" | "utc" | "+00:00" | "Z" | "Etc/UTC")
                }
                _ => false,
            },
            ColumnKind::Text => is_string(found),
            ColumnKind::Int32 => found.is_integer(),
            ColumnKind::Float64 => found.is_floating() || found.is_integer(),
            ColumnKind::Label => found.is_integer() || *found == DataType::Boolean,
        }
    }

    /// Human description of the accepted types, used in error messages.
    pub fn expected(self) -> &'static str {
        match self {
            ColumnKind::Id => "an integer or string ID (Int64, Int32, UInt64, Utf8, ...)",
            ColumnKind::Timestamp => {
                "a timestamp (Timestamp(Microsecond, \"UTC\"); any unit, UTC or no zone)"
            }
            ColumnKind::Text => "a string (Utf8, LargeUtf8, Utf8View or a string dictionary)",
            ColumnKind::Int32 => "an integer (Int32)",
            ColumnKind::Float64 => "a number (Float64, Float32 or an integer)",
            ColumnKind::Label => "a 0/1 label (Int8, another integer, or Boolean)",
        }
    }
}

fn is_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, value) => is_string(value),
        _ => false,
    }
}

/// One column of a table contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name, as in the files.
    pub name: &'static str,
    /// What it holds.
    pub kind: ColumnKind,
    /// Required by the contract: a file without it is rejected, and a row with a null in
    /// it goes to quarantine. Optional columns may be absent or null.
    pub required: bool,
    /// Meaning, unit and nullability, for users (also written into field metadata).
    pub doc: &'static str,
}

impl ColumnSpec {
    /// The canonical Arrow field: canonical type, nullable unless required, the doc in
    /// the field metadata under `doc`.
    pub fn field(&self) -> Field {
        Field::new(self.name, self.kind.canonical_type(), !self.required)
            .with_metadata(HashMap::from([("doc".to_string(), self.doc.to_string())]))
    }
}
