//! The contract of customers' codes, sessions and staff users: one TOTP secret per
//! customer, codes judged and bound as `tessera_core::one_time_code` says with the
//! records kept between calls, sessions revoked, staff logins throttled and disabled
//! users' sessions ended.

use crate::account::{CodeAnswer, CodeChange, Session, SessionKind, StaffUser};
use crate::contract::{ensure, t0, ContractResult};
use crate::port::Store;
use chrono::Duration;
use tessera_core::access::StaffRole;
use tessera_core::one_time_code::{code_hash, current_code, CodePurpose, CodeRefusal};
use tessera_core::otp::ThrottleState;

fn e(error: crate::StoreError) -> String {
    error.to_string()
}

async fn judged(
    store: &dyn Store,
    customer: &str,
    change: CodeChange,
) -> Result<Result<(), CodeRefusal>, String> {
    match store.customer_code(customer, change).await.map_err(e)? {
        CodeAnswer::Judged(verdict) => Ok(verdict),
        other => Err(format!("expected a verdict, got {other:?}")),
    }
}

fn redeem(code: &str, receipt: &str, now: i64) -> CodeChange {
    CodeChange::Redeem {
        code: code.into(),
        receipt_id: receipt.into(),
        now,
    }
}

/// TOTP and sent codes for redemption and sign-in, with the throttle.
pub async fn customer_codes(store: &dyn Store) -> ContractResult {
    let now = t0().timestamp() + 5;
    let first = store
        .customer_code("c1", CodeChange::EnsureSecret([9; 20]))
        .await
        .map_err(e)?;
    let again = store
        .customer_code("c1", CodeChange::EnsureSecret([1; 20]))
        .await
        .map_err(e)?;
    ensure(
        first == CodeAnswer::Secret(vec![9; 20]) && again == first,
        format!("one secret per customer: {first:?} {again:?}"),
    )?;
    let (code, _) = current_code(&[9; 20], now);
    ensure(
        judged(store, "c1", redeem(&code, "r1", now)).await? == Ok(()),
        "the app's code spends",
    )?;
    ensure(
        judged(store, "c1", redeem(&code, "r1", now + 1)).await? == Ok(()),
        "the same code again for the same receipt passes",
    )?;
    ensure(
        judged(store, "c1", redeem(&code, "r2", now + 2)).await? == Err(CodeRefusal::Used),
        "the same code for another receipt is used",
    )?;
    // Five wrong codes lock; the right code of the next step is refused while locked.
    for i in 0..5 {
        let verdict = judged(store, "c1", redeem("000000", "r3", now + 3 + i)).await?;
        ensure(
            verdict == Err(CodeRefusal::Invalid),
            format!("wrong code {i}: {verdict:?}"),
        )?;
    }
    let (next, _) = current_code(&[9; 20], now + 30);
    let verdict = judged(store, "c1", redeem(&next, "r3", now + 30)).await?;
    ensure(
        matches!(verdict, Err(CodeRefusal::Locked { retry_after }) if retry_after > 0),
        format!("locked after five wrong codes: {verdict:?}"),
    )?;
    let after_lock = now + 8 + 900;
    let (late, _) = current_code(&[9; 20], after_lock);
    ensure(
        judged(store, "c1", redeem(&late, "r3", after_lock)).await? == Ok(()),
        "after the lock a right code passes",
    )?;
    // A code sent by SMS, for customer c2 who has no app secret.
    store
        .customer_code(
            "c2",
            CodeChange::Send {
                purpose: CodePurpose::Redeem,
                code_hash: code_hash("c2", "123456"),
                expires_at: now + 300,
            },
        )
        .await
        .map_err(e)?;
    ensure(
        judged(store, "c2", redeem("123456", "s1", now)).await? == Ok(()),
        "the sent code spends",
    )?;
    ensure(
        judged(store, "c2", redeem("123456", "s2", now)).await? == Err(CodeRefusal::Used),
        "a sent code binds to its receipt",
    )?;
    ensure(
        judged(store, "c1", redeem("123456", "r9", now)).await? == Err(CodeRefusal::Invalid),
        "another customer's sent code is invalid",
    )?;
    // Sign-in codes are their own record: an expired one is refused.
    let send_login = CodeChange::Send {
        purpose: CodePurpose::Login,
        code_hash: code_hash("c2", "654321"),
        expires_at: now + 300,
    };
    store
        .customer_code("c2", send_login.clone())
        .await
        .map_err(e)?;
    let login = |code: &str, at: i64| CodeChange::Login {
        code: code.into(),
        now: at,
    };
    ensure(
        judged(store, "c2", login("654321", now + 300)).await? == Err(CodeRefusal::Expired),
        "a sign-in code expires",
    )?;
    store.customer_code("c2", send_login).await.map_err(e)?;
    ensure(
        judged(store, "c2", login("654321", now + 10)).await? == Ok(()),
        "sign-in",
    )?;
    ensure(
        judged(store, "c2", login("654321", now + 11)).await? == Err(CodeRefusal::Used),
        "a sign-in code works once",
    )
}

/// Sessions and staff users.
pub async fn sessions_and_staff(store: &dyn Store) -> ContractResult {
    let session = Session {
        token_hash: "h1".into(),
        kind: SessionKind::Staff,
        subject: "anna".into(),
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
        revoked_at: None,
    };
    store.put_session(session.clone()).await.map_err(e)?;
    store
        .put_session(Session {
            token_hash: "h2".into(),
            kind: SessionKind::Customer,
            subject: "c1".into(),
            ..session.clone()
        })
        .await
        .map_err(e)?;
    ensure(
        store.session("h1").await.map_err(e)? == Some(session.clone()),
        "a session reads back",
    )?;
    ensure(
        store.session("nope").await.map_err(e)?.is_none(),
        "no such session",
    )?;
    store
        .revoke_session("h2", t0() + Duration::hours(1))
        .await
        .map_err(e)?;
    let revoked = store.session("h2").await.map_err(e)?;
    ensure(
        revoked.is_some_and(|s| !s.active_at(t0() + Duration::hours(1)) && s.active_at(t0())),
        "a revoked session ends at its instant",
    )?;
    let user = StaffUser {
        username: "anna".into(),
        role: StaffRole::Service,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: t0(),
        disabled_at: None,
        throttle: ThrottleState::default(),
    };
    store.put_staff_user(user.clone()).await.map_err(e)?;
    ensure(
        store.staff_users().await.map_err(e)? == vec![user.clone()],
        "a staff user reads back",
    )?;
    let now = t0().timestamp();
    let mut state = None;
    for i in 0..5 {
        state = store
            .record_staff_login("anna", false, t0() + Duration::seconds(i))
            .await
            .map_err(e)?;
    }
    ensure(
        state.is_some_and(|s| s.locked_until.is_some_and(|until| until > now)),
        format!("five wrong passwords lock: {state:?}"),
    )?;
    ensure(
        store
            .record_staff_login("nobody", false, t0())
            .await
            .map_err(e)?
            .is_none(),
        "an unknown user is None",
    )?;
    store
        .put_staff_user(StaffUser {
            role: StaffRole::Auditor,
            disabled_at: Some(t0() + Duration::hours(2)),
            ..user
        })
        .await
        .map_err(e)?;
    let users = store.staff_users().await.map_err(e)?;
    ensure(
        users.len() == 1 && users[0].role == StaffRole::Auditor && users[0].disabled_at.is_some(),
        format!("the user is replaced: {users:?}"),
    )?;
    let ended = store.session("h1").await.map_err(e)?;
    ensure(
        ended.is_some_and(|s| s.revoked_at == Some(t0() + Duration::hours(2))),
        "disabling a user ends their sessions",
    )?;
    store
        .put_session(Session {
            token_hash: "h3".into(),
            kind: SessionKind::Customer,
            subject: "c9".into(),
            ..session
        })
        .await
        .map_err(e)?;
    store
        .forget_customer_access("c9", t0() + Duration::minutes(5))
        .await
        .map_err(e)?;
    store
        .put_session(Session {
            token_hash: "h4".into(),
            kind: SessionKind::Staff,
            subject: "boris".into(),
            ..session.clone()
        })
        .await
        .map_err(e)?;
    store
        .end_staff_sessions("boris", t0() + Duration::minutes(7))
        .await
        .map_err(e)?;
    let ended = store.session("h4").await.map_err(e)?;
    ensure(
        ended.is_some_and(|s| s.revoked_at == Some(t0() + Duration::minutes(7))),
        "a staff user's sessions end",
    )?;
    let forgotten = store.session("h3").await.map_err(e)?;
    ensure(
        forgotten.is_some_and(|s| s.revoked_at == Some(t0() + Duration::minutes(5))),
        "erasure ends the customer's sessions",
    )
}
