//! Timestamps are stored as text in UTC with a fixed width, so text order is time order.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use tessera_store::StoreError;

/// The stored form of an instant: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as chrono's
/// `%Y-%m-%dT%H:%M:%S%.6fZ` writes it. Every commit and import row formats a few of
/// these, and chrono's format machinery was 5% of an import's writer thread, so the
/// usual instants are written digit by digit; other years and leap seconds go
/// through chrono.
pub fn ts(at: DateTime<Utc>) -> String {
    let year = at.year();
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    let mut out = [0u8; 27];
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for idx in (at..at + width).rev() {
            out[idx] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, at.second(), 2);
    put(20, nanos / 1000, 6);
    for (idx, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        out[idx] = sep;
    }
    out[26] = b'Z';
    out.iter().map(|&b| b as char).collect()
}

/// Parses a stored instant.
pub fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(StoreError::backend)
}

/// Parses a stored offset date-time (kept with the offset the till sent).
pub fn parse_offset(text: &str) -> Result<DateTime<FixedOffset>, StoreError> {
    DateTime::parse_from_rfc3339(text).map_err(StoreError::backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn chrono_ts(at: DateTime<Utc>) -> String {
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    #[test]
    fn edges_match_chrono() {
        let cases = [
            Utc.timestamp_opt(0, 0).single(),
            Utc.timestamp_opt(-62_167_219_200, 0).single(), // 0000-01-01
            Utc.timestamp_opt(253_402_300_799, 999_999_999).single(), // 9999-12-31T23:59:59
            Utc.timestamp_opt(253_402_300_800, 0).single(), // 10000-01-01: chrono's way
            Utc.timestamp_opt(-62_167_219_201, 0).single(), // year -1: chrono's way
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).single(), // a leap second
            Utc.timestamp_opt(1_700_000_000, 123_456_789).single(),
        ];
        for at in cases.into_iter().flatten() {
            assert_eq!(ts(at), chrono_ts(at), "{at:?}");
        }
        assert_eq!(
            ts(Utc
                .with_ymd_and_hms(2026, 3, 7, 9, 5, 1)
                .single()
                .unwrap_or_default()),
            "2026-03-07T09:05:01.000000Z"
        );
    }

    proptest! {
        #[test]
        fn matches_chrono(secs in -70_000_000_000i64..260_000_000_000, nanos in 0u32..1_000_000_000) {
            if let Some(at) = Utc.timestamp_opt(secs, nanos).single() {
                prop_assert_eq!(ts(at), chrono_ts(at));
                if (0..=9999).contains(&at.year()) {
                    let back = parse_ts(&ts(at)).map(|t| t.timestamp_micros()).ok();
                    prop_assert_eq!(back, Some(at.timestamp_micros()));
                }
            }
        }
    }
}
