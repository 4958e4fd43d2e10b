//! Rate limits (GCRA): a burst at once, then one request per interval, refusals
//! telling how long to wait, and a model check against counting requests.

use proptest::prelude::*;
use tessera_core::rate::{retry_after_seconds, Rate};

#[test]
fn a_burst_passes_then_one_per_interval() {
    let rate = Rate {
        burst: 3,
        interval_ms: 1000,
    };
    let mut tat = 0;
    let now = 1_000_000;
    for _ in 0..3 {
        rate.admit(&mut tat, now).unwrap();
    }
    assert_eq!(rate.admit(&mut tat, now), Err(1000));
    assert_eq!(rate.admit(&mut tat, now + 400), Err(600));
    rate.admit(&mut tat, now + 1000).unwrap();
    assert_eq!(rate.admit(&mut tat, now + 1000), Err(1000));
    // A long pause refills the whole burst, no more.
    let later = now + 60_000;
    for _ in 0..3 {
        rate.admit(&mut tat, later).unwrap();
    }
    assert!(rate.admit(&mut tat, later).is_err());
}

#[test]
fn a_refusal_leaves_the_state_alone() {
    let rate = Rate {
        burst: 1,
        interval_ms: 500,
    };
    let mut tat = 0;
    rate.admit(&mut tat, 10_000).unwrap();
    let before = tat;
    for _ in 0..10 {
        assert!(rate.admit(&mut tat, 10_100).is_err());
    }
    assert_eq!(tat, before);
    rate.admit(&mut tat, 10_500).unwrap();
}

#[test]
fn retry_after_is_whole_seconds_rounded_up() {
    assert_eq!(retry_after_seconds(1), 1);
    assert_eq!(retry_after_seconds(1000), 1);
    assert_eq!(retry_after_seconds(1001), 2);
    assert_eq!(retry_after_seconds(0), 1);
    assert_eq!(retry_after_seconds(59_999), 60);
}

#[test]
fn validation_names_the_field() {
    let zero = Rate {
        burst: 0,
        interval_ms: 10,
    };
    assert_eq!(
        zero.validate("limit").unwrap_err().field.as_deref(),
        Some("limit.burst")
    );
    let slow = Rate {
        burst: 1,
        interval_ms: 86_400_001,
    };
    assert_eq!(
        slow.validate("limit").unwrap_err().field.as_deref(),
        Some("limit.interval_ms")
    );
    Rate::per_second(50, 100).validate("limit").unwrap();
}

proptest! {
    /// In any window of `w` ms starting at a request, at most `burst + w / interval`
    /// requests are admitted, and a refused request is admitted after its wait.
    #[test]
    fn never_more_than_the_burst_plus_the_refill(
        burst in 1u32..10,
        interval_ms in 1i64..2000,
        gaps in proptest::collection::vec(0i64..1500, 1..200),
    ) {
        let rate = Rate { burst, interval_ms };
        let mut tat = 0;
        let mut now = 5_000_000;
        let mut admitted = Vec::new();
        for gap in gaps {
            now += gap;
            match rate.admit(&mut tat, now) {
                Ok(()) => admitted.push(now),
                Err(wait) => {
                    prop_assert!(wait > 0);
                    let mut probe = tat;
                    prop_assert!(rate.admit(&mut probe, now + wait).is_ok());
                    let mut early = tat;
                    prop_assert!(rate.admit(&mut early, now + wait - 1).is_err());
                }
            }
        }
        for (i, start) in admitted.iter().enumerate() {
            for (j, end) in admitted.iter().enumerate().skip(i) {
                let span = end - start;
                let count = (j - i + 1) as i64;
                prop_assert!(count <= i64::from(burst) + span / interval_ms,
                    "{count} admitted within {span} ms");
            }
        }
    }
}
