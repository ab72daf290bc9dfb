//! A search: a query on a category (often one the user clicked lately), its results page
//! and the path a purchase through it takes.

use super::{Life, SEARCH};
use crate::sink::{DAY_US, ShardSink};
use crate::{PurchasePath, SimError};

impl Life<'_> {
    /// A search purchase counts as `other_visit` when the user clicked the item in the
    /// feed within the last three days (the purchase attributes to that click).
    pub(super) fn search_path(&self, item: u32) -> PurchasePath {
        let window = 3 * DAY_US;
        if self
            .recent_clicks
            .iter()
            .any(|&(i, at)| i == item && self.t - at <= window)
        {
            PurchasePath::OtherVisitSearch
        } else {
            PurchasePath::SearchOnly
        }
    }

    pub(super) fn search(
        &mut self,
        sink: &mut ShardSink<'_>,
        session: i64,
    ) -> Result<(), SimError> {
        self.advance(5, 60);
        let recall = (!self.recent_clicks.is_empty()
            && self.rng.bernoulli(self.b.search_recall_share))
        .then(|| self.recent_clicks[self.rng.index(self.recent_clicks.len())].0);
        let category = match recall {
            Some(item) => self.catalog.items[item as usize].category,
            None => {
                let best = (0..8)
                    .map(|_| self.rng.from_cdf(&self.catalog.popularity_cdf))
                    .max_by(|&x, &y| {
                        self.user
                            .affinity(self.catalog, x)
                            .total_cmp(&self.user.affinity(self.catalog, y))
                    })
                    .expect("eight candidates");
                self.catalog.items[best].category
            }
        };
        let pool = &self.catalog.by_category[category as usize];
        let n = (self.b.search_results as usize).min(pool.len());
        let mut results: Vec<u32> = Vec::with_capacity(n);
        if let Some(item) = recall {
            results.push(item);
        }
        let top = pool.len().min(50);
        for _ in 0..4 * n {
            if results.len() >= n {
                break;
            }
            let item = pool[self.rng.index(top)];
            if !results.contains(&item) {
                results.push(item);
            }
        }
        let clicked = self.show_page(sink, session, &results, SEARCH)?;
        for (exposure, item, p_cart, a) in clicked {
            self.click(sink, exposure, item)?;
            if !self.in_cart(item) {
                self.detail_page(sink, item, p_cart, a, true)?;
            }
        }
        Ok(())
    }
}
