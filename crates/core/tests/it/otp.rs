//! One-time codes: the RFC 4226 and RFC 6238 vectors, drift and replay, the throttle,
//! base32 (RFC 4648) and provisioning URIs.

use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha1::Sha1;
use tessera_core::otp::{
    base32_decode, base32_encode, hotp, provisioning_uri, totp_at, totp_at_digits, totp_step,
    verify, verify_digits, Attempt, Digits, OtpRefusal, Throttle, ThrottleState, MAX_DRIFT_STEPS,
};

/// The secret of both RFCs' test vectors.
const RFC_SECRET: &[u8] = b"12345678901234567890";

/// An instant in the middle of a step, so that drift tests are not off by one.
const AT: i64 = 1_700_000_015;

#[test]
fn hotp_matches_rfc_4226_appendix_d() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        assert_eq!(
            hotp(RFC_SECRET, counter as u64, Digits::SIX),
            *code,
            "{counter}"
        );
    }
}

#[test]
fn totp_matches_rfc_6238_appendix_b_sha1() {
    let table = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (at, code) in table {
        assert_eq!(totp_at_digits(RFC_SECRET, at, Digits::EIGHT), code, "{at}");
        // Six and seven digits are the same number cut shorter.
        assert_eq!(totp_at(RFC_SECRET, at), code[2..], "{at}");
        let seven = totp_at_digits(RFC_SECRET, at, Digits::new(7).unwrap());
        assert_eq!(seven, code[1..], "{at}");
    }
}

#[test]
fn digits_are_six_to_eight() {
    for n in [0, 5, 9, 10] {
        assert!(Digits::new(n).is_err(), "{n}");
    }
    for n in 6..=8 {
        assert_eq!(Digits::new(n).unwrap().get(), n);
    }
    assert_eq!(Digits::default(), Digits::SIX);
    assert_eq!(serde_json::to_string(&Digits::EIGHT).unwrap(), "8");
    assert_eq!(serde_json::from_str::<Digits>("7").unwrap().get(), 7);
    assert!(serde_json::from_str::<Digits>("9").is_err());
}

#[test]
fn steps_are_floored_30_second_periods() {
    assert_eq!(totp_step(0), 0);
    assert_eq!(totp_step(29), 0);
    assert_eq!(totp_step(30), 1);
    assert_eq!(totp_step(-1), -1);
    assert_eq!(totp_at(RFC_SECRET, 30), totp_at(RFC_SECRET, 59));
}

#[test]
fn the_current_code_verifies_and_returns_its_step() {
    let code = totp_at(RFC_SECRET, AT);
    assert_eq!(verify(RFC_SECRET, &code, AT, 1, None), Ok(totp_step(AT)));
    assert_eq!(verify(RFC_SECRET, &code, AT, 0, None), Ok(totp_step(AT)));
}

#[test]
fn one_step_of_drift_is_accepted_both_ways_and_two_are_refused() {
    let step = totp_step(AT);
    for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
        let code = totp_at(RFC_SECRET, AT + offset * 30);
        let expected = if accepted {
            Ok(step + offset)
        } else {
            Err(OtpRefusal::Invalid)
        };
        assert_eq!(verify(RFC_SECRET, &code, AT, 1, None), expected, "{offset}");
    }
    // A wider window accepts the two-step drift.
    let code = totp_at(RFC_SECRET, AT - 60);
    assert_eq!(verify(RFC_SECRET, &code, AT, 2, None), Ok(step - 2));
}

#[test]
fn the_drift_window_is_capped() {
    let far = i64::from(MAX_DRIFT_STEPS) + 1;
    let code = totp_at(RFC_SECRET, AT - far * 30);
    assert_eq!(
        verify(RFC_SECRET, &code, AT, u32::MAX, None),
        Err(OtpRefusal::Invalid)
    );
}

#[test]
fn a_replay_in_the_same_step_is_used() {
    let code = totp_at(RFC_SECRET, AT);
    let step = verify(RFC_SECRET, &code, AT, 1, None).unwrap();
    assert_eq!(
        verify(RFC_SECRET, &code, AT + 5, 1, Some(step)),
        Err(OtpRefusal::Used)
    );
    // Still used when presented in the next step, inside the drift window.
    assert_eq!(
        verify(RFC_SECRET, &code, AT + 30, 1, Some(step)),
        Err(OtpRefusal::Used)
    );
}

#[test]
fn an_older_code_after_a_newer_one_is_used() {
    let newer = totp_at(RFC_SECRET, AT + 30);
    let older = totp_at(RFC_SECRET, AT);
    let step = verify(RFC_SECRET, &newer, AT, 1, None).unwrap();
    assert_eq!(step, totp_step(AT) + 1);
    assert_eq!(
        verify(RFC_SECRET, &older, AT, 1, Some(step)),
        Err(OtpRefusal::Used)
    );
    // The next code after the used one is fine.
    let next = totp_at(RFC_SECRET, AT + 60);
    assert_eq!(
        verify(RFC_SECRET, &next, AT + 60, 1, Some(step)),
        Ok(step + 1)
    );
}

#[test]
fn wrong_and_malformed_codes_are_invalid() {
    let code = totp_at(RFC_SECRET, AT);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let eight = totp_at_digits(RFC_SECRET, AT, Digits::EIGHT);
    for presented in [
        wrong.as_str(),
        "",
        "12345",
        "1234567",
        "12a456",
        " 123456",
        "１２３４５６",
        &eight,
    ] {
        assert_eq!(
            verify(RFC_SECRET, presented, AT, 1, None),
            Err(OtpRefusal::Invalid),
            "{presented:?}"
        );
    }
    // An 8-digit program does not take the 6-digit tail of its code.
    assert_eq!(
        verify_digits(RFC_SECRET, &code, Digits::EIGHT, AT, 1, None),
        Err(OtpRefusal::Invalid)
    );
    assert_eq!(
        verify_digits(RFC_SECRET, &eight, Digits::EIGHT, AT, 1, None),
        Ok(totp_step(AT))
    );
    assert_eq!(OtpRefusal::Invalid.as_str(), "code_invalid");
    assert_eq!(OtpRefusal::Used.as_str(), "code_used");
}

fn throttle() -> Throttle {
    Throttle {
        max_failures: 3,
        window_seconds: 60,
        lockout_seconds: 300,
    }
}

#[test]
fn n_failures_in_the_window_lock_until_the_lockout_ends() {
    let throttle = throttle();
    let mut state = ThrottleState::default();
    assert_eq!(throttle.check(&state, 0), Attempt::Allowed);
    assert_eq!(throttle.record_failure(&mut state, 0), Attempt::Allowed);
    assert_eq!(throttle.record_failure(&mut state, 10), Attempt::Allowed);
    assert_eq!(
        throttle.record_failure(&mut state, 20),
        Attempt::Refused { retry_after: 300 }
    );
    assert_eq!(
        throttle.check(&state, 100),
        Attempt::Refused { retry_after: 220 }
    );
    // Failures during the lock neither count nor extend it.
    assert_eq!(
        throttle.record_failure(&mut state, 319),
        Attempt::Refused { retry_after: 1 }
    );
    assert_eq!(throttle.check(&state, 320), Attempt::Allowed);
    // After the lock the count starts afresh.
    assert_eq!(throttle.record_failure(&mut state, 320), Attempt::Allowed);
    assert_eq!(state.failures, 1);
}

#[test]
fn failures_spread_beyond_the_window_do_not_lock() {
    let throttle = throttle();
    let mut state = ThrottleState::default();
    for at in [0, 30, 60, 90, 120, 150] {
        // Each window of 60 s holds at most two failures.
        assert_eq!(
            throttle.record_failure(&mut state, at),
            Attempt::Allowed,
            "{at}"
        );
    }
}

#[test]
fn a_success_resets_the_count() {
    let throttle = throttle();
    let mut state = ThrottleState::default();
    throttle.record_failure(&mut state, 0);
    throttle.record_failure(&mut state, 1);
    throttle.record_success(&mut state);
    assert_eq!(state, ThrottleState::default());
    assert_eq!(throttle.record_failure(&mut state, 2), Attempt::Allowed);
    assert_eq!(throttle.record_failure(&mut state, 3), Attempt::Allowed);
    assert!(matches!(
        throttle.record_failure(&mut state, 4),
        Attempt::Refused { .. }
    ));
}

#[test]
fn throttle_settings_must_be_positive() {
    assert!(Throttle::default().validate().is_ok());
    assert!(throttle().validate().is_ok());
    for bad in [
        Throttle {
            max_failures: 0,
            ..throttle()
        },
        Throttle {
            window_seconds: 0,
            ..throttle()
        },
        Throttle {
            lockout_seconds: -1,
            ..throttle()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

#[test]
fn base32_matches_rfc_4648_section_10() {
    let table = [
        ("", "", ""),
        ("f", "MY", "MY======"),
        ("fo", "MZXQ", "MZXQ===="),
        ("foo", "MZXW6", "MZXW6==="),
        ("foob", "MZXW6YQ", "MZXW6YQ="),
        ("fooba", "MZXW6YTB", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI", "MZXW6YTBOI======"),
    ];
    for (plain, unpadded, padded) in table {
        assert_eq!(base32_encode(plain.as_bytes()), unpadded);
        assert_eq!(base32_decode(unpadded).unwrap(), plain.as_bytes());
        assert_eq!(base32_decode(padded).unwrap(), plain.as_bytes());
        assert_eq!(
            base32_decode(&unpadded.to_lowercase()).unwrap(),
            plain.as_bytes()
        );
    }
    assert_eq!(
        base32_encode(RFC_SECRET),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
}

#[test]
fn base32_refuses_what_no_bytes_encode_to() {
    // A bad character, impossible lengths, and non-zero leftover bits ("MZ" would be
    // "f" plus a stray bit).
    for text in [
        "M0",
        "M1",
        "M8",
        "MZXW6Y!B",
        "MZ XW6YTB",
        "M",
        "MZX",
        "MZXW6Y",
        "MZ",
        "MZXR",
    ] {
        assert!(base32_decode(text).is_err(), "{text}");
    }
}

#[test]
fn the_provisioning_uri_percent_encodes_the_label() {
    let uri = provisioning_uri("Tessera Shop", "ann+1@example.com", RFC_SECRET, Digits::SIX);
    assert_eq!(
        uri.unwrap(),
        "otpauth://totp/Tessera%20Shop:ann%2B1%40example.com\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tessera%20Shop&period=30&digits=6"
    );
    let uri = provisioning_uri("Café", "+79001234567", RFC_SECRET, Digits::EIGHT).unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Caf%C3%A9:%2B79001234567?"),
        "{uri}"
    );
    assert!(uri.ends_with("&digits=8"), "{uri}");
}

#[test]
fn the_provisioning_uri_refuses_colons_empty_parts_and_short_secrets() {
    for (issuer, account, secret) in [
        ("Shop:A", "ann", RFC_SECRET),
        ("Shop", "ann:1", RFC_SECRET),
        ("", "ann", RFC_SECRET),
        ("Shop", "", RFC_SECRET),
        ("Shop", "ann", &RFC_SECRET[..15]),
    ] {
        assert!(
            provisioning_uri(issuer, account, secret, Digits::SIX).is_err(),
            "{issuer} {account}"
        );
    }
}

/// The HOTP code computed the plain way, with the hmac crate handling the key.
fn reference_hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes(hash[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", binary % 1_000_000)
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn base32_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let text = base32_encode(&bytes);
        prop_assert_eq!(text.len(), (bytes.len() * 8).div_ceil(5));
        prop_assert_eq!(base32_decode(&text).unwrap(), bytes);
    }

    #[test]
    fn keys_of_any_length_give_the_reference_code(
        secret in prop::collection::vec(any::<u8>(), 0..150),
        counter in any::<u64>(),
    ) {
        prop_assert_eq!(hotp(&secret, counter, Digits::SIX), reference_hotp(&secret, counter));
    }

    #[test]
    fn a_code_verifies_once_within_the_drift(
        secret in prop::collection::vec(any::<u8>(), 20),
        at in 0i64..4_000_000_000,
        offset in -1i64..=1,
    ) {
        let code = totp_at(&secret, at + offset * 30);
        let step = verify(&secret, &code, at, 1, None).unwrap();
        prop_assert!(step >= totp_step(at) + offset);
        prop_assert_eq!(verify(&secret, &code, at, 1, Some(step)), Err(OtpRefusal::Used));
    }
}
