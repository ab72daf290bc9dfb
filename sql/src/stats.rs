//! The daily health check behind `esmc stats --dt D`.
//!
//! ```text
//!  samples, dt in [D-7, D] ─> mean of every 0/1 label per day
//!      ─> per label: rate on D vs the mean of the daily rates of [D-7, D-1] (days that
//!         have samples) ─> relative change ─> flagged when |change| > threshold
//!  catalogue queries marked @health, bound to from = D-7, to = D ─> printed sections
//! ```
//!
//! Like is compared with like. Labels that late purchases still change (`purchase`,
//! `cart_cal`, `cart_global_cal`, `bad_case`: [`WINDOW_LABELS`]) are not final until a
//! day is mature (its attribution window's logs exist). On a provisional D they are shown
//! but kept out of the alarm (the report says so); on a mature D their trailing mean is
//! taken over the mature trailing days only. Other labels compare with every trailing day.
//! Maturity comes from the manifests (a day without one counts as mature).
//!
//! The trailing mean is the unweighted mean of the daily rates (each day counts once,
//! whatever its size). A label whose trailing mean is 0 is flagged when its rate on D is
//! not 0 (an infinite relative move). Days before D without samples are skipped; with no
//! trailing day at all nothing can be flagged, which the report says.

use crate::catalogue::Catalogue;
use crate::error::{Result, SqlError};
use crate::warehouse::run_sql;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use esmc_schemas::{ColumnKind, SAMPLES};
use std::collections::BTreeMap;

/// Days before D whose rates make the trailing mean.
pub const TRAILING_DAYS: u64 = 7;

/// Labels that purchases arriving within the attribution window still change: final only
/// once a day is mature.
pub const WINDOW_LABELS: &[&str] = &["purchase", "cart_cal", "cart_global_cal", "bad_case"];

/// One label's move on the checked day.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelCheck {
    pub label: &'static str,
    /// Mean of the label over D's samples.
    pub rate: f64,
    /// Unweighted mean of the daily rates of the trailing days, if there were any.
    pub trailing_mean: Option<f64>,
    /// rate / trailing_mean - 1 (infinite when the mean is 0 and the rate is not).
    pub change: Option<f64>,
    pub flagged: bool,
    /// D is provisional and this label still changes with late purchases: shown, never
    /// flagged.
    pub held_back: bool,
}

/// What `esmc stats` reports.
#[derive(Debug, Clone)]
pub struct Health {
    pub dt: NaiveDate,
    pub threshold: f64,
    /// Samples of D.
    pub samples: u64,
    /// Trailing days that had samples.
    pub trailing_days: Vec<NaiveDate>,
    /// Whether D's labels are provisional (its attribution window is not over).
    pub provisional: bool,
    /// Trailing days left out of the means of [`WINDOW_LABELS`] because they are
    /// provisional (on a mature D).
    pub provisional_trailing: Vec<NaiveDate>,
    pub checks: Vec<LabelCheck>,
    /// The `@health` catalogue queries over [D-7, D], by name, in catalogue order.
    pub sections: Vec<(String, Vec<RecordBatch>)>,
}

impl Health {
    pub fn flagged(&self) -> impl Iterator<Item = &LabelCheck> {
        self.checks.iter().filter(|c| c.flagged)
    }
}

fn labels() -> Vec<&'static str> {
    SAMPLES
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Label)
        .map(|c| c.name)
        .collect()
}

/// Runs the daily health check of `dt` with a relative `threshold`.
pub async fn daily_health(
    ctx: &SessionContext,
    catalogue: &Catalogue,
    dt: NaiveDate,
    threshold: f64,
) -> Result<Health> {
    let first = dt - chrono::Days::new(TRAILING_DAYS);
    let labels = labels();
    let mut by_day = label_rates_by_day(ctx, &labels, first, dt).await?;
    let today = by_day.remove(&dt).ok_or(SqlError::NoSamples { dt })?;
    let trailing_days: Vec<NaiveDate> = by_day.keys().copied().collect();
    let provisional_days = provisional_days(ctx, first, dt).await?;
    let provisional = provisional_days.contains(&dt);
    let provisional_trailing: Vec<NaiveDate> = match provisional {
        true => Vec::new(),
        false => trailing_days
            .iter()
            .copied()
            .filter(|d| provisional_days.contains(d))
            .collect(),
    };
    let checks = labels
        .iter()
        .enumerate()
        .map(|(i, &label)| {
            let window = WINDOW_LABELS.contains(&label);
            let rates: Vec<f64> = by_day
                .iter()
                .filter(|(d, _)| !window || !provisional_trailing.contains(d))
                .map(|(_, v)| v[i + 1])
                .collect();
            check(
                label,
                today[i + 1],
                &rates,
                threshold,
                window && provisional,
            )
        })
        .collect();

    let sections = health_sections(ctx, catalogue, first, dt).await?;
    Ok(Health {
        dt,
        threshold,
        samples: today[0] as u64,
        trailing_days,
        provisional,
        provisional_trailing,
        checks,
        sections,
    })
}

/// The sample count and every label's mean rate of each day in `first..=dt`.
async fn label_rates_by_day(
    ctx: &SessionContext,
    labels: &[&'static str],
    first: NaiveDate,
    dt: NaiveDate,
) -> Result<BTreeMap<NaiveDate, Vec<f64>>> {
    let rates: Vec<String> = labels
        .iter()
        .map(|l| format!("avg(CAST({l} AS DOUBLE)) AS {l}"))
        .collect();
    let sql = format!(
        "SELECT dt, CAST(count(*) AS DOUBLE) AS samples, {}\nFROM samples\n\
         WHERE dt BETWEEN '{first}' AND '{dt}'\nGROUP BY dt ORDER BY dt",
        rates.join(", ")
    );
    let mut by_day: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
    for batch in run_sql(ctx, &sql).await? {
        let days = batch.column(0).as_string::<i32>();
        for row in 0..batch.num_rows() {
            let day = NaiveDate::parse_from_str(days.value(row), "%Y-%m-%d")
                .map_err(|e| SqlError::Internal(format!("dt `{}`: {e}", days.value(row))))?;
            let values = (1..batch.num_columns())
                .map(|c| {
                    let col = batch.column(c).as_primitive::<Float64Type>();
                    if col.is_null(row) {
                        0.0
                    } else {
                        col.value(row)
                    }
                })
                .collect();
            by_day.insert(day, values);
        }
    }
    Ok(by_day)
}

/// The catalogue queries marked `@health`, bound to `from = first`, `to = dt`.
async fn health_sections(
    ctx: &SessionContext,
    catalogue: &Catalogue,
    first: NaiveDate,
    dt: NaiveDate,
) -> Result<Vec<(String, Vec<RecordBatch>)>> {
    let from = first.to_string();
    let to = dt.to_string();
    let mut sections = Vec::new();
    for q in catalogue.queries().iter().filter(|q| q.health) {
        let params: Vec<(String, String)> = q
            .params
            .iter()
            .filter_map(|p| match p.name.as_str() {
                "from" => Some(("from".to_string(), from.clone())),
                "to" => Some(("to".to_string(), to.clone())),
                _ => None,
            })
            .collect();
        let sql = q.bind(&params)?;
        sections.push((q.name.clone(), run_sql(ctx, &sql).await?));
    }
    Ok(sections)
}

/// One label's move: `rate` against the mean of the trailing `rates`.
fn check(
    label: &'static str,
    rate: f64,
    rates: &[f64],
    threshold: f64,
    held_back: bool,
) -> LabelCheck {
    let trailing_mean = (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64);
    let change = trailing_mean.map(|m| match (m == 0.0, rate == 0.0) {
        (true, true) => 0.0,
        (true, false) => f64::INFINITY,
        _ => rate / m - 1.0,
    });
    LabelCheck {
        label,
        rate,
        trailing_mean,
        change,
        flagged: !held_back && change.is_some_and(|c| c.abs() > threshold),
        held_back,
    }
}

/// The days of [first, last] whose manifest says `provisional`.
async fn provisional_days(
    ctx: &SessionContext,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<NaiveDate>> {
    let sql = format!(
        "SELECT CAST(dt AS VARCHAR) FROM manifests \
         WHERE maturity = 'provisional' AND dt BETWEEN '{first}' AND '{last}'"
    );
    let mut out = Vec::new();
    for batch in run_sql(ctx, &sql).await? {
        let days = batch.column(0).as_string::<i32>();
        for row in 0..batch.num_rows() {
            if let Ok(d) = NaiveDate::parse_from_str(days.value(row), "%Y-%m-%d") {
                out.push(d);
            }
        }
    }
    Ok(out)
}
