//! An independent implementation of the label contract for Taobao UserBehavior lines,
//! written from the contract's words and sharing no code with the pipeline: sessions by
//! a 30-minute gap over all of a user's events, post-click carts and wishes in the
//! click's visit, purchases to the last click of the same item within 3 days, psc cases
//! from the latest cart of the item within 3 days before the purchase. Each search is an
//! explicit backwards scan over the user's sorted events. Sample calibration in the
//! default `move` mode: an other_visit purchase's cart moves to the purchase's sample.
//!
//! The source lines are mapped as the importer documents it (a pv is an exposure one
//! second before its click; the exposure id is the line number), with the same drops
//! (malformed, outside the documented range, exact duplicates anywhere in the file, the
//! last user when asked).

use std::collections::{BTreeMap, HashMap, HashSet};

const GAP: i64 = 30 * 60;
const WINDOW: i64 = 3 * 86_400;
pub const FIRST_TS: i64 = 1_511_539_200;
pub const END_TS: i64 = 1_512_316_800;

/// Event kinds in the contract's tie order at equal timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Exposure,
    Click,
    Cart,
    Wish,
    Purchase,
}

#[derive(Debug, Clone, Copy)]
struct Ev {
    ts: i64,
    kind: Kind,
    item: i64,
    line: u64,
}

/// The expected labels of one sample (keyed by exposure id = line number).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    pub ts: i64,
    pub click: bool,
    pub cart: bool,
    pub wish: bool,
    pub purchase: bool,
    pub psc: &'static str,
    /// Seconds from the decisive cart to the exposure's UTC midnight, when the psc case
    /// came from a cart (for diagnosing a build window that starts too late).
    pub cart_ts: Option<i64>,
    /// Calibrated cart (move mode; every Taobao cart is rec-domain, so the global one
    /// is the same): the own cart unless moved away, or one moved here.
    pub cart_cal: bool,
    moved_here: bool,
    moved_away: bool,
}

const PSC_ORDER: [&str; 5] = [
    "no_purchase",
    "no_cart",
    "same_visit",
    "later_visit",
    "other_visit",
];

fn rank(p: &str) -> usize {
    PSC_ORDER.iter().position(|x| *x == p).expect("a psc case")
}

/// Counts of the source file, computed on their own.
#[derive(Debug, Default, PartialEq)]
pub struct SourceCounts {
    pub lines: u64,
    pub by_behavior: BTreeMap<String, u64>,
    pub malformed: u64,
    pub out_of_range: u64,
    pub duplicate: u64,
    pub last_user: u64,
}

/// A kept source row: `(line, user, item, behavior, ts)`.
pub type SourceRow = (u64, i64, i64, String, i64);

/// Well-formed, in-range, first-seen rows and counts.
pub fn rows(text: &str, drop_last_user: bool) -> (Vec<SourceRow>, SourceCounts) {
    let mut counts = SourceCounts::default();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        counts.lines += 1;
        let f: Vec<&str> = line.split(',').collect();
        let ok = f.len() == 5
            && f[..3]
                .iter()
                .chain([&f[4]])
                .all(|x| x.parse::<u64>().is_ok())
            && ["pv", "cart", "fav", "buy"].contains(&f[3]);
        if !ok {
            counts.malformed += 1;
            continue;
        }
        *counts.by_behavior.entry(f[3].to_string()).or_default() += 1;
        let ts: i64 = f[4].parse().unwrap();
        if !(FIRST_TS..END_TS).contains(&ts) {
            counts.out_of_range += 1;
            continue;
        }
        if !seen.insert(line.to_string()) {
            counts.duplicate += 1;
            continue;
        }
        let (u, it) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        out.push((i as u64 + 1, u, it, f[3].to_string(), ts));
    }
    if drop_last_user && let Some(&(_, last, ..)) = out.last() {
        let before = out.len();
        out.retain(|r| r.1 != last);
        counts.last_user = (before - out.len()) as u64;
    }
    (out, counts)
}

/// The expected labels of every exposure, by exposure id.
pub fn expected(rows: &[SourceRow]) -> HashMap<u64, Expected> {
    let mut by_user: HashMap<i64, Vec<Ev>> = HashMap::new();
    for (line, user, item, b, ts) in rows {
        let evs = by_user.entry(*user).or_default();
        let ev = |ts, kind| Ev {
            ts,
            kind,
            item: *item,
            line: *line,
        };
        match b.as_str() {
            "pv" => {
                evs.push(ev(ts - 1, Kind::Exposure));
                evs.push(ev(*ts, Kind::Click));
            }
            "cart" => evs.push(ev(*ts, Kind::Cart)),
            "fav" => evs.push(ev(*ts, Kind::Wish)),
            _ => evs.push(ev(*ts, Kind::Purchase)),
        }
    }
    let mut out = HashMap::new();
    for evs in by_user.values_mut() {
        evs.sort_by_key(|e| (e.ts, e.kind, e.item, e.line));
        user_labels(evs, &mut out);
    }
    out
}

fn user_labels(evs: &[Ev], out: &mut HashMap<u64, Expected>) {
    // the visit of each event: a new one after a gap of more than 30 minutes
    let mut visit = vec![0usize; evs.len()];
    for i in 1..evs.len() {
        visit[i] = visit[i - 1] + usize::from(evs[i].ts - evs[i - 1].ts > GAP);
    }
    for e in evs.iter().filter(|e| e.kind == Kind::Exposure) {
        out.insert(
            e.line,
            Expected {
                ts: e.ts,
                psc: "no_purchase",
                ..Expected::default()
            },
        );
    }
    // the latest event of `kind` on `item` before position i, optionally within 3 days
    let latest = |i: usize, kind: Kind, within: bool| -> Option<usize> {
        (0..i).rev().find(|&j| {
            evs[j].kind == kind
                && evs[j].item == evs[i].item
                && (!within || evs[i].ts - evs[j].ts <= WINDOW)
        })
    };
    for (i, e) in evs.iter().enumerate() {
        match e.kind {
            Kind::Click => out.get_mut(&e.line).expect("its exposure").click = true,
            Kind::Cart | Kind::Wish => {
                if let Some(c) = latest(i, Kind::Click, false).filter(|&c| visit[c] == visit[i]) {
                    let x = out.get_mut(&evs[c].line).expect("exposure");
                    if e.kind == Kind::Cart {
                        x.cart = true;
                    } else {
                        x.wish = true;
                    }
                }
            }
            Kind::Purchase => {
                let Some(c) = latest(i, Kind::Click, true) else {
                    continue;
                };
                let k = latest(i, Kind::Cart, true);
                let case = match k {
                    None => "no_cart",
                    Some(k) if visit[k] != visit[c] => "other_visit",
                    Some(_) if visit[i] == visit[c] => "same_visit",
                    Some(_) => "later_visit",
                };
                let x = out.get_mut(&evs[c].line).expect("exposure");
                x.purchase = true;
                if rank(case) >= rank(x.psc) {
                    x.psc = case;
                    x.cart_ts = k.map(|k| evs[k].ts);
                }
                if case == "other_visit" {
                    // sample calibration: the cart k moves to the purchase's sample, away
                    // from the sample k was attributed to (its click's, in k's visit)
                    x.moved_here = true;
                    let k = k.expect("other_visit has a cart");
                    if let Some(y) = latest(k, Kind::Click, false).filter(|&y| visit[y] == visit[k])
                    {
                        out.get_mut(&evs[y].line).expect("exposure").moved_away = true;
                    }
                }
            }
            Kind::Exposure => {}
        }
    }
    for e in evs.iter().filter(|e| e.kind == Kind::Exposure) {
        let x = out.get_mut(&e.line).expect("exposure");
        x.cart_cal = (x.cart && !x.moved_away) || x.moved_here;
    }
}
