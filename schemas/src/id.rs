//! The one mapping of a string ID to the `Int64` esmc carries ([`id_from_str`]), used by
//! every reader of the builder (Parquet string columns, CSV, NDJSON) and by `esmc sql`'s
//! `esmc_id()`, so that the same string maps to the same ID in every table and file.
//!
//! ```text
//!  "42", "-7", "+007"   ── decimal integer that fits i64 ──> its value (42, -7, 7)
//!  "u_8f3a", UUIDs, …   ── FNV-1a 64 of the UTF-8 bytes, top bit set ──> i64 < 0
//!  "", "  "             ── null
//! ```

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The `Int64` ID of a string ID, or `None` for an empty (or all-whitespace) string.
///
/// Leading and trailing ASCII whitespace is ignored, then:
///
/// * a decimal integer — an optional `+` or `-`, then one or more ASCII digits — whose
///   value fits `i64` maps to that value (`"42"` → 42, `"-7"` → -7, `"007"` → 7): string
///   IDs of digits read exactly as they always have, and as the integer IDs they stand
///   for;
/// * any other string maps to `(fnv1a64(bytes) | 1 << 63) as i64`: the 64-bit FNV-1a hash
///   (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`; for each byte,
///   `h = (h ^ byte) * prime` wrapping) of its UTF-8 bytes with the top bit set, so a
///   negative number. Hashed IDs never collide with non-negative integer IDs; two
///   distinct hashed strings collide with probability 2^-63, about n²/2^64 among n
///   distinct strings (about 5e-8 for a million, 5e-6 for ten million).
///
/// The definition is fixed: it does not depend on the platform, the build or the
/// version of any library (tested against fixed values).
pub fn id_from_str(s: &str) -> Option<i64> {
    let s = s.trim_ascii();
    if s.is_empty() {
        return None;
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match s.parse::<i64>() {
        Ok(v) if integer => Some(v),
        _ => Some(hashed_id(s.as_bytes())),
    }
}

/// The hashed branch of [`id_from_str`]: FNV-1a 64 of `bytes` with the top bit set.
pub fn hashed_id(bytes: &[u8]) -> i64 {
    (fnv1a64(bytes) | 1 << 63) as i64
}

/// FNV-1a, 64 bits, of `bytes`: esmc's one byte-string hash (offset basis
/// `0xcbf29ce484222325`, prime `0x100000001b3`; for each byte `h = (h ^ byte) * prime`,
/// wrapping). Fixed: it depends on no platform, build or library version.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The SplitMix64 finaliser: a fixed bijection of `u64` that spreads every input bit
/// over the output (Steele, Lea and Flood's constants). esmc's one integer mixer: the
/// builder's session ids, and a SplitMix64 generator's output step.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_integers_keep_their_value() {
        assert_eq!(id_from_str("42"), Some(42));
        assert_eq!(id_from_str("0"), Some(0));
        assert_eq!(id_from_str("-7"), Some(-7));
        assert_eq!(id_from_str("+007"), Some(7));
        assert_eq!(id_from_str(" 12 "), Some(12));
        assert_eq!(id_from_str("9223372036854775807"), Some(i64::MAX));
        assert_eq!(id_from_str("-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn mix64_is_the_splitmix64_finaliser() {
        // SplitMix64 seeded with 0: its first output is mix64(0x9e3779b97f4a7c15)
        assert_eq!(mix64(0x9e37_79b9_7f4a_7c15), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix64(0), 0);
    }

    #[test]
    fn empty_is_null() {
        assert_eq!(id_from_str(""), None);
        assert_eq!(id_from_str("  \t"), None);
    }

    /// Fixed values, computed once by a reference:
    /// ```python
    /// def f(s):
    ///     h = 0xcbf29ce484222325
    ///     for b in s.encode():
    ///         h ^= b; h = (h * 0x100000001b3) & (2**64 - 1)
    ///     return h
    /// struct.unpack('<q', struct.pack('<Q', f(s) | 1 << 63))[0]
    /// ```
    /// (`f("a")` = 0xaf63dc4c8601ec8c and `f("foobar")` = 0x85944171f73967e8 are FNV-1a's
    /// published test vectors.)
    #[test]
    fn other_strings_hash_to_fixed_negative_values() {
        assert_eq!(id_from_str("a"), Some(-5808556873153909620));
        assert_eq!(id_from_str("foobar"), Some(-8821353812377114648));
        assert_eq!(id_from_str("u_8f3a"), Some(-5163780481812918789));
        assert_eq!(
            id_from_str("123e4567-e89b-12d3-a456-426614174000"),
            Some(-8240251207228331585)
        );
        // digits that overflow i64 are a string like any other
        assert_eq!(
            id_from_str("9223372036854775808"),
            Some(-590260884831411150)
        );
        // surrounding whitespace is ignored, inner is not
        assert_eq!(id_from_str(" u_8f3a\t"), Some(-5163780481812918789));
        for s in ["-", "+", "1.5", "1e3", "0x1f", "- 1", "١٢"] {
            assert!(id_from_str(s).unwrap() < 0, "{s}");
        }
    }
}
