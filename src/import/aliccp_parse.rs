//! Ali-CCP's text format and the in-memory index of its common features.
//!
//! ```text
//!  skeleton: sample_id,click,conversion,common_feature_index,feature_num,feature_list
//!  common:   common_feature_index,feature_num,feature_list
//!  feature_list: field \x02 feature_id \x03 value, entries joined by \x01
//! ```
//! Of every field esmc keeps the feature id of its first entry (the multi-valued user
//! history fields 109_14, 110_14, 127_14 and 150_14 keep their first id; the rows where
//! a kept field had several entries are counted). The common file is loaded into a map
//! from a 64-bit hash of the key to the 23 kept ids, 8 bytes each.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The 23 fields kept as sparse features, in the order of the sample columns.
pub const FIELDS: [&str; 23] = [
    "101", "109_14", "110_14", "127_14", "150_14", "121", "122", "124", "125", "126", "127", "128",
    "129", "205", "206", "207", "210", "216", "508", "509", "702", "853", "301",
];

/// A field absent from a row.
pub const MISSING: i64 = i64::MIN;

/// The kept feature ids of one row (or one common key), [`MISSING`] where absent.
pub type Values = [i64; 23];

/// The sample column of a field: `f101`, `f109_14`, ...
pub fn column_name(field: &str) -> String {
    format!("f{field}")
}

fn field_index(name: &[u8]) -> Option<usize> {
    FIELDS.iter().position(|f| f.as_bytes() == name)
}

fn int(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses a feature list into `values` (fields not yet set only). Returns the number of
/// entries, or `None` when an entry is malformed. `multi` is set when a kept field has
/// more than one entry.
pub fn parse_features(list: &[u8], values: &mut Values, multi: &mut bool) -> Option<usize> {
    if list.is_empty() {
        return Some(0);
    }
    let mut seen = [false; 23];
    let mut n = 0;
    for entry in list.split(|&b| b == 0x01) {
        let mut parts = entry.splitn(2, |&b| b == 0x02);
        let field = parts.next()?;
        let rest = parts.next()?;
        let mut parts = rest.splitn(2, |&b| b == 0x03);
        let id = int(parts.next()?)?;
        let value = parts.next()?;
        std::str::from_utf8(value).ok()?.parse::<f64>().ok()?;
        n += 1;
        if let Some(i) = field_index(field) {
            if seen[i] {
                *multi = true;
            } else {
                seen[i] = true;
                if values[i] == MISSING {
                    values[i] = id;
                }
            }
        }
    }
    Some(n)
}

/// The 64-bit key of a common feature index (SipHash with fixed keys: deterministic).
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(key);
    h.finish()
}

/// The common features: key hash -> kept ids, and what loading them met.
#[derive(Default)]
pub struct Common {
    pub map: HashMap<u64, Values>,
    pub lines: u64,
    pub malformed: u64,
    pub duplicate_keys: u64,
    pub multi_valued: u64,
}

/// Strips `\n` and `\r\n`.
pub fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

/// Parses one common line: (key, feature_num, values).
fn common_line(line: &[u8], multi: &mut bool) -> Option<(u64, Values)> {
    let mut parts = line.splitn(3, |&b| b == b',');
    let key = parts.next()?;
    let num: usize = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let list = parts.next()?;
    let mut values = [MISSING; 23];
    let n = parse_features(list, &mut values, multi)?;
    (!key.is_empty() && n == num).then_some((key_hash(key), values))
}

impl Common {
    /// Reads the whole common file; `advance` gets the bytes read as it goes.
    pub fn load(path: &Path, advance: &dyn Fn(u64)) -> Result<Common> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut common = Common::default();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("reading {}", path.display()))?;
            if read == 0 {
                break;
            }
            advance(read as u64);
            common.lines += 1;
            let mut multi = false;
            match common_line(trim_end(&buf), &mut multi) {
                None => common.malformed += 1,
                Some((key, values)) => {
                    common.multi_valued += multi as u64;
                    if common.map.insert(key, values).is_some() {
                        common.duplicate_keys += 1;
                    }
                }
            }
        }
        Ok(common)
    }
}

/// One skeleton row.
#[derive(Debug, PartialEq)]
pub struct Skeleton {
    pub sample_id: i64,
    pub click: bool,
    pub conversion: bool,
    pub key: u64,
    pub values: Values,
    pub multi: bool,
}

/// Parses a skeleton line; `None` when malformed (wrong field count, labels not 0/1, a
/// conversion without a click, a bad feature entry, or feature_num not the entry count).
pub fn skeleton_line(line: &[u8]) -> Option<Skeleton> {
    let mut parts = line.splitn(6, |&b| b == b',');
    let sample_id = int(parts.next()?)?;
    let label = |s: &[u8]| match s {
        b"0" => Some(false),
        b"1" => Some(true),
        _ => None,
    };
    let click = label(parts.next()?)?;
    let conversion = label(parts.next()?)?;
    let key = parts.next()?;
    let num: usize = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let list = parts.next()?;
    let mut values = [MISSING; 23];
    let mut multi = false;
    let n = parse_features(list, &mut values, &mut multi)?;
    if n != num || key.is_empty() || (conversion && !click) {
        return None;
    }
    Some(Skeleton {
        sample_id,
        click,
        conversion,
        key: key_hash(key),
        values,
        multi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_skeleton_line_in_the_real_format() {
        let line = b"7,1,0,abc,3,205\x0211\x031.0\x01301\x021\x031\x01999\x025\x030.5";
        let s = skeleton_line(line).unwrap();
        assert_eq!((s.sample_id, s.click, s.conversion), (7, true, false));
        assert_eq!(s.values[13], 11);
        assert_eq!(s.values[22], 1);
        assert_eq!(s.values[0], MISSING);
        assert_eq!(s.key, key_hash(b"abc"));
        for bad in [
            &b"7,1,0,abc,2,205\x0211\x031.0"[..],
            b"7,0,1,abc,1,205\x0211\x031.0",
            b"7,2,0,abc,1,205\x0211\x031.0",
            b"7,1,0,abc,1,205\x0211",
            b"7,1,0,abc,1,205\x02x\x031",
            b"7,1,0,abc",
        ] {
            assert!(
                skeleton_line(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_first_entry_of_a_multi_valued_field_is_kept() {
        let mut v = [MISSING; 23];
        let mut multi = false;
        let n = parse_features(b"109_14\x024\x031\x01109_14\x025\x031", &mut v, &mut multi);
        assert_eq!(n, Some(2));
        assert_eq!(v[1], 4);
        assert!(multi);
    }
}
