//! The feature stage's inputs: DataFusion cleans and deduplicates the history of the
//! feature tables and streams out the events the as-of merges need, the prior-day
//! counts and the samples' keys (`sql/builder/features_*.sql`); `features/` sorts them
//! (spilling into the build's spill directory) and computes the columns.

use super::Builder;
use super::plan::FEATURE_TABLES;
use crate::BuildError;
use crate::features::{self, FeatureTable};
use chrono::NaiveDate;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use std::path::Path;
use std::time::Instant;

/// The samples' keys the merges need, in sample_id order.
const TARGETS_SQL: &str = "SELECT s.sample_id, arrow_cast(s.ts, 'Int64') AS ts, \
    CAST(s.user_id AS BIGINT) AS user_id, CAST(s.item_id AS BIGINT) AS item_id, \
    CAST(i.category_id AS BIGINT) AS category_id \
    FROM labelled s LEFT JOIN dim_item i ON s.item_id = i.item_id ORDER BY s.sample_id";

impl Builder {
    /// The feature columns of `day`'s samples (registered as `labelled`), in a spill
    /// file under `spill`.
    pub(super) async fn features(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        spill: &Path,
    ) -> Result<FeatureTable, BuildError> {
        // daily aggregates: the days before D come summed from `features/daily/`, only
        // D's own logs are read raw (build/daily.rs); else the whole history is read
        let history = if self.use_daily() {
            let t = Instant::now();
            let h = self.daily_history(ctx, day).await?;
            self.register_history(ctx, &h).await?;
            features::trace("daily aggregates", t);
            Some(h)
        } else {
            None
        };
        let first = if history.is_some() {
            day
        } else {
            self.feature_first(day)
        };
        self.register_feature_events(ctx, day, first).await?;
        // each input streams out of DataFusion straight into the stage (sorted, or
        // spilled to `spill`): nothing here holds a whole day of rows
        let stream = |sql: String| async move {
            Ok::<SendableRecordBatchStream, BuildError>(
                ctx.sql(&sql).await?.execute_stream().await?,
            )
        };
        let budget = self
            .opts
            .feature_memory
            .unwrap_or(self.opts.memory_limit / 2);
        let t = Instant::now();
        let mut events_sql = format!(
            "SELECT kind, ts, user_id, item_id, category_id, age FROM feat_events \
             WHERE age = 0 OR kind <> {}",
            features::EXPOSURE
        );
        if let Some(acts) = history.as_deref().and_then(|h| self.history_acts_sql(h)) {
            events_sql = format!("{events_sql} UNION ALL {acts}");
        }
        let events = features::sort_events(stream(events_sql).await?, spill, budget).await?;
        features::trace("events (SQL, sorted)", t);
        let prior = match &history {
            Some(h) => self.daily_prior(day, h, spill)?,
            None => {
                let sql = include_str!("../../../sql/builder/features_prior.sql")
                    .replace("{counts}", &self.prior_counts_sql().join(",\n       "));
                features::split_prior(stream(sql).await?, &self.cfg.features, spill).await?
            }
        };
        features::trace("prior counts (SQL)", t);
        let targets =
            features::spill_targets(stream(TARGETS_SQL.to_string()).await?, spill).await?;
        features::trace("samples (SQL)", t);
        let gather_secs = t.elapsed().as_secs_f64();
        let mut table =
            features::compute(&self.cfg.features, events, prior, targets, spill, budget)?;
        table.gather_secs = gather_secs;
        Ok(table)
    }

    /// Registers `feat_good_<table>` (the good rows of [first, day], deduplicated, with
    /// `dt`) for the feature tables, and `feat_events` over them, each row tagged with
    /// its partition's age (D = 0).
    async fn register_feature_events(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        first: NaiveDate,
    ) -> Result<(), BuildError> {
        for table in FEATURE_TABLES {
            let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
            let cols = columns.join(", ");
            let clean = ctx.sql(&self.clean_sql(table, first, day)).await?;
            ctx.register_table(format!("feat_clean_{}", table.name()), clean.into_view())?;
            let good = ctx
                .sql(&format!(
                    "SELECT DISTINCT {cols}, dt FROM feat_clean_{} WHERE reject_reason IS NULL",
                    table.name()
                ))
                .await?;
            ctx.register_table(format!("feat_good_{}", table.name()), good.into_view())?;
        }
        let mut age = String::from("CASE e.dt");
        let mut d = first;
        while d <= day {
            age.push_str(&format!(" WHEN '{d}' THEN {}", (day - d).num_days()));
            d = d.succ_opt().expect("valid day");
        }
        age.push_str(" END");
        let events = ctx
            .sql(&include_str!("../../../sql/builder/features_events.sql").replace("{age}", &age))
            .await?;
        ctx.register_table("feat_events", events.into_view())?;
        Ok(())
    }

    /// The prior counts' columns: per counter and window, `{counter}_{w}d`, the events
    /// of that kind at most `w` days old.
    fn prior_counts_sql(&self) -> Vec<String> {
        let mut counts = Vec::new();
        for (name, kind) in features::COUNTERS {
            for w in &self.cfg.features.windows_days {
                counts.push(format!(
                    "CAST(SUM(CASE WHEN kind = {kind} AND age <= {w} THEN 1 ELSE 0 END) AS INT) AS {name}_{w}d"
                ));
            }
        }
        counts
    }
}
