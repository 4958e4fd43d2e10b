//! Redemption and sign-in codes: TOTP codes bound to one receipt, sent codes that
//! expire and work once, and the throttle on wrong codes.

use tessera_core::one_time_code::{
    code_hash, current_code, judge_login, judge_redeem, sent_code_from_random, CodeRecord,
    CodeRefusal, SentCode, TotpRecord,
};
use tessera_core::otp::Throttle;

const SECRET: [u8; 20] = [7; 20];
const NOW: i64 = 1_700_000_015;

fn totp() -> TotpRecord {
    TotpRecord {
        secret: SECRET.to_vec(),
        last_step: None,
        last_receipt: None,
    }
}

fn redeem(
    totp: &mut TotpRecord,
    record: &mut CodeRecord,
    code: &str,
    receipt: &str,
    at: i64,
) -> Result<(), CodeRefusal> {
    judge_redeem(
        Some(totp),
        record,
        "c1",
        code,
        receipt,
        at,
        &Throttle::default(),
    )
}

#[test]
fn an_app_code_spends_once_for_one_receipt() {
    let (mut totp, mut record) = (totp(), CodeRecord::default());
    let (code, ends) = current_code(&SECRET, NOW);
    assert!(ends > NOW && ends - NOW <= 30);
    assert_eq!(redeem(&mut totp, &mut record, &code, "r1", NOW), Ok(()));
    assert_eq!(
        redeem(&mut totp, &mut record, &code, "r1", NOW + 20),
        Ok(()),
        "a retry of the receipt"
    );
    assert_eq!(
        redeem(&mut totp, &mut record, &code, "r2", NOW + 20),
        Err(CodeRefusal::Used)
    );
    // One step of drift either way, no more.
    let (next, _) = current_code(&SECRET, NOW + 30);
    assert_eq!(
        redeem(&mut totp, &mut record, &next, "r2", NOW),
        Ok(()),
        "a till clock a step behind"
    );
    let (old, _) = current_code(&SECRET, NOW - 90);
    assert_eq!(
        redeem(&mut totp, &mut record, &old, "r3", NOW),
        Err(CodeRefusal::Invalid)
    );
    // After a newer step was used, the older code is used up even for its receipt.
    assert_eq!(
        redeem(&mut totp, &mut record, &code, "r1", NOW + 21),
        Err(CodeRefusal::Used)
    );
}

#[test]
fn a_code_expires_after_its_step_and_the_drift() {
    let (mut totp, mut record) = (totp(), CodeRecord::default());
    let (code, ends) = current_code(&SECRET, NOW);
    assert_eq!(
        redeem(&mut totp, &mut record, &code, "r1", ends + 29),
        Ok(())
    );
    let (mut fresh, mut record) = (self::totp(), CodeRecord::default());
    assert_eq!(
        redeem(&mut fresh, &mut record, &code, "r1", ends + 30),
        Err(CodeRefusal::Invalid)
    );
}

#[test]
fn wrong_codes_lock_and_a_right_code_clears_the_count() {
    let (mut totp, mut record) = (totp(), CodeRecord::default());
    for i in 0..4 {
        assert_eq!(
            redeem(&mut totp, &mut record, "000000", "r", NOW + i),
            Err(CodeRefusal::Invalid)
        );
    }
    let (code, _) = current_code(&SECRET, NOW + 5);
    assert_eq!(redeem(&mut totp, &mut record, &code, "r", NOW + 5), Ok(()));
    assert_eq!(record.throttle.failures, 0);
    for i in 0..5 {
        assert_eq!(
            redeem(&mut totp, &mut record, "000001", "s", NOW + 6 + i),
            Err(CodeRefusal::Invalid)
        );
    }
    let (code, _) = current_code(&SECRET, NOW + 40);
    assert!(matches!(
        redeem(&mut totp, &mut record, &code, "s", NOW + 40),
        Err(CodeRefusal::Locked { retry_after }) if retry_after > 800
    ));
    // Malformed codes count as wrong too.
    let mut other = CodeRecord::default();
    for text in ["", "12345", "1234567", "abcdef"] {
        assert_eq!(
            judge_redeem(None, &mut other, "c1", text, "r", NOW, &Throttle::default()),
            Err(CodeRefusal::Invalid)
        );
    }
    assert_eq!(other.throttle.failures, 4);
}

fn sent(code: &str, expires_at: i64) -> CodeRecord {
    CodeRecord {
        sent: Some(SentCode {
            code_hash: code_hash("c1", code),
            expires_at,
            used_for: None,
        }),
        throttle: Default::default(),
    }
}

#[test]
fn a_sent_code_binds_to_its_receipt_and_expires() {
    let mut record = sent("482913", NOW + 300);
    let throttle = Throttle::default();
    assert_eq!(
        judge_redeem(None, &mut record, "c1", "482913", "r1", NOW, &throttle),
        Ok(())
    );
    assert_eq!(
        judge_redeem(None, &mut record, "c1", "482913", "r1", NOW + 1, &throttle),
        Ok(())
    );
    assert_eq!(
        judge_redeem(None, &mut record, "c1", "482913", "r2", NOW + 2, &throttle),
        Err(CodeRefusal::Used)
    );
    let mut late = sent("482913", NOW + 300);
    assert_eq!(
        judge_redeem(None, &mut late, "c1", "482913", "r1", NOW + 300, &throttle),
        Err(CodeRefusal::Expired)
    );
    assert_eq!(
        late.throttle.failures, 0,
        "an expired right code is no guess"
    );
    // The hash is bound to the customer.
    let mut theirs = sent("482913", NOW + 300);
    assert_eq!(
        judge_redeem(None, &mut theirs, "c2", "482913", "r1", NOW, &throttle),
        Err(CodeRefusal::Invalid)
    );
    assert_ne!(code_hash("c1", "482913"), code_hash("c2", "482913"));
}

#[test]
fn a_sign_in_code_works_once() {
    let mut record = sent("000042", NOW + 300);
    let throttle = Throttle::default();
    assert_eq!(
        judge_login(&mut record, "c1", "000042", NOW, &throttle),
        Ok(())
    );
    assert_eq!(
        judge_login(&mut record, "c1", "000042", NOW, &throttle),
        Err(CodeRefusal::Used)
    );
    assert_eq!(
        judge_login(&mut record, "c1", "000043", NOW, &throttle),
        Err(CodeRefusal::Invalid)
    );
    assert_eq!(sent_code_from_random(42), "000042");
    assert_eq!(sent_code_from_random(4_294_967_295), "967295");
}

#[test]
fn wrong_sign_in_codes_lock_even_the_right_one() {
    let mut record = sent("000042", NOW + 300);
    let throttle = Throttle::default();
    for i in 0..5 {
        assert_eq!(
            judge_login(&mut record, "c1", "999999", NOW + i, &throttle),
            Err(CodeRefusal::Invalid)
        );
    }
    assert!(matches!(
        judge_login(&mut record, "c1", "000042", NOW + 10, &throttle),
        Err(CodeRefusal::Locked { .. })
    ));
    assert_eq!(record.sent.as_ref().and_then(|s| s.used_for.clone()), None);
}
