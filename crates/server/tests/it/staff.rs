//! Staff users: roles reach what their scopes reach, passwords are checked with
//! Argon2id, wrong passwords lock, disabled users' sessions end, changes are audited
//! under the user's name.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    app.post(
        "/v1/staff/login",
        &json!({"username": username, "password": password}),
    )
    .await
}

#[tokio::test]
async fn staff_sign_in_and_reach_what_their_role_allows() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    for (username, role) in [
        ("anna", "service"),
        ("mark", "marketer"),
        ("olga", "auditor"),
    ] {
        let (status, out) = app
            .post(
                "/v1/staff-users",
                &json!({"username": username, "role": role, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!((status, out["role"].as_str()), (201, Some(role)), "{out}");
        assert!(out.get("password_hash").is_none());
    }
    assert_error(
        &app.post(
            "/v1/staff-users",
            &json!({"username": "anna", "role": "admin", "password": "another long one"}),
        )
        .await,
        409,
        "staff_user_taken",
    );
    for (body, field) in [
        (
            json!({"username": "Anna!", "role": "service", "password": "correct horse battery"}),
            "username",
        ),
        (
            json!({"username": "vera", "role": "root", "password": "correct horse battery"}),
            "role",
        ),
        (
            json!({"username": "vera", "role": "service", "password": "short"}),
            "password",
        ),
    ] {
        assert_eq!(
            assert_error(
                &app.post("/v1/staff-users", &body).await,
                422,
                "invalid_field"
            )
            .as_deref(),
            Some(field)
        );
    }
    let (status, out) = login(&app, "anna", "correct horse battery").await;
    assert_eq!(
        (status, out["role"].as_str()),
        (200, Some("service")),
        "{out}"
    );
    let anna = out["token"].as_str().unwrap().to_string();
    assert!(anna.starts_with("tss_"));
    assert_eq!(
        app.with_token(&anna, Method::GET, "/v1/merge-candidates", None)
            .await
            .0,
        200
    );
    let customer = app
        .create_customer(json!({"name": "Vera", "cards": ["7009"]}))
        .await;
    let adjust = json!({"idempotency_key": "a-1", "points": 50, "reason": "lost receipt"});
    let (status, _) = app
        .with_token(
            &anna,
            Method::POST,
            &format!("/v1/customers/{customer}/adjustments"),
            Some(&adjust),
        )
        .await;
    assert_eq!(status, 201);
    assert_error(
        &app.with_token(&anna, Method::GET, "/v1/audit", None).await,
        403,
        "forbidden",
    );
    assert_error(
        &app.with_token(&anna, Method::PUT, "/v1/program", Some(&json!({})))
            .await,
        403,
        "forbidden",
    );

    let (_, out) = login(&app, "olga", "correct horse battery").await;
    let olga = out["token"].as_str().unwrap().to_string();
    let (status, audit) = app
        .with_token(&olga, Method::GET, "/v1/audit?action=customer.adjust", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["entries"][0]["actor"], "anna");
    assert_eq!(audit["entries"][0]["actor_kind"], "user");
    assert_eq!(audit["entries"][0]["after"]["points"], 50);
    assert_error(
        &app.with_token(
            &olga,
            Method::GET,
            &format!("/v1/customers/{customer}"),
            None,
        )
        .await,
        403,
        "forbidden",
    );
    assert_eq!(
        app.with_token(&olga, Method::GET, "/v1/promotions", None)
            .await
            .0,
        200
    );

    let (_, out) = login(&app, "mark", "correct horse battery").await;
    let mark = out["token"].as_str().unwrap().to_string();
    let promotion = json!({"name": "Spring", "effects": [{"type": "amount_off", "amount": 5000}]});
    assert_eq!(
        app.with_token(
            &mark,
            Method::PUT,
            "/v1/promotions/spring",
            Some(&promotion)
        )
        .await
        .0,
        200
    );
    assert_error(
        &app.with_token(&mark, Method::POST, "/v1/staff-users", Some(&json!({})))
            .await,
        403,
        "forbidden",
    );

    // Logout ends a session; disabling a user ends all of theirs.
    assert_eq!(
        app.with_token(&mark, Method::POST, "/v1/staff/logout", None)
            .await
            .0,
        204
    );
    assert_error(
        &app.with_token(&mark, Method::GET, "/v1/promotions", None)
            .await,
        401,
        "unauthorized",
    );
    let (status, out) = app
        .send(
            Method::PATCH,
            "/v1/staff-users/anna",
            Some(br#"{"disabled":true}"#.to_vec()),
            Some(&format!("Bearer {TOKEN}")),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    assert_error(
        &app.with_token(&anna, Method::GET, "/v1/merge-candidates", None)
            .await,
        401,
        "unauthorized",
    );
    assert_error(
        &login(&app, "anna", "correct horse battery").await,
        401,
        "unauthorized",
    );
    let (_, users) = app.get("/v1/staff-users").await;
    assert_eq!(users["users"].as_array().unwrap().len(), 3);
    assert!(users["users"][0]["disabled_at"].is_string(), "{users}");
}

#[tokio::test]
async fn wrong_passwords_lock_the_user_and_say_nothing_about_names() {
    let app = spawn_app().await;
    app.post(
        "/v1/staff-users",
        &json!({"username": "anna", "role": "admin", "password": "correct horse battery"}),
    )
    .await;
    let unknown = login(&app, "nobody", "correct horse battery").await;
    let wrong = login(&app, "anna", "wrong horse battery").await;
    assert_eq!(assert_error(&unknown, 401, "unauthorized"), None);
    assert_eq!(unknown.1["error"]["message"], wrong.1["error"]["message"]);
    // An unknown name locks after as many wrong passwords as a real one.
    for _ in 0..4 {
        assert_error(
            &login(&app, "nobody", "correct horse battery").await,
            401,
            "unauthorized",
        );
    }
    assert_error(
        &login(&app, "nobody", "correct horse battery").await,
        429,
        "rate_limited",
    );
    for _ in 0..4 {
        assert_error(
            &login(&app, "anna", "wrong horse battery").await,
            401,
            "unauthorized",
        );
    }
    assert_error(
        &login(&app, "anna", "correct horse battery").await,
        429,
        "rate_limited",
    );
    let (_, users) = app.get("/v1/staff-users").await;
    assert!(users["users"][0]["locked_until"].is_string(), "{users}");
    app.clock.advance(chrono::Duration::minutes(16));
    let (_, out) = login(&app, "anna", "correct horse battery").await;
    let old_token = out["token"].as_str().unwrap().to_string();
    // A new password unlocks, replaces the old one and signs out its sessions.
    let patch = br#"{"password":"a brand new passphrase"}"#.to_vec();
    let (status, _) = app
        .send(
            Method::PATCH,
            "/v1/staff-users/anna",
            Some(patch),
            Some(&format!("Bearer {TOKEN}")),
        )
        .await;
    assert_eq!(status, 200);
    assert_error(
        &login(&app, "anna", "correct horse battery").await,
        401,
        "unauthorized",
    );
    assert_eq!(login(&app, "anna", "a brand new passphrase").await.0, 200);
    let response = app
        .with_token(&old_token, Method::GET, "/v1/staff-users", None)
        .await;
    assert_error(&response, 401, "unauthorized");
    let (_, audit) = app.get("/v1/audit?action=staff_user").await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["after"]["password_changed"], true);
    assert!(
        !audit.to_string().contains("argon2"),
        "no hash in the audit log"
    );
}
