//! Time as esmc carries it: microseconds since the Unix epoch, UTC, and the days the
//! warehouse is partitioned by.

use chrono::NaiveDate;

/// One second in microseconds.
pub const SECOND_US: i64 = 1_000_000;
/// One day in microseconds.
pub const DAY_US: i64 = 86_400 * SECOND_US;

/// UTC midnight starting `day`, microseconds since the epoch.
pub fn day_start_us(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_utc_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        assert_eq!(day_start_us(d), 1_793_577_600_000_000);
        assert_eq!(
            day_start_us(d.succ_opt().unwrap()) - day_start_us(d),
            DAY_US
        );
    }
}
