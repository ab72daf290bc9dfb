//! The table contracts of `docs/labels.md`: raw logs and dimensions and
//! the sample table.

use crate::column::{ColumnKind as K, ColumnSpec};
use crate::names::{BAD_CASE, Label, PSC_CASE, SqlTable};
use arrow::datatypes::{Schema, SchemaRef};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

const fn req(name: &'static str, kind: K, doc: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: true,
        doc,
    }
}
const fn opt(name: &'static str, kind: K, doc: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: false,
        doc,
    }
}

const TS: &str = "Event time, microseconds, UTC. Required.";
const USER: &str = "The user. Required.";
const ITEM: &str = "The item. Required.";

/// The micro actions that count as D-Mi (deterministic micro behaviour) by default.
pub const DMI_ACTIONS: &[&str] = &["picture", "qa", "chat", "comment", "cart_button"];

/// A table contract: its name, meaning and columns in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// Table name: the directory name under `logs/` for raw tables.
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    /// Columns in canonical order (required first where the contract lists them so).
    pub columns: &'static [ColumnSpec],
}

impl TableSpec {
    /// The column called `name`, if the contract has one.
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Required columns, in order.
    pub fn required(&self) -> impl Iterator<Item = &'static ColumnSpec> {
        self.columns.iter().filter(|c| c.required)
    }

    /// Every contract column with its canonical type, all nullable: the columns of a
    /// raw row as read (log readers) or as rejected (quarantine), before any check.
    pub fn nullable_fields(&self) -> Vec<arrow::datatypes::Field> {
        self.columns
            .iter()
            .map(|c| c.field().with_nullable(true))
            .collect()
    }

    /// The canonical Arrow schema (every contract column, canonical types).
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(ColumnSpec::field)
                .collect::<Vec<_>>(),
        ))
    }
}

static EXPOSURE: TableSpec = TableSpec {
    name: "exposure",
    doc: "One item shown to one user in one slot of a feed or result page.",
    columns: &[
        req("exposure_id", K::Id, "Unique id of the exposure. Required."),
        req("ts", K::Timestamp, TS),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        req(
            "domain",
            K::Text,
            "Where the item was shown: `rec` (recommendation feed), `search`, ... Samples \
             come from `rec`. Required.",
        ),
        opt(
            "position",
            K::Int32,
            "Slot in the page, 1 = first. Nullable.",
        ),
        opt(
            "request_id",
            K::Id,
            "The page request that showed it. Nullable.",
        ),
        opt(
            "session_id",
            K::Id,
            "Client-provided visit id; a change starts a new session. Nullable.",
        ),
        opt(
            "truth_p_click",
            K::Float64,
            "Simulator only: the probability of a click the world used. Nullable.",
        ),
        opt(
            "truth_p_cart",
            K::Float64,
            "Simulator only: the probability of a cart given a click. Nullable.",
        ),
        opt(
            "truth_p_cvr",
            K::Float64,
            "Simulator only: the probability that a click on this exposure leads to a \
             purchase through it (post-click conversion). Nullable.",
        ),
    ],
};

static CLICK: TableSpec = TableSpec {
    name: "click",
    doc: "One click on an item, opening its detail page.",
    columns: &[
        req("ts", K::Timestamp, TS),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        opt(
            "exposure_id",
            K::Id,
            "The clicked exposure; when present it decides the attribution. Nullable.",
        ),
    ],
};

static MICRO: TableSpec = TableSpec {
    name: "micro",
    doc: "One micro behaviour on an item's detail page.",
    columns: &[
        req("ts", K::Timestamp, TS),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        req(
            "action",
            K::Text,
            "The action: picture, qa, chat, comment, cart_button (the default D-Mi set), \
             or others such as share, shop_home. Required.",
        ),
    ],
};

static CART: TableSpec = TableSpec {
    name: "cart",
    doc: "One add-to-cart.",
    columns: &[
        req("ts", K::Timestamp, TS),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        req(
            "domain",
            K::Text,
            "Where the add came from: rec, search, other. Required.",
        ),
    ],
};

static WISH: TableSpec = TableSpec {
    name: "wish",
    doc: "One add-to-wish-list (favourite).",
    columns: &[
        req("ts", K::Timestamp, TS),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        req(
            "domain",
            K::Text,
            "Where the add came from: rec, search, other. Required.",
        ),
    ],
};

static PURCHASE: TableSpec = TableSpec {
    name: "purchase",
    doc: "One item line of a paid order.",
    columns: &[
        req("ts", K::Timestamp, TS),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        req("order_id", K::Id, "The order. Required."),
        opt(
            "amount",
            K::Float64,
            "Paid amount, currency units, never negative. Nullable.",
        ),
        opt("quantity", K::Int32, "Units bought. Nullable."),
    ],
};

static USER_DIM: TableSpec = TableSpec {
    name: "user",
    doc: "Daily snapshot of user profiles.",
    columns: &[
        req("user_id", K::Id, USER),
        opt("age_bucket", K::Int32, "Age bucket 0-6. Nullable."),
        opt("gender", K::Int32, "0 unknown, 1, 2. Nullable."),
        opt("city", K::Int32, "City id. Nullable."),
        opt(
            "purchase_power",
            K::Int32,
            "Spending level 1 (low) - 5 (high). Nullable.",
        ),
    ],
};

static ITEM_DIM: TableSpec = TableSpec {
    name: "item",
    doc: "Daily snapshot of item attributes.",
    columns: &[
        req("item_id", K::Id, ITEM),
        opt("category_id", K::Id, "Leaf category. Nullable."),
        opt("shop_id", K::Id, "Shop selling the item. Nullable."),
        opt("brand_id", K::Id, "Brand. Nullable."),
        opt("price", K::Float64, "List price, currency units. Nullable."),
    ],
};

/// The sample table: one row per rec-domain exposure of the day, with every label.
pub static SAMPLES: TableSpec = TableSpec {
    name: SqlTable::Samples.as_str(),
    doc: "One row per rec-domain exposure of day D with every label of the model family.",
    columns: &[
        req(
            "sample_id",
            K::Id,
            "Unique, deterministic id of the sample (derived from the exposure). Rows are \
             sorted by it. Required.",
        ),
        req(
            "exposure_id",
            K::Id,
            "The exposure the sample is. Required.",
        ),
        req(
            "ts",
            K::Timestamp,
            "Exposure time, microseconds, UTC. Required.",
        ),
        req("user_id", K::Id, USER),
        req("item_id", K::Id, ITEM),
        opt("position", K::Int32, "Slot of the exposure. Nullable."),
        req(
            "session_id",
            K::Id,
            "The visit (session) of the exposure. Required.",
        ),
        req(
            Label::Click.as_str(),
            K::Label,
            "1 when a click is attributed to the exposure.",
        ),
        req(
            Label::Dmi.as_str(),
            K::Label,
            "1 when a D-Mi micro action follows the click in its visit.",
        ),
        req(
            Label::Cart.as_str(),
            K::Label,
            "1 when a cart (any domain) follows the click in its visit.",
        ),
        req(
            Label::Wish.as_str(),
            K::Label,
            "1 when a wish follows the click in its visit.",
        ),
        req(
            Label::Dma.as_str(),
            K::Label,
            "cart OR wish (ESM²'s DAction, HM³'s D-Ma).",
        ),
        req(
            Label::Purchase.as_str(),
            K::Label,
            "1 when a purchase is attributed to the sample.",
        ),
        req(
            Label::CartCal.as_str(),
            K::Label,
            "Cart label after ESMC's sample calibration, rec-domain carts.",
        ),
        req(
            Label::CartGlobalCal.as_str(),
            K::Label,
            "Cart label after sample calibration, carts of every domain (ESMG).",
        ),
        req(
            PSC_CASE,
            K::Text,
            "no_purchase, no_cart, same_visit, later_visit or other_visit (docs/labels.md).",
        ),
        req(
            BAD_CASE,
            K::Label,
            "1 when psc_case is later_visit or other_visit.",
        ),
        opt(
            "truth_p_click",
            K::Float64,
            "Simulator truth, passed through. Nullable.",
        ),
        opt(
            "truth_p_cart",
            K::Float64,
            "Simulator truth, passed through. Nullable.",
        ),
        opt(
            "truth_p_cvr",
            K::Float64,
            "Simulator truth, passed through. Nullable.",
        ),
    ],
};

/// Columns of the sample table that are labels: never allowed as model features.
pub const LABEL_COLUMNS: &[&str] = &[
    Label::Click.as_str(),
    Label::Dmi.as_str(),
    Label::Cart.as_str(),
    Label::Wish.as_str(),
    Label::Dma.as_str(),
    Label::Purchase.as_str(),
    Label::CartCal.as_str(),
    Label::CartGlobalCal.as_str(),
    PSC_CASE,
    BAD_CASE,
    "truth_p_click",
    "truth_p_cart",
    "truth_p_cvr",
];

/// The raw tables of the warehouse (`logs/<name>/dt=.../`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Exposure,
    Click,
    Micro,
    Cart,
    Wish,
    Purchase,
    User,
    Item,
}

impl Table {
    /// The timestamped event tables.
    pub const EVENTS: [Table; 6] = [
        Table::Exposure,
        Table::Click,
        Table::Micro,
        Table::Cart,
        Table::Wish,
        Table::Purchase,
    ];

    /// Every raw table, event tables first, then dimensions.
    pub const ALL: [Table; 8] = [
        Table::Exposure,
        Table::Click,
        Table::Micro,
        Table::Cart,
        Table::Wish,
        Table::Purchase,
        Table::User,
        Table::Item,
    ];

    /// The table's contract.
    pub fn spec(self) -> &'static TableSpec {
        match self {
            Table::Exposure => &EXPOSURE,
            Table::Click => &CLICK,
            Table::Micro => &MICRO,
            Table::Cart => &CART,
            Table::Wish => &WISH,
            Table::Purchase => &PURCHASE,
            Table::User => &USER_DIM,
            Table::Item => &ITEM_DIM,
        }
    }

    /// Directory name under `logs/`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Whether rows are timestamped events (as opposed to dimension snapshots).
    pub fn is_event(self) -> bool {
        !matches!(self, Table::User | Table::Item)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Table::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
                format!("unknown table `{s}` (tables: {})", names.join(", "))
            })
    }
}
