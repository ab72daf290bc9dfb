//! The (user, item) features: whether the item is in the user's cart at the sample's
//! time, and the seconds since the user last clicked and carted it.

use super::events::Event;
use super::windows::by_key;
use crate::BuildError;
use crate::config::FeatureConfig;
use crate::external::Sorted;
use arrow::array::{ArrayRef, Float32Array, Int8Array, Int64Array};
use esmc_schemas::time::DAY_US;
use std::sync::Arc;

/// (user, item) recency for a chunk: the latest click, cart and purchase strictly
/// before t, one merge of the chunk and those events (every age), both sorted by
/// (user, item, ts). Returns the in-cart flag and the seconds since the click and cart.
pub(super) fn recency(
    cfg: &FeatureConfig,
    user: &Int64Array,
    item: &Int64Array,
    ts: &Int64Array,
    acts: &Sorted<Event<2>>,
) -> Result<Vec<ArrayRef>, BuildError> {
    let n = ts.len();
    let samples = by_key([user, item], ts);
    let ttl = cfg.cart_ttl_days as i64 * DAY_US;
    let mut in_cart = vec![0i8; n];
    let mut since_click = vec![None; n];
    let mut since_cart = vec![None; n];
    let mut ev = acts.cursor()?;
    let mut last: [Option<i64>; 4] = [None; 4];
    let mut last_key = None;
    let secs = |t: i64, e: i64| ((t - e) as f64 / 1e6) as f32;
    for &(k, t, i) in &samples {
        while let Some(&(ek, et, c)) = ev.peek() {
            if (ek, et) >= (k, t) {
                break;
            }
            if last_key != Some(ek) {
                last = [None; 4];
                last_key = Some(ek);
            }
            last[c as usize] = Some(et);
            ev.advance()?;
        }
        if last_key != Some(k) {
            continue;
        }
        let i = i as usize;
        let [_, click, cart, buy] = last;
        in_cart[i] = match cart {
            Some(c) if t - c <= ttl => buy.is_none_or(|b| b < c) as i8,
            _ => 0,
        };
        since_click[i] = click.map(|c| secs(t, c));
        since_cart[i] = cart.map(|c| secs(t, c));
    }
    Ok(vec![
        Arc::new(Int8Array::from(in_cart)),
        Arc::new(Float32Array::from(since_click)),
        Arc::new(Float32Array::from(since_cart)),
    ])
}
