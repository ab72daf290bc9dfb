//! Every name esmc restates across crates, defined once: the sample table's labels, the
//! psc cases and the label-like columns beside them, and the SQL tables `esmc sql`
//! registers beside the raw logs. Use the symbols, never the string literals:
//!
//! ```text
//!  Label::ALL            click dmi cart wish dma purchase cart_cal cart_global_cal
//!  Label::Purchase.as_str()            == "purchase"      (a sample table column)
//!  "cart_cal".parse::<Label>()         == Ok(Label::CartCal)
//!  PscCase::ALL          no_purchase no_cart same_visit later_visit other_visit
//!  PscCase::OtherVisit.as_str()        == "other_visit"   (a value of `psc_case`)
//!  PscCase::LaterVisit.is_bad()        == true            (its `bad_case` is 1)
//!  PSC_CASE, BAD_CASE                  the two columns that describe the case
//!  SqlTable::Samples.as_str()          == "samples"       (Table::name() for raw logs)
//! ```
//!
//! The sample table's columns themselves are in [`crate::SAMPLES`], whose label columns
//! are named from [`Label`] and these constants.

use std::fmt;
use std::str::FromStr;

/// The 0/1 labels of a sample, in the sample table's order (each one a column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    Click,
    Dmi,
    Cart,
    Wish,
    Dma,
    Purchase,
    CartCal,
    CartGlobalCal,
}

impl Label {
    /// Every label, in the sample table's order.
    pub const ALL: [Label; 8] = [
        Label::Click,
        Label::Dmi,
        Label::Cart,
        Label::Wish,
        Label::Dma,
        Label::Purchase,
        Label::CartCal,
        Label::CartGlobalCal,
    ];

    /// The label's column name in the sample table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::Click => "click",
            Label::Dmi => "dmi",
            Label::Cart => "cart",
            Label::Wish => "wish",
            Label::Dma => "dma",
            Label::Purchase => "purchase",
            Label::CartCal => "cart_cal",
            Label::CartGlobalCal => "cart_global_cal",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Label::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Label::ALL.iter().map(|l| l.as_str()).collect();
                format!("unknown label `{s}` (labels: {})", names.join(", "))
            })
    }
}

/// The column naming a sample's psc case ([`PscCase::as_str`]).
pub const PSC_CASE: &str = "psc_case";
/// The 0/1 column that is 1 when the psc case is bad ([`PscCase::is_bad`]).
pub const BAD_CASE: &str = "bad_case";

/// The psc case of a sample: how its purchase relates to the cart behind it. The order
/// is the one in which a later case wins when several purchases reach one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub enum PscCase {
    #[default]
    NoPurchase,
    NoCart,
    SameVisit,
    LaterVisit,
    OtherVisit,
}

impl PscCase {
    /// Every case, in order.
    pub const ALL: [PscCase; 5] = [
        PscCase::NoPurchase,
        PscCase::NoCart,
        PscCase::SameVisit,
        PscCase::LaterVisit,
        PscCase::OtherVisit,
    ];

    /// The case's value in the `psc_case` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            PscCase::NoPurchase => "no_purchase",
            PscCase::NoCart => "no_cart",
            PscCase::SameVisit => "same_visit",
            PscCase::LaterVisit => "later_visit",
            PscCase::OtherVisit => "other_visit",
        }
    }

    /// Cart and purchase not in one visit: the sample's `bad_case` is 1.
    pub const fn is_bad(self) -> bool {
        matches!(self, PscCase::LaterVisit | PscCase::OtherVisit)
    }
}

impl fmt::Display for PscCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PscCase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PscCase::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = PscCase::ALL.iter().map(|c| c.as_str()).collect();
                format!("unknown psc case `{s}` (cases: {})", names.join(", "))
            })
    }
}

/// The tables `esmc sql` registers beside the raw log tables (those are named by
/// [`crate::Table::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlTable {
    /// The built sample partitions (`samples/dt=D/`).
    Samples,
    /// Every raw table's rejected rows with their reason (`quarantine/<table>/dt=D/`).
    Quarantine,
    /// One row per built day, from `samples/_manifests/`.
    Manifests,
    /// The trainer's evaluation metrics per run and day (`models/`).
    ModelMetrics,
}

impl SqlTable {
    pub const ALL: [SqlTable; 4] = [
        SqlTable::Samples,
        SqlTable::Quarantine,
        SqlTable::Manifests,
        SqlTable::ModelMetrics,
    ];

    /// The table's name in SQL.
    pub const fn as_str(self) -> &'static str {
        match self {
            SqlTable::Samples => "samples",
            SqlTable::Quarantine => "quarantine",
            SqlTable::Manifests => "manifests",
            SqlTable::ModelMetrics => "model_metrics",
        }
    }
}

impl fmt::Display for SqlTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnKind, SAMPLES};

    #[test]
    fn names_round_trip_and_match_the_sample_table() {
        for l in Label::ALL {
            assert_eq!(l.as_str().parse::<Label>(), Ok(l));
            let column = SAMPLES.column(l.as_str()).expect("a sample column");
            assert_eq!(column.kind, ColumnKind::Label);
        }
        for c in PscCase::ALL {
            assert_eq!(c.as_str().parse::<PscCase>(), Ok(c));
        }
        assert!("nope".parse::<Label>().is_err());
        assert!(SAMPLES.column(PSC_CASE).is_some() && SAMPLES.column(BAD_CASE).is_some());
        assert_eq!(SqlTable::Samples.as_str(), SAMPLES.name);
        let bad: Vec<_> = PscCase::ALL.into_iter().filter(|c| c.is_bad()).collect();
        assert_eq!(bad, [PscCase::LaterVisit, PscCase::OtherVisit]);
    }
}
